import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { backoffMs, startWorker, type PeriodicTask } from './runner.ts';

const logger = createLogger('silent');

describe('the worker runner', () => {
  it('repeats a task, keeps going after a failure, and lets the current run finish on stop', async () => {
    const events: string[] = [];
    let runs = 0;
    let release: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => (release = resolve));
    const task: PeriodicTask = {
      name: 'flaky',
      intervalMs: 1,
      async run() {
        runs += 1;
        if (runs === 1) throw new Error('first run fails');
        if (runs === 3) {
          events.push('third run started');
          await inFlight;
          events.push('third run finished');
        }
      },
    };
    const worker = startWorker([task], logger);
    await expect.poll(() => events.includes('third run started'), { timeout: 5000 }).toBe(true);
    const stopped = worker.stop().then(() => events.push('stopped'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).not.toContain('stopped');
    release();
    await stopped;
    expect(events).toEqual(['third run started', 'third run finished', 'stopped']);
    expect(runs).toBe(3);
  });

  it('backs off a failing task twice as long each time, but never beyond 10 s or its own interval', () => {
    const waits = (intervalMs: number) =>
      [0, 1, 2, 3, 4, 5, 6].map((failures) => backoffMs(intervalMs, failures));
    expect(waits(1_000)).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    expect(waits(5_000)).toEqual([5_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
    expect(waits(60_000)).toEqual([60_000, 60_000, 60_000, 60_000, 60_000, 60_000, 60_000]);
  });
});
