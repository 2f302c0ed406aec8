import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { exited, startMailroom } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/dialects.ts';
import { createSendingAccount } from '../support/outbox.ts';

const MESSAGES = 12;
const SINK_DELAY_MS = 700;

/**
 * SIGTERM to a real `mailroom worker` in the middle of sending: the SMTP transactions in flight
 * finish, nothing else is started, every lease it held is given back (no message waits for a lease
 * to run out), it leaves the fleet, and it exits 0 well within SHUTDOWN_TIMEOUT_MS.
 */
describe('a worker stopped with SIGTERM mid-send on postgres', () => {
  let database: TestDatabase;
  let container: Container;
  let sink: SMTPServer;
  let worker: ReturnType<typeof startMailroom> | undefined;
  let delivered = 0;
  let inTransaction = 0;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    container = await createContainer(loadConfig(database.env), { logger: createLogger('silent') });
    sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onMailFrom(_address, _session, callback) {
        inTransaction += 1;
        callback();
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => {
          setTimeout(() => {
            delivered += 1;
            inTransaction -= 1;
            callback();
          }, SINK_DELAY_MS);
        });
      },
    });
    sink.on('error', () => undefined);
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGKILL');
      await exited(worker);
    }
    await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
    await container?.close();
    await database?.drop();
  });

  it('finishes what is in flight, gives its leases back and exits in bounded time', async () => {
    const { messages } = container.services;
    const { actor, account } = await createSendingAccount(
      container,
      'Stop',
      (sink.server.address() as AddressInfo).port,
    );
    for (let index = 0; index < MESSAGES; index += 1) {
      await messages.queue(
        actor,
        { accountId: account.id, to: [`r${index}@client.test`], subject: `m${index}`, text: 'x' },
        null,
      );
    }
    worker = startMailroom(['worker'], {
      ...database.env,
      OUTBOX_POLL_MS: '100',
      OUTBOX_CONCURRENCY: '2',
      SHUTDOWN_TIMEOUT_MS: '20000',
      LOG_LEVEL: 'warn',
    });
    await expect.poll(() => delivered, { timeout: 20_000, interval: 50 }).toBeGreaterThan(0);
    await expect.poll(() => inTransaction, { timeout: 5_000, interval: 10 }).toBeGreaterThan(0);
    const workerRows = await database.db.selectFrom('workers').select('id').execute();
    expect(workerRows).toHaveLength(1);

    const stoppedAt = Date.now();
    worker.kill('SIGTERM');
    const code = await exited(worker);
    const tookMs = Date.now() - stoppedAt;
    expect(code, worker.output()).toBe(0);
    expect(tookMs).toBeLessThan(20_000);

    const rows = await database.db.selectFrom('messages').select(['status', 'lease_owner']).execute();
    const count = (status: string) => rows.filter((row) => row.status === status).length;
    // What was in flight went out whole; the rest waits, free for any worker to take at once.
    expect(inTransaction).toBe(0);
    expect(count('sent')).toBe(delivered);
    expect(count('sent') + count('ready')).toBe(MESSAGES);
    expect(count('ready')).toBeGreaterThan(0);
    expect(count('sending') + count('uncertain')).toBe(0);
    expect(rows.filter((row) => row.lease_owner !== null)).toEqual([]);
    expect(await database.db.selectFrom('workers').select('id').execute()).toEqual([]);
    expect(await database.db.selectFrom('account_holds').select('account_id').execute()).toEqual([]);
    console.log(
      `SIGTERM mid-send: exited 0 after ${tookMs} ms; ${count('sent')} sent, ${count('ready')} left ready`,
    );
  }, 60_000);
});
