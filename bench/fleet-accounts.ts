/**
 * Many accounts held by workers (issue 12): N IMAP accounts in the mail peers' Dovecot, then W
 * `mailroom worker` processes started cold on one PostgreSQL. It prints how long after the first
 * spawn every account had its IDLE connection open (the sum of the workers' own
 * `mailroom_idle_connections`), and each worker's resident memory per account it holds, over what a
 * worker holding none takes.
 *
 *   npm run bench:fleet -- [--accounts 1000] [--workers 2]
 *
 * Dovecot (test/mail-peers) allows 1,024 IMAP sessions at once: more accounts than about a thousand
 * leave some waiting for a session.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createContainer } from '../src/container.ts';
import { createLogger } from '../src/logger.ts';
import { exited, freePort, startMailroom } from '../test/support/cli.ts';
import { createTestDatabase } from '../test/support/dialects.ts';
import { createMailbox, releaseMailPeers, type Mailbox } from '../test/support/mail-peers.ts';
import { imapAccountInput } from '../test/support/mailboxes.ts';
import { rerunTrustingMailPeers } from './support/mail-peers-ca.ts';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '2' },
  },
});
const accountCount = Number(values.accounts);
const workerCount = Number(values.workers);
for (const [name, value] of [
  ['--accounts', accountCount],
  ['--workers', workerCount],
] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
}
/** No account connected for this long: the run has failed. */
const STALL_MS = 120_000;

type Worker = ReturnType<typeof startMailroom> & { metricsPort: number };

/** One sample of each metric named, summed over its label sets, from a worker's /metrics. */
async function scrape(worker: Worker, names: readonly string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
  const found: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [name, value] = line.split(/(?:\{[^}]*\})?\s+/);
    if (name && names.includes(name)) found[name] = (found[name] ?? 0) + Number(value);
  }
  return found;
}

async function startWorkers(count: number, env: Record<string, string>): Promise<Worker[]> {
  const workers: Worker[] = [];
  for (let index = 0; index < count; index++) {
    const metricsPort = await freePort();
    workers.push(
      Object.assign(
        startMailroom(['worker'], {
          ...env,
          MAILROOM_WORKER_HTTP_PORT: String(metricsPort),
          LOG_LEVEL: 'warn',
        }),
        { metricsPort },
      ),
    );
  }
  return workers;
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  for (const worker of workers) worker.kill('SIGTERM');
  await Promise.all(workers.map(exited));
}

/** Polls until `done` says so, failing when the progress it reports stalls. */
async function waitFor(done: () => Promise<{ finished: boolean; progress: number }>): Promise<void> {
  let last = -1;
  let lastMoved = performance.now();
  for (;;) {
    const { finished, progress } = await done().catch(() => ({ finished: false, progress: last }));
    if (finished) return;
    if (progress !== last) {
      last = progress;
      lastMoved = performance.now();
    } else if (performance.now() - lastMoved > STALL_MS) {
      throw new Error(`no progress for ${STALL_MS / 1000} s (at ${progress})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

await rerunTrustingMailPeers();
const database = await createTestDatabase('postgres');
const container = await createContainer(loadConfig({ ...database.env, LOG_LEVEL: 'silent' }), {
  logger: createLogger('silent'),
});
const env = { ...database.env, NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS! };
try {
  // What a worker takes holding nothing, on the same database.
  const [empty] = await startWorkers(1, env);
  await waitFor(async () => ({
    finished: 'process_resident_memory_bytes' in (await scrape(empty!, ['process_resident_memory_bytes'])),
    progress: 0,
  }));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const baseline = (await scrape(empty!, ['process_resident_memory_bytes'])).process_resident_memory_bytes!;
  await stopWorkers([empty!]);

  const mailboxes: Mailbox[] = [];
  while (mailboxes.length < accountCount) {
    const batch = Math.min(8, accountCount - mailboxes.length);
    mailboxes.push(...(await Promise.all(Array.from({ length: batch }, () => createMailbox()))));
  }
  const { user, organisation } = await container.services.users.createUserInOrganisation({
    organisationName: 'Fleet',
    email: 'owner@fleet.test',
    password: 'fleet-password',
  });
  const actor = { userId: user.id, orgId: organisation.id, role: 'admin' as const };
  for (const mailbox of mailboxes) await container.services.accounts.create(actor, imapAccountInput(mailbox));

  const started = performance.now();
  const workers = await startWorkers(workerCount, env);
  const marks = new Map<number, number>();
  let connected: number[] = [];
  try {
    await waitFor(async () => {
      connected = await Promise.all(
        workers.map(
          async (worker) =>
            (await scrape(worker, ['mailroom_idle_connections'])).mailroom_idle_connections ?? 0,
        ),
      );
      const total = connected.reduce((sum, count) => sum + count, 0);
      for (const share of [0.5, 0.9]) {
        if (!marks.has(share) && total >= share * accountCount) marks.set(share, performance.now() - started);
      }
      return { finished: total >= accountCount, progress: total };
    });
    const allConnected = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const memory = await Promise.all(
      workers.map(
        async (worker) =>
          (await scrape(worker, ['process_resident_memory_bytes'])).process_resident_memory_bytes!,
      ),
    );
    const perAccountKb = memory.map((rss, index) => (rss - baseline) / 1024 / connected[index]!);
    console.log(
      `${accountCount} IMAP accounts, ${workerCount} worker(s) started cold on PostgreSQL: every account ` +
        `watching (IDLE) ${allConnected.toFixed(1)} s after the first spawn ` +
        `(half after ${(marks.get(0.5)! / 1000).toFixed(1)} s, 90 % after ${(marks.get(0.9)! / 1000).toFixed(1)} s)`,
    );
    console.log(
      `resident memory per account held, over a worker holding none (${(baseline / 1024 / 1024).toFixed(0)} MB): ` +
        workers
          .map(
            (_, index) =>
              `worker ${index + 1}: ${connected[index]} accounts, ${perAccountKb[index]!.toFixed(0)} KB`,
          )
          .join('; '),
    );
  } finally {
    await stopWorkers(workers);
  }
} finally {
  await container.close();
  await database.drop();
  await releaseMailPeers();
}
