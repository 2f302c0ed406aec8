/**
 * Send throughput by worker processes on PostgreSQL: N messages are queued first (through the
 * messages service, 1,000 per batch), then 1, and in a second run 2, real `mailroom worker`
 * processes send them to Postfix's smtp-sink. Each run has a fresh database. It prints messages per
 * second from the first worker's start until every message is `sent` (process start-up included),
 * the same from the moment every worker was up, and the scaling ratio (2 workers / 1 worker).
 *
 *   npm run bench:send-workers -- [--count 5000] [--workers 1,2] [--accounts 10] [--concurrency 32] [--connections 2]
 *
 * smtp-sink is started by the bench on a free port (install it with `bash test/mail-peers/mail-peers.sh install`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createContainer } from '../src/container.ts';
import { createLogger } from '../src/logger.ts';
import { exited, startMailroom } from '../test/support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/dialects.ts';
import { createSendingAccount } from '../test/support/outbox.ts';
import { startSink } from './support/smtp-sink.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '5000' },
    workers: { type: 'string', default: '1,2' },
    accounts: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
    connections: { type: 'string', default: '2' },
  },
});
const count = Number(values.count);
const workerCounts = values.workers.split(',').map((value) => Number(value.trim()));
const accountCount = Number(values.accounts);
const concurrency = Number(values.concurrency);
const connections = Number(values.connections);
for (const [name, value] of [
  ['--count', count],
  ['--accounts', accountCount],
  ['--concurrency', concurrency],
  ['--connections', connections],
  ...workerCounts.map((workers) => ['--workers', workers] as const),
] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be positive integers`);
}

const body = 'Hello,\n\nthis is a benchmark message of a realistic size.\n'.repeat(40);
/** A run whose sent count does not move for this long has failed. */
const STALL_MS = 60_000;

type Worker = ReturnType<typeof startMailroom>;

interface Run {
  workers: number;
  /** From the first spawn until every worker logged `worker started`. */
  startupSeconds: number;
  /** From the first spawn until the last message was sent. */
  totalSeconds: number;
  rate: number;
  /** Messages sent after every worker was up, over the time from then until the last one. */
  rateOnceUp: number;
  /** CPU per message once every worker was up: the worker processes, and everything else. */
  workerCpuMs: number;
  otherCpuMs: number;
  /** Cores busy on average over that window (the whole machine). */
  coresBusy: number;
}

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface CpuSample {
  at: number;
  /** Ticks of the whole machine spent busy (/proc/stat), and of the worker processes (/proc/PID/stat). */
  machineBusy: number;
  workers: number;
  sent: number;
}

function cpuSample(workers: Worker[], sent: number): CpuSample {
  const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
  const ticks = fields.slice(0, 8).map(Number);
  const machineBusy = ticks.reduce(
    (sum, value, index) => (index === 3 || index === 4 ? sum : sum + value),
    0,
  );
  let workerTicks = 0;
  for (const worker of workers) {
    try {
      const stat = fs.readFileSync(`/proc/${worker.pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      workerTicks += Number(after[11]) + Number(after[12]);
    } catch {
      // exited: caught by the caller
    }
  }
  return { at: Date.now(), machineBusy, workers: workerTicks, sent };
}

async function countByStatus(database: TestDatabase): Promise<Record<string, number>> {
  const rows = await database.db
    .selectFrom('messages')
    .select(['status', (eb) => eb.fn.countAll<number | string>().as('count')])
    .where('direction', '=', 'out')
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}

/** When the worker logged `worker started` (pino's epoch-ms `time`), or null before it has. */
function startedAt(worker: Worker): number | null {
  for (const line of worker.output().split('\n')) {
    if (!line.includes('"worker started"')) continue;
    try {
      return (JSON.parse(line) as { time: number }).time;
    } catch {
      return null;
    }
  }
  return null;
}

function tail(worker: Worker): string {
  return worker.output().split('\n').slice(-20).join('\n');
}

async function stop(workers: Worker[]): Promise<void> {
  const running = workers.filter((worker) => worker.exitCode === null && worker.signalCode === null);
  for (const worker of running) worker.kill('SIGTERM');
  const timer = setTimeout(() => running.forEach((worker) => worker.kill('SIGKILL')), 15_000);
  await Promise.all(running.map((worker) => exited(worker)));
  clearTimeout(timer);
}

async function measure(workerCount: number, sinkPort: number): Promise<Run> {
  const database = await createTestDatabase('postgres');
  const container = await createContainer(loadConfig({ ...database.env, LOG_LEVEL: 'silent' }), {
    logger: createLogger('silent'),
  });
  const workers: Worker[] = [];
  try {
    const { messages } = container.services;
    const { actor, account, createAccount } = await createSendingAccount(container, 'Bench', sinkPort);
    const senders: { id: string }[] = [account];
    while (senders.length < accountCount)
      senders.push(await createAccount(`sender${senders.length}@bench.test`));
    for (let start = 0; start < count; start += 1000) {
      await messages.queueBatch(
        actor,
        Array.from({ length: Math.min(1000, count - start) }, (_, offset) => ({
          accountId: senders[(start + offset) % senders.length]!.id,
          to: [`rcpt${start + offset}@client.test`],
          subject: `Bench ${start + offset}`,
          text: body,
        })),
      );
    }

    const env = {
      ...database.env,
      LOG_LEVEL: 'info',
      OUTBOX_POLL_MS: '100',
      OUTBOX_CONCURRENCY: String(concurrency),
      SMTP_CONNECTIONS_PER_ACCOUNT: String(connections),
    };
    const spawnedAt = Date.now();
    for (let index = 0; index < workerCount; index++) workers.push(startMailroom(['worker'], env));

    let lastSent = -1;
    let lastProgressAt = Date.now();
    // Sampled once every worker is up, so that start-up (loading, compiling, connecting) is left out.
    let upSample: CpuSample | null = null;
    let endSample: CpuSample;
    for (;;) {
      const dead = workers.find((worker) => worker.exitCode !== null || worker.signalCode !== null);
      if (dead)
        throw new Error(`a worker exited early (${dead.exitCode ?? dead.signalCode}):\n${tail(dead)}`);
      const counts = await countByStatus(database);
      if ((counts.ready ?? 0) + (counts.sending ?? 0) === 0) {
        if ((counts.sent ?? 0) !== count)
          throw new Error(`not every message was sent: ${JSON.stringify(counts)}\n${tail(workers[0]!)}`);
        endSample = cpuSample(workers, count);
        break;
      }
      if (!upSample && workers.every((worker) => startedAt(worker) !== null))
        upSample = cpuSample(workers, counts.sent ?? 0);
      if ((counts.sent ?? 0) !== lastSent) {
        lastSent = counts.sent ?? 0;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > STALL_MS) {
        throw new Error(
          `no progress for ${STALL_MS / 1000} s: ${JSON.stringify(counts)}\n${workers.map(tail).join('\n---\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // The workers' own clocks (the same machine's): when each came up and when the last message went.
    const started = workers.map(startedAt);
    if (started.some((time) => time === null))
      throw new Error(`a worker never logged "worker started":\n${workers.map(tail).join('\n---\n')}`);
    const allUpAt = Math.max(...(started as number[]));
    const { last } = await database.db
      .selectFrom('messages')
      .select((eb) => eb.fn.max('sent_at').as('last'))
      .where('direction', '=', 'out')
      .executeTakeFirstOrThrow();
    const lastSentAt = Date.parse(String(last));
    const { sentOnceUp } = await database.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number | string>().as('sentOnceUp'))
      .where('direction', '=', 'out')
      .where('sent_at', '>=', new Date(allUpAt).toISOString())
      .executeTakeFirstOrThrow();
    const totalSeconds = (lastSentAt - spawnedAt) / 1000;
    if (!upSample || upSample.sent >= count)
      throw new Error('every message was sent before all workers were up: queue more (--count)');
    const messagesInWindow = count - upSample.sent;
    const msPerMessage = (ticks: number) => ((ticks / ticksPerSecond) * 1000) / messagesInWindow;
    const workerCpuMs = msPerMessage(endSample.workers - upSample.workers);
    return {
      workers: workerCount,
      startupSeconds: (allUpAt - spawnedAt) / 1000,
      totalSeconds,
      rate: count / totalSeconds,
      rateOnceUp: Number(sentOnceUp) / ((lastSentAt - allUpAt) / 1000),
      workerCpuMs,
      otherCpuMs: msPerMessage(endSample.machineBusy - upSample.machineBusy) - workerCpuMs,
      coresBusy:
        (endSample.machineBusy - upSample.machineBusy) /
        ticksPerSecond /
        ((endSample.at - upSample.at) / 1000),
    };
  } finally {
    await stop(workers);
    await container.close();
    await database.drop();
  }
}

const cores = os.availableParallelism();
const sink = await startSink();
const runs: Run[] = [];
try {
  console.log(
    `${count} messages of ${body.length} bytes from ${accountCount} accounts to smtp-sink, on PostgreSQL; ` +
      `each worker: OUTBOX_CONCURRENCY=${concurrency}, SMTP_CONNECTIONS_PER_ACCOUNT=${connections}`,
  );
  for (const workerCount of workerCounts) runs.push(await measure(workerCount, sink.port));
} finally {
  sink.stop();
}

console.log(
  `\n${'workers'.padStart(7)} ${'start-up s'.padStart(10)} ${'total s'.padStart(8)} ` +
    `${'msg/s'.padStart(7)} ${'msg/s once up'.padStart(13)} ${'msg/s/worker'.padStart(12)} ` +
    `${'worker CPU ms/msg'.padStart(17)} ${'other CPU ms/msg'.padStart(16)} ${'cores busy'.padStart(10)}`,
);
for (const run of runs) {
  console.log(
    `${String(run.workers).padStart(7)} ${run.startupSeconds.toFixed(1).padStart(10)} ` +
      `${run.totalSeconds.toFixed(1).padStart(8)} ${run.rate.toFixed(0).padStart(7)} ` +
      `${run.rateOnceUp.toFixed(0).padStart(13)} ${(run.rate / run.workers).toFixed(0).padStart(12)} ` +
      `${run.workerCpuMs.toFixed(2).padStart(17)} ${run.otherCpuMs.toFixed(2).padStart(16)} ` +
      `${run.coresBusy.toFixed(2).padStart(10)}`,
  );
}
console.log(
  `\nmsg/s: from the first worker's spawn to the last message sent (start-up included); once up: from ` +
    `when every worker had logged "worker started". CPU is measured once every worker was up: the ` +
    `worker processes' own, and the rest of the machine's (PostgreSQL, smtp-sink, this bench's polling, ` +
    `anything else running), per message sent; cores busy is the whole machine's average.`,
);
const one = runs.find((run) => run.workers === 1);
const two = runs.find((run) => run.workers === 2);
if (one && two) {
  console.log(
    `\nscaling 2 workers / 1 worker: ${(two.rate / one.rate).toFixed(2)} ` +
      `(once up: ${(two.rateOnceUp / one.rateOnceUp).toFixed(2)})`,
  );
}
// The least contended run is the base: one worker, with CPU to spare on this machine.
const base = one ?? runs[0]!;
const perMessage = base.workerCpuMs + base.otherCpuMs;
console.log(
  `\nExtrapolation. This machine has ${cores} cores, shared by the workers, PostgreSQL, smtp-sink and ` +
    `this bench, so the ratio shows how much CPU one worker left idle rather than how workers scale. ` +
    `With ${base.workers} worker(s), a message cost ${perMessage.toFixed(2)} ms of CPU in all ` +
    `(${base.workerCpuMs.toFixed(2)} in the worker), so ${cores} cores allow about ` +
    `${((cores * 1000) / perMessage).toFixed(0)} msg/s however many workers run. On machines where each ` +
    `worker gets the ${((base.workerCpuMs * base.rateOnceUp) / 1000 / base.workers).toFixed(2)} cores it ` +
    `used here and PostgreSQL has its own host, N workers should send about N × ` +
    `${(base.rateOnceUp / base.workers).toFixed(0)} msg/s, until PostgreSQL saturates: at ` +
    `${base.otherCpuMs.toFixed(2)} ms of other CPU per message (an upper bound for PostgreSQL's share: it ` +
    `includes the sink and this bench) that is about ${(1000 / base.otherCpuMs).toFixed(0)} msg/s per ` +
    `PostgreSQL core, before lock contention, which this machine cannot show.`,
);
