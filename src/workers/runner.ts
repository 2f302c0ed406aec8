import type { Logger } from 'pino';

/** A piece of background work a worker repeats, every `intervalMs`, until it is stopped. */
export interface PeriodicTask {
  name: string;
  intervalMs: number;
  run(signal: AbortSignal): Promise<void>;
  /** Lets the task cut its wait short when work arrives (new mail announced by IDLE). */
  onWake?(listener: () => void): void;
}

export interface RunningWorker {
  /** Lets the current runs finish, starts no new one, and resolves when all have ended. */
  stop(): Promise<void>;
}

/**
 * A failing task waits twice as long each time, up to this, or its own interval when that is
 * longer: a broken dependency is not hammered, and once it is back (a database outage) work resumes
 * within seconds. Unbounded doubling kept a 5-second heartbeat away for 80 s after an outage, long
 * enough for the other workers to take the worker for dead.
 */
export const MAX_BACKOFF_MS = 10_000;

/** How long a task waits before its next run, after `failures` failed runs in a row. */
export function backoffMs(intervalMs: number, failures: number): number {
  return Math.min(intervalMs * 2 ** failures, Math.max(intervalMs, MAX_BACKOFF_MS));
}

function sleep(ms: number, signal: AbortSignal, woken: { listener: (() => void) | null }): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    woken.listener = done;
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      woken.listener = null;
      resolve();
    }
  });
}

async function loop(task: PeriodicTask, signal: AbortSignal, logger: Logger): Promise<void> {
  const woken: { listener: (() => void) | null } = { listener: null };
  task.onWake?.(() => woken.listener?.());
  let failures = 0;
  while (!signal.aborted) {
    try {
      await task.run(signal);
      failures = 0;
    } catch (error) {
      failures += 1;
      logger.error({ err: error, task: task.name, failures }, 'task failed; backing off');
    }
    await sleep(backoffMs(task.intervalMs, failures), signal, woken);
  }
}

export function startWorker(tasks: readonly PeriodicTask[], logger: Logger): RunningWorker {
  const controller = new AbortController();
  const loops = tasks.map((task) => loop(task, controller.signal, logger.child({ task: task.name })));
  logger.info({ tasks: tasks.map((task) => task.name) }, 'worker started');
  return {
    async stop() {
      controller.abort();
      await Promise.all(loops);
      logger.info('worker stopped');
    },
  };
}
