import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { exited, startMailroom } from '../support/cli.ts';
import { createTestDatabase, testPostgresUrl, type TestDatabase } from '../support/dialects.ts';
import { createSendingAccount, messageIdOf } from '../support/outbox.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const OUTAGE_MS = 30_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real `mailroom worker` whose database goes away for 30 s (every connection cut, new ones
 * refused, through a TCP proxy in front of PostgreSQL) carries on by itself once it is back:
 * the process stays up and the mail queued meanwhile goes out, once each.
 */
describe('a worker that loses its database for 30 s on postgres', () => {
  let database: TestDatabase;
  let container: Container;
  let proxy: TcpProxy;
  let sink: SMTPServer;
  let worker: ReturnType<typeof startMailroom> | undefined;
  /** Message-ID header → times the sink accepted it. */
  const received = new Map<string, number>();
  let queue: (subject: string) => Promise<string>;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    container = await createContainer(loadConfig(database.env), { logger: createLogger('silent') });
    sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const id = messageIdOf(Buffer.concat(chunks));
          received.set(id, (received.get(id) ?? 0) + 1);
          callback();
        });
      },
    });
    sink.on('error', () => undefined);
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const sinkPort = (sink.server.address() as AddressInfo).port;

    const { messages } = container.services;
    const { actor, account } = await createSendingAccount(container, 'Outage', sinkPort);
    queue = async (subject) =>
      (
        await messages.queue(
          actor,
          { accountId: account.id, to: ['someone@client.test'], subject, text: subject },
          null,
        )
      ).id;

    const postgres = new URL(testPostgresUrl);
    proxy = await startTcpProxy({ host: postgres.hostname, port: Number(postgres.port || 5432) });
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGKILL');
      await exited(worker);
    }
    await proxy?.close();
    await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
    await container?.close();
    await database?.drop();
  });

  async function statusesOf(ids: string[]): Promise<string[]> {
    const rows = await database.db
      .selectFrom('messages')
      .select(['id', 'status'])
      .where('id', 'in', ids)
      .execute();
    return ids.map((id) => rows.find((row) => row.id === id)?.status ?? 'missing');
  }

  async function headerOf(id: string): Promise<string> {
    const row = await database.db
      .selectFrom('messages')
      .select('message_id_header')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.message_id_header;
  }

  it('recovers by itself and sends what was queued during the outage', async () => {
    // The worker reaches PostgreSQL only through the proxy; the test itself goes direct.
    const viaProxy = new URL(database.env.DATABASE_URL!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    worker = startMailroom(['worker'], {
      ...database.env,
      DATABASE_URL: viaProxy.toString(),
      OUTBOX_POLL_MS: '200',
      LOG_LEVEL: 'warn',
    });
    const output = () => worker!.output();

    const before = await queue('before the outage');
    await expect.poll(() => statusesOf([before]), { timeout: 20_000, interval: 100 }).toEqual(['sent']);
    expect(proxy.connections()).toBeGreaterThan(0);

    await proxy.cut();
    const cutAt = Date.now();
    const during: string[] = [];
    // Mail keeps arriving while the worker cannot reach the database.
    for (const at of [1_000, 10_000, 20_000, 28_000]) {
      await sleep(cutAt + at - Date.now());
      during.push(await queue(`during the outage, ${at / 1000} s in`));
      expect(worker.exitCode, output()).toBeNull();
      expect(worker.signalCode, output()).toBeNull();
    }
    await sleep(cutAt + OUTAGE_MS - Date.now());
    // Nothing could have gone out: the worker had no database to claim from.
    expect(await statusesOf(during)).toEqual(during.map(() => 'ready'));
    expect(worker.exitCode, output()).toBeNull();

    await proxy.restore();
    const restoredAt = Date.now();
    await expect
      .poll(() => statusesOf(during), { timeout: 15_000, interval: 100 })
      .toEqual(during.map(() => 'sent'));
    const recoveryMs = Date.now() - restoredAt;
    console.log(
      `database outage of ${OUTAGE_MS / 1000} s: the worker sent the ${during.length} messages queued ` +
        `meanwhile ${(recoveryMs / 1000).toFixed(1)} s after the database came back`,
    );

    expect(worker.exitCode, output()).toBeNull();
    expect(worker.signalCode, output()).toBeNull();
    for (const id of [before, ...during]) expect(received.get(await headerOf(id))).toBe(1);
    expect([...received.values()].reduce((sum, count) => sum + count, 0)).toBe(1 + during.length);

    // And it still stops gracefully.
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
  }, 90_000);
});
