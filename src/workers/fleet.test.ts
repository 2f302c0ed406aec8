/**
 * IMAP IDLE spread over two workers in one PostgreSQL database, against the real Dovecot: each
 * account watched by exactly one worker, and taken over when that worker leaves or dies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createContainer, type Container } from '../container.ts';
import { createLogger } from '../logger.ts';
import { signUp } from '../../test/support/app.ts';
import { testDialects, useTestDatabase } from '../../test/support/dialects.ts';
import { createTestMailboxSync, imapAccountInput } from '../../test/support/mailboxes.ts';
import { connectImap, createMailbox, type Mailbox } from '../../test/support/mail-peers.ts';
import type { Actor } from '../domains/users/users.ts';
import { createFleetMembership } from './fleet.ts';
import { startWorker, type RunningWorker } from './runner.ts';

const ACCOUNTS = 4;

interface TestWorker {
  container: Container;
  sync: ReturnType<typeof createTestMailboxSync>;
  membership: ReturnType<typeof createFleetMembership>;
  running: RunningWorker;
}

describe.runIf(testDialects.includes('postgres'))('IDLE spread over workers on postgres', () => {
  const database = useTestDatabase('postgres');
  const workers = new Map<string, TestWorker>();
  const mailboxes = new Map<string, Mailbox>();
  let actor: Actor;

  async function startTestWorker(workerId: string): Promise<TestWorker> {
    const config = loadConfig({
      ...database.current.env,
      WORKER_HEARTBEAT_MS: '200',
      WORKER_DEAD_AFTER_MS: '2000',
    });
    const container = await createContainer(config, { logger: createLogger('silent'), workerId });
    const sync = createTestMailboxSync(container, { idle: true });
    container.onMailboxDue(sync.wake);
    const membership = createFleetMembership({
      fleet: container.services.fleet,
      courier: container.services.passwordCourier,
      mailboxes: sync,
      databaseUrl: undefined,
      logger: createLogger('silent'),
      now: container.now,
    });
    await membership.join();
    const running = startWorker([membership.task, sync.task], createLogger('silent'));
    const worker = { container, sync, membership, running };
    workers.set(workerId, worker);
    return worker;
  }

  /** Stops the worker's loops and closes its connections, leaving the fleet only when `politely`. */
  async function stopTestWorker(workerId: string, politely: boolean): Promise<void> {
    const worker = workers.get(workerId)!;
    workers.delete(workerId);
    await worker.running.stop();
    if (politely) await worker.membership.leave();
    await worker.sync.close();
    await worker.container.close();
  }

  /** Which live worker watches each account. */
  const watchers = () => {
    const watched: Record<string, string[]> = {};
    for (const [workerId, worker] of workers) {
      for (const accountId of worker.sync.watching()) (watched[accountId] ??= []).push(workerId);
    }
    return watched;
  };

  async function subjectsOf(accountId: string): Promise<string[]> {
    const rows = await database.current.db
      .selectFrom('message_placements')
      .innerJoin('messages', 'messages.id', 'message_placements.message_id')
      .select('messages.subject')
      .where('message_placements.account_id', '=', accountId)
      .execute();
    return rows.map((row) => row.subject ?? '').sort();
  }

  async function deliver(mailbox: Mailbox, subject: string): Promise<void> {
    const client = await connectImap(mailbox.user, mailbox.password);
    try {
      const raw = [
        `From: client@client.test`,
        `To: ${mailbox.address}`,
        `Subject: ${subject}`,
        `Message-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@client.test>`,
        '',
        'Hello',
        '',
      ].join('\r\n');
      await client.append('INBOX', Buffer.from(raw), [], new Date());
    } finally {
      await client.logout();
    }
  }

  beforeAll(async () => {
    const first = await startTestWorker('w1');
    const user = await signUp(first.container, { org: 'Spread' });
    actor = { userId: user.userId, orgId: user.orgId, role: 'member' };
    for (let index = 0; index < ACCOUNTS; index += 1) {
      const mailbox = await createMailbox();
      // A poll a day: mail arrives through IDLE or not at all within the test.
      const account = await first.container.services.accounts.create(
        actor,
        imapAccountInput(mailbox, { pollIntervalSeconds: 86_400 }),
      );
      mailboxes.set(account.id, mailbox);
    }
  });

  afterAll(async () => {
    for (const workerId of [...workers.keys()]) await stopTestWorker(workerId, true);
  });

  it('watches each account from exactly one worker, and moves them when one leaves or dies', async () => {
    await startTestWorker('w2');
    const evenlySpread = () => {
      const watched = watchers();
      const perWorker = [...workers.keys()].map(
        (id) => Object.values(watched).filter((holders) => holders.includes(id)).length,
      );
      return {
        accounts: Object.keys(watched).length,
        onceEach: Object.values(watched).every((holders) => holders.length === 1),
        perWorker,
      };
    };
    await expect
      .poll(evenlySpread, { timeout: 15_000, interval: 200 })
      .toEqual({ accounts: ACCOUNTS, onceEach: true, perWorker: [2, 2] });

    // w1 stops on purpose: w2 takes its accounts and hears new mail on them through IDLE.
    const leaving = Object.entries(watchers()).find(([, holders]) => holders.includes('w1'))![0];
    await stopTestWorker('w1', true);
    await expect
      .poll(evenlySpread, { timeout: 15_000, interval: 200 })
      .toEqual({ accounts: ACCOUNTS, onceEach: true, perWorker: [ACCOUNTS] });
    await deliver(mailboxes.get(leaving)!, 'After w1 left');
    await expect.poll(() => subjectsOf(leaving), { timeout: 15_000 }).toContain('After w1 left');

    // w3 joins and takes half; then it dies without a word, and w2 takes them back.
    await startTestWorker('w3');
    await expect
      .poll(evenlySpread, { timeout: 15_000, interval: 200 })
      .toEqual({ accounts: ACCOUNTS, onceEach: true, perWorker: [2, 2] });
    const orphaned = Object.entries(watchers()).find(([, holders]) => holders.includes('w3'))![0];
    await stopTestWorker('w3', false);
    await expect
      .poll(evenlySpread, { timeout: 15_000, interval: 200 })
      .toEqual({ accounts: ACCOUNTS, onceEach: true, perWorker: [ACCOUNTS] });
    await deliver(mailboxes.get(orphaned)!, 'After w3 died');
    await expect.poll(() => subjectsOf(orphaned), { timeout: 15_000 }).toContain('After w3 died');
    expect(await subjectsOf(orphaned)).toEqual([...new Set(await subjectsOf(orphaned))].sort());
  }, 90_000);
});
