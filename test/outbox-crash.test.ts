import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createContainer, type Container } from '../src/container.ts';
import { createLogger } from '../src/logger.ts';
import { exited, startMailroom } from './support/cli.ts';
import { createTestDatabase, testDialects, type TestDatabase } from './support/dialects.ts';

type Stage = 'rcpt' | 'data';

/**
 * Kills a real `mailroom worker` process in the middle of a send, then starts another, and checks
 * what a person would: nothing lost, nothing sent twice without a person deciding so.
 */
describe.each(testDialects)('a worker killed mid-send on %s', (dialect) => {
  let database: TestDatabase;
  let container: Container;
  let stallAt: Stage | null = null;
  const seen: Stage[] = [];
  const delivered: string[] = [];
  let server: SMTPServer;
  let port = 0;
  const env = () => ({ ...database.env, OUTBOX_LEASE_MS: '5000', OUTBOX_POLL_MS: '100', LOG_LEVEL: 'warn' });

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    container = await createContainer(loadConfig(env()), { logger: createLogger('silent') });
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(_address, _session, callback) {
        seen.push('rcpt');
        if (stallAt !== 'rcpt') callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        // The first bytes of the message, not the DATA command: by then the worker has noted it.
        stream.on('data', (chunk: Buffer) => {
          if (chunks.length === 0) seen.push('data');
          chunks.push(chunk);
        });
        stream.on('end', () => {
          if (stallAt === 'data') return;
          delivered.push(session.envelope.rcptTo.map((rcpt) => rcpt.address).join(','));
          callback();
        });
      },
    });
    // Killing a worker resets its connections; the server reports that as an error, which is expected here.
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await container.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await database.drop();
  });

  async function queue(to: string): Promise<string> {
    const { users, accounts, messages } = container.services;
    const { user, organisation } = await users.createUserInOrganisation({
      organisationName: `Crash ${to}`,
      email: `owner-${to}`,
      password: 'crash-password',
    });
    const actor = { userId: user.id, orgId: organisation.id, role: 'admin' as const };
    const account = await accounts.create(actor, {
      type: 'own',
      name: 'Crash',
      email: `sender-${to}`,
      smtp: { host: '127.0.0.1', port, security: 'none', requiresAuth: false, timeoutMs: 60_000 },
    });
    return (
      await messages.queue(actor, { accountId: account.id, to: [to], subject: 'Crash', text: 'x' }, null)
    ).id;
  }

  async function statusOf(id: string): Promise<string> {
    const row = await database.db
      .selectFrom('messages')
      .select('status')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.status;
  }

  async function killDuring(stage: Stage): Promise<void> {
    stallAt = stage;
    seen.length = 0;
    const worker = startMailroom(['worker'], env());
    await expect.poll(() => seen.includes(stage), { timeout: 20_000, interval: 50 }).toBe(true);
    worker.kill('SIGKILL');
    await exited(worker);
    stallAt = null;
  }

  async function runWorkerUntil(id: string, status: string): Promise<void> {
    const worker = startMailroom(['worker'], env());
    try {
      await expect.poll(() => statusOf(id), { timeout: 30_000, interval: 200 }).toBe(status);
    } finally {
      worker.kill('SIGTERM');
      await exited(worker);
    }
  }

  it('sends a message again, once, when its worker died before DATA', async () => {
    const id = await queue('before-data@client.test');
    await killDuring('rcpt');
    expect(await statusOf(id)).toBe('sending');
    await runWorkerUntil(id, 'sent');
    expect(delivered.filter((to) => to === 'before-data@client.test')).toHaveLength(1);
  }, 60_000);

  it('holds a message as uncertain, never re-sent, when its worker died after the server accepted DATA', async () => {
    const id = await queue('after-data@client.test');
    await killDuring('data');
    await runWorkerUntil(id, 'uncertain');
    expect(delivered.filter((to) => to === 'after-data@client.test')).toHaveLength(0);
    expect(seen.filter((stage) => stage === 'data')).toHaveLength(1);
    const row = await database.db
      .selectFrom('messages')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ error_code: 'DELIVERY_UNCERTAIN', attempts: 1 });
  }, 60_000);
});
