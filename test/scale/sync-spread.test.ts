import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { exited, startMailroom } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/dialects.ts';
import { imapAccountInput } from '../support/mailboxes.ts';
import { createMailbox, mailPeers, type Mailbox } from '../support/mail-peers.ts';

const ACCOUNTS = 50;
const WORKERS = 3;
/** Messages delivered to each mailbox in each of the two waves. */
const PER_WAVE = 2;

type Worker = ReturnType<typeof startMailroom>;

/** What a worker's log says it imported, account by account ({ accountId, imported } lines). */
function importedByWorker(worker: Worker): Map<string, number> {
  const imported = new Map<string, number>();
  for (const line of worker.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { accountId?: string; imported?: number };
      if (entry.accountId && typeof entry.imported === 'number' && entry.imported > 0) {
        imported.set(entry.accountId, (imported.get(entry.accountId) ?? 0) + entry.imported);
      }
    } catch {
      // a line cut short by the kill
    }
  }
  return imported;
}

/** Stored incoming Message-IDs have no angle brackets; compare them without. */
const bare = (messageId: string) => messageId.replace(/^<|>$/g, '');

const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count, 0);

/**
 * The issue's proof for receiving at scale: 50 accounts, each its own Dovecot mailbox, read by three
 * real `mailroom worker` processes on one PostgreSQL. Mail arrives through Postfix in two waves,
 * and one worker is SIGKILLed between them. Every message is imported exactly once, and every
 * placement announced by exactly one `email.received`.
 */
describe('50 mailboxes over three workers, one killed, on postgres', () => {
  let database: TestDatabase;
  let container: Container;
  const workers: Worker[] = [];
  const mailboxes: { box: Mailbox; accountId: string }[] = [];
  /** Message-ID header → the account it was delivered to. */
  const delivered = new Map<string, string>();

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    container = await createContainer(loadConfig(database.env), { logger: createLogger('silent') });
  });

  afterAll(async () => {
    const running = workers.filter((worker) => worker.exitCode === null && worker.signalCode === null);
    for (const worker of running) worker.kill('SIGKILL');
    await Promise.all(running.map((worker) => exited(worker)));
    await container?.close();
    await database?.drop();
  });

  /** Mail as a person sends it: through Postfix's MX port, delivered into Dovecot over LMTP. */
  async function deliverWave(wave: number): Promise<void> {
    const transport = nodemailer.createTransport({
      host: mailPeers.host,
      port: mailPeers.ports.smtp,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 4,
    });
    try {
      await Promise.all(
        mailboxes.flatMap(({ box, accountId }, index) =>
          Array.from({ length: PER_WAVE }, (_, n) => {
            const messageId = `<wave${wave}.${index}.${n}.${randomBytes(6).toString('hex')}@clients.test>`;
            delivered.set(bare(messageId), accountId);
            return transport.sendMail({
              from: `Client ${index} <client${index}@clients.test>`,
              to: box.address,
              subject: `Wave ${wave}, message ${n + 1} for mailbox ${index}`,
              text: `Hello, this is message ${n + 1} of wave ${wave}.`,
              messageId,
            });
          }),
        ),
      );
    } finally {
      transport.close();
    }
  }

  async function placementsPerAccount(): Promise<Map<string, number>> {
    const rows = await database.db
      .selectFrom('message_placements')
      .select(['account_id', (eb) => eb.fn.countAll<number | string>().as('count')])
      .groupBy('account_id')
      .execute();
    return new Map(rows.map((row) => [row.account_id, Number(row.count)]));
  }

  async function allImported(perAccount: number): Promise<boolean> {
    const counts = await placementsPerAccount();
    return mailboxes.every(({ accountId }) => (counts.get(accountId) ?? 0) >= perAccount);
  }

  it('imports every message exactly once and announces each placement once', async () => {
    const { users, accounts } = container.services;
    const { user, organisation } = await users.createUserInOrganisation({
      organisationName: 'Receiving at scale',
      email: 'owner@receiving.test',
      password: 'receiving-password',
    });
    const actor = { userId: user.id, orgId: organisation.id, role: 'admin' as const };
    const boxes = await Promise.all(Array.from({ length: ACCOUNTS }, () => createMailbox()));
    for (const box of boxes) {
      // The shortest poll an account may have; IDLE brings new mail sooner.
      const account = await accounts.create(actor, imapAccountInput(box, { pollIntervalSeconds: 30 }));
      mailboxes.push({ box, accountId: account.id });
    }

    const env = {
      ...database.env,
      SYNC_POLL_MS: '200',
      SYNC_LEASE_MS: '5000',
      // A dead worker's accounts are given up after 5 s of silence rather than 30.
      WORKER_HEARTBEAT_MS: '1000',
      WORKER_DEAD_AFTER_MS: '5000',
      LOG_LEVEL: 'info',
    };
    for (let index = 0; index < WORKERS; index++) workers.push(startMailroom(['worker'], env));
    const started = Date.now();
    // Every mailbox has been read once (empty), so the workers are at work before mail arrives.
    await expect
      .poll(
        async () => {
          const rows = await database.db
            .selectFrom('accounts')
            .select('id')
            .where('incoming_state', '=', 'ok')
            .execute();
          return rows.length;
        },
        { timeout: 90_000, interval: 250 },
      )
      .toBe(ACCOUNTS);

    const readySeconds = (Date.now() - started) / 1000;

    const wave1At = Date.now();
    await deliverWave(1);
    await expect.poll(() => allImported(PER_WAVE), { timeout: 90_000, interval: 250 }).toBe(true);
    const wave1Seconds = (Date.now() - wave1At) / 1000;

    // The worker that did most of the first wave dies without a word.
    const firstWave = workers.map((worker) => total(importedByWorker(worker)));
    const victim = workers[firstWave.indexOf(Math.max(...firstWave))]!;
    victim.kill('SIGKILL');
    await exited(victim);
    const survivors = workers.filter((worker) => worker !== victim);

    const wave2At = Date.now();
    await deliverWave(2);
    await expect.poll(() => allImported(2 * PER_WAVE), { timeout: 120_000, interval: 250 }).toBe(true);
    const wave2Seconds = (Date.now() - wave2At) / 1000;
    // A late duplicate would show up within a few more polls.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const worker of survivors) expect(worker.exitCode, worker.output()).toBeNull();

    // Each delivered message is stored once, in the account it was delivered to, and nothing else.
    const stored = await database.db
      .selectFrom('message_placements')
      .innerJoin('messages', 'messages.id', 'message_placements.message_id')
      .select([
        'message_placements.id as placementId',
        'message_placements.account_id as accountId',
        'messages.id as messageId',
        'messages.message_id_header as header',
        'messages.direction as direction',
      ])
      .execute();
    expect(stored).toHaveLength(delivered.size);
    expect(new Set(stored.map((row) => row.messageId)).size).toBe(delivered.size);
    expect(new Set(stored.map((row) => bare(row.header)))).toEqual(new Set(delivered.keys()));
    expect(stored.filter((row) => delivered.get(bare(row.header)) !== row.accountId)).toEqual([]);
    expect(stored.every((row) => row.direction === 'in')).toBe(true);
    const perAccount = await placementsPerAccount();
    expect(mailboxes.filter(({ accountId }) => perAccount.get(accountId) !== 2 * PER_WAVE)).toEqual([]);
    const incoming = await database.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('direction', '=', 'in')
      .executeTakeFirstOrThrow();
    expect(Number(incoming.count)).toBe(delivered.size);

    // One email.received per placement: per account and message, exactly one.
    const events = await database.db
      .selectFrom('events')
      .select(['account_id', 'message_id'])
      .where('type', '=', 'email.received')
      .execute();
    expect(events).toHaveLength(stored.length);
    const announced = new Map<string, number>();
    for (const event of events) {
      const key = `${event.account_id}/${event.message_id}`;
      announced.set(key, (announced.get(key) ?? 0) + 1);
    }
    expect(stored.filter((row) => announced.get(`${row.accountId}/${row.messageId}`) !== 1)).toEqual([]);

    // The work was spread: more than one worker imported mail, and the survivors took over the
    // victim's mailboxes for the second wave.
    const byWorker = workers.map((worker) => importedByWorker(worker));
    expect(byWorker.filter((imported) => imported.size > 0).length).toBeGreaterThan(1);
    const victimsAccounts = [...byWorker[workers.indexOf(victim)]!.keys()];
    expect(victimsAccounts.length).toBeGreaterThan(0);
    const survivorsImported = new Set(survivors.flatMap((worker) => [...importedByWorker(worker).keys()]));
    expect(victimsAccounts.filter((accountId) => !survivorsImported.has(accountId))).toEqual([]);

    console.log(
      `${ACCOUNTS} mailboxes, ${WORKERS} workers: ${delivered.size} messages imported once each, ` +
        `${events.length} email.received; every mailbox read once ${readySeconds.toFixed(1)} s after ` +
        `the start; first wave imported ${wave1Seconds.toFixed(1)} s after its delivery, the second ` +
        `(one worker killed) ${wave2Seconds.toFixed(1)} s after; ` +
        `accounts imported per worker ${byWorker.map((imported, index) => `${imported.size}${workers[index] === victim ? ' (killed)' : ''}`).join(' / ')}`,
    );
  }, 300_000);
});
