import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../test/support/app.ts';
import { freePort } from '../../test/support/cli.ts';
import { runOutboxOnce } from '../../test/support/outbox.ts';
import { createTestDatabase, testDialects, testSecretKey } from '../../test/support/dialects.ts';
import { loadConfig } from '../config.ts';
import { createContainer, type Container } from '../container.ts';
import type { WebhookDeliveryEngine } from '../domains/automation/webhooks.delivery.ts';
import { createLogger } from '../logger.ts';
import { createSmtpSenderPool } from '../mail/smtp-sender.ts';
import { createWebhookWorker } from '../workers/webhooks.ts';
import { buildServer } from './server.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (no escaped quotes in our label values). */
function parseSamples(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key!, value!]),
    );
    return [{ name: match[1]!, labels, value: Number(match[3]) }];
  });
}

/** The value of the one sample with exactly these labels, or undefined. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return parseSamples(text).find(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

const mailroomMetrics = [
  'mailroom_outbox_queue_depth',
  'mailroom_sync_mailboxes',
  'mailroom_sync_lag_seconds',
  'mailroom_messages_sent_total',
  'mailroom_send_errors_total',
  'mailroom_lease_takeovers_total',
  'mailroom_webhook_failures_total',
  'mailroom_idle_connections',
];

async function scrape(baseUrl: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/metrics`, { headers });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

describe.each(testDialects)('the operations endpoints on %s', (dialect) => {
  const testApp = useTestApp(dialect);
  let user: SignedIn;

  beforeAll(async () => {
    user = await signUp(testApp.current.container, { org: 'Operations' });
  });

  const call = (method: string, url: string, body?: unknown) =>
    request<Body>(testApp.current.baseUrl, method, url, { token: user.token, body });

  async function ownAccount(incoming?: Body): Promise<string> {
    const response = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Ops',
      email: `ops${Math.random().toString(36).slice(2, 8)}@operations.test`,
      smtp: { host: '127.0.0.1', port: 2525, security: 'none', requiresAuth: false },
      ...(incoming && { incoming }),
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id;
  }

  it('answers /healthz without credentials and without asking the database', async () => {
    const response = await request(testApp.current.baseUrl, 'GET', '/healthz');
    expect(response).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('answers /readyz with 200 when the database answers and every migration is applied', async () => {
    const response = await request(testApp.current.baseUrl, 'GET', '/readyz');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      status: 'ok',
      database: 'ok',
      migrations: 'current',
      pendingMigrations: [],
    });
  });

  it('describes the three endpoints in the OpenAPI document, as public', async () => {
    const { body } = await request<{ paths: Record<string, { get: { security: unknown[] } }> }>(
      testApp.current.baseUrl,
      'GET',
      '/api/openapi.json',
    );
    for (const route of ['/healthz', '/readyz', '/metrics'])
      expect(body.paths[route]?.get.security).toEqual([]);
  });

  it('serves every metric in the Prometheus text format, with the process metrics', async () => {
    const { status, contentType, text } = await scrape(testApp.current.baseUrl);
    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of mailroomMetrics) expect(text).toContain(`# HELP ${name} `);
    expect(text).toContain('# TYPE mailroom_sync_lag_seconds gauge');
    expect(text).toContain('# TYPE mailroom_messages_sent_total counter');
    expect(valueOf(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    for (const kind of ['outbox', 'mailbox', 'rule_run', 'webhook', 'account_hold']) {
      expect(valueOf(text, 'mailroom_lease_takeovers_total', { kind })).toBe(0);
    }
  });

  it('counts the outbox queue by status, outgoing messages only, read at scrape time', async () => {
    const { container } = testApp.current;
    const accountId = await ownAccount();
    const ids: string[] = [];
    for (let index = 0; index < 7; index++) {
      const queued = await call('POST', '/api/messages', {
        accountId,
        to: ['someone@client.test'],
        subject: `Queued ${index}`,
        text: 'Hello',
      });
      expect(queued.status).toBe(202);
      ids.push(queued.body.id);
    }
    const setStatus = (status: 'sending' | 'error' | 'uncertain' | 'sent', messageIds: string[]) =>
      container.db.updateTable('messages').set({ status }).where('id', 'in', messageIds).execute();
    await setStatus('sending', [ids[0]!]);
    await setStatus('error', [ids[1]!, ids[2]!]);
    await setStatus('uncertain', [ids[3]!]);
    await setStatus('sent', [ids[4]!]);

    const { text } = await scrape(testApp.current.baseUrl);
    const depth = (status: string) => valueOf(text, 'mailroom_outbox_queue_depth', { status });
    expect([depth('ready'), depth('sending'), depth('error'), depth('uncertain')]).toEqual([2, 1, 2, 1]);
    expect(depth('sent')).toBeUndefined();

    await setStatus('sent', [ids[5]!, ids[6]!]);
    const later = (await scrape(testApp.current.baseUrl)).text;
    expect(valueOf(later, 'mailroom_outbox_queue_depth', { status: 'ready' })).toBe(0);
    await container.db.deleteFrom('message_recipients').where('message_id', 'in', ids).execute();
    await container.db.deleteFrom('messages').where('id', 'in', ids).execute();
  });

  it('reports the sync lag as quantiles over the mailboxes that receive, not per account', async () => {
    const { container } = testApp.current;
    const nowMs = container.now().getTime();
    const at = (secondsAgo: number) => new Date(nowMs - secondsAgo * 1000).toISOString();
    const imap = { protocol: 'imap', host: 'imap.operations.test', username: 'ops', password: 'secret-pw' };
    const schedule = async (accountId: string, nextSyncAt: string) => {
      await container.db
        .insertInto('mailbox_syncs')
        .values({
          account_id: accountId,
          cursor: null,
          next_sync_at: nextSyncAt,
          lease_owner: null,
          lease_until: null,
          auth_failures: 0,
          last_sync_at: at(3600),
          imported: 0,
        })
        .execute();
    };
    // Measured: not due yet (0), never synced (created now: 0), 10 s, 100 s and 1000 s overdue.
    await schedule(await ownAccount(imap), at(-60));
    await ownAccount(imap);
    await schedule(await ownAccount(imap), at(10));
    await schedule(await ownAccount(imap), at(100));
    await schedule(await ownAccount(imap), at(1000));
    // Left out: receiving paused for a person, and an account that receives nothing.
    const paused = await ownAccount(imap);
    await schedule(paused, at(5000));
    await container.db
      .updateTable('accounts')
      .set({ incoming_state: 'paused' })
      .where('id', '=', paused)
      .execute();
    await schedule(await ownAccount(), at(9000));

    const { text } = await scrape(testApp.current.baseUrl);
    expect(valueOf(text, 'mailroom_sync_mailboxes')).toBe(5);
    const lag = (quantile: string) => valueOf(text, 'mailroom_sync_lag_seconds', { quantile });
    expect([lag('0.5'), lag('0.9'), lag('0.99'), lag('1')]).toEqual([10, 1000, 1000, 1000]);
    expect(parseSamples(text).filter((sample) => sample.name === 'mailroom_sync_lag_seconds')).toHaveLength(
      4,
    );
  });

  it('counts sends, send errors by code and reply, and outbox leases taken over, from the dispatcher', async () => {
    const { container } = testApp.current;
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (!address.address.startsWith('refused')) return callback();
        callback(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    smtp.on('error', () => undefined);
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const pool = createSmtpSenderPool();
    try {
      const response = await call('POST', '/api/accounts', {
        type: 'own',
        name: 'Counted',
        email: 'counted@operations.test',
        smtp: {
          host: '127.0.0.1',
          port: (smtp.server.address() as AddressInfo).port,
          security: 'none',
          requiresAuth: false,
        },
      });
      const accountId = response.body.id as string;
      const queue = async (to: string) =>
        (await call('POST', '/api/messages', { accountId, to: [to], subject: 'Counted', text: 'Hi' })).body
          .id as string;
      await queue('one@client.test');
      await queue('two@client.test');
      const refused = await queue('refused@client.test');
      const orphan = await queue('three@client.test');
      // A worker died holding this one, before DATA: its lease has run out.
      await container.db
        .updateTable('messages')
        .set({ status: 'sending', lease_owner: 'worker-dead', lease_until: new Date(0).toISOString() })
        .where('id', '=', orphan)
        .execute();

      await runOutboxOnce(container, pool);

      const refusedMessage = (await call('GET', `/api/messages/${refused}`)).body;
      expect(refusedMessage.status).toBe('error');
      const { text } = await scrape(testApp.current.baseUrl);
      expect(valueOf(text, 'mailroom_messages_sent_total')).toBe(3);
      const errors = parseSamples(text).filter((sample) => sample.name === 'mailroom_send_errors_total');
      expect(errors).toEqual([
        {
          name: 'mailroom_send_errors_total',
          labels: { code: refusedMessage.errorCode, reply: '550' },
          value: 1,
        },
      ]);
      expect(valueOf(text, 'mailroom_lease_takeovers_total', { kind: 'outbox' })).toBe(1);
      expect(valueOf(text, 'mailroom_lease_takeovers_total', { kind: 'webhook' })).toBe(0);
    } finally {
      await pool.close();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });

  it('counts each failed webhook delivery attempt, and not the delivered ones', async () => {
    const { container } = testApp.current;
    const outcomes = ['pending', 'delivered', 'failed'] as const;
    let claims = 0;
    const engine = {
      claim: async () => (claims++ === 0 ? outcomes.map((_, index) => ({ id: `d${index}` })) : []),
      prepare: async () => ({ url: 'https://hooks.test/', body: '{}', headers: {} }),
      record: async (claimed: { id: string }) => outcomes[Number(claimed.id.slice(1))]!,
    } as unknown as WebhookDeliveryEngine;
    const worker = createWebhookWorker({
      engine,
      post: async () => ({ statusCode: 500, latencyMs: 1, error: 'HTTP 500' }) as never,
      now: container.now,
      logger: createLogger('silent'),
      pollIntervalMs: 60_000,
      concurrency: 4,
      metrics: container.metrics,
    });
    await worker.runOnce(new AbortController().signal);
    const { text } = await scrape(testApp.current.baseUrl);
    expect(valueOf(text, 'mailroom_webhook_failures_total')).toBe(2);
  });
});

describe.each(testDialects)('/metrics behind MAILROOM_METRICS_TOKEN on %s', (dialect) => {
  const token = 'metrics-Secret-token-never-shown';
  const testApp = useTestApp(dialect, { MAILROOM_METRICS_TOKEN: token });

  it('wants the token as a bearer token, and says so without echoing it', async () => {
    const { baseUrl, logs } = testApp.current;
    const missing = await scrape(baseUrl);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const wrong = await scrape(baseUrl, { authorization: `Bearer ${token}x` });
    expect(wrong.status).toBe(401);
    const apiStyle = await scrape(baseUrl, { authorization: token });
    expect(apiStyle.status).toBe(401);
    const right = await scrape(baseUrl, { authorization: `Bearer ${token}` });
    expect(right.status).toBe(200);
    expect(right.text).toContain('# HELP mailroom_outbox_queue_depth ');
    for (const text of [missing.text, wrong.text, ...logs]) expect(text).not.toContain(token);
    // The probes stay open: the load balancer has no token.
    expect((await request(baseUrl, 'GET', '/readyz')).status).toBe(200);
    expect((await request(baseUrl, 'GET', '/healthz')).status).toBe(200);
  });
});

describe.each(testDialects)('/readyz when the database is not ready, on %s', (dialect) => {
  const silent = createLogger('silent');
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  async function readyz(container: Container) {
    const app = await buildServer(container);
    try {
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      return { status: response.statusCode, body: response.json() as Body };
    } finally {
      await app.close();
    }
  }

  it('answers 503 naming the migrations not applied, and 200 once they are', async () => {
    const database = await createTestDatabase(dialect);
    try {
      const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
        database.db,
      );
      const last = rows.at(-1)!;
      await sql`delete from kysely_migration where name = ${last.name}`.execute(database.db);
      const config = loadConfig({ ...database.env, LOG_LEVEL: 'silent' });
      const container = await createContainer(config, { logger: silent, migrate: false });
      try {
        expect(await readyz(container)).toEqual({
          status: 503,
          body: {
            status: 'unavailable',
            database: 'ok',
            migrations: 'pending',
            pendingMigrations: [last.name],
          },
        });
        await sql`insert into kysely_migration (name, timestamp) values (${last.name}, ${new Date().toISOString()})`.execute(
          database.db,
        );
        expect(await readyz(container)).toMatchObject({ status: 200, body: { migrations: 'current' } });
      } finally {
        await container.close();
      }
    } finally {
      await database.drop();
    }
  });

  it('answers 503 when the database does not answer, and /metrics still serves what it can', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-readyz-'));
    dirs.push(dataDir);
    const env =
      dialect === 'postgres'
        ? // Nothing listens there: the connection is refused.
          {
            DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/test`,
            MAILROOM_SECRET_KEY: testSecretKey,
          }
        : {};
    const container = await createContainer(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env }), {
      logger: silent,
      migrate: dialect === 'sqlite',
    });
    const app = await buildServer(container);
    try {
      // SQLite is a file in this process: the unreachable case is a database connection gone.
      if (dialect === 'sqlite') await container.db.destroy();
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect({ status: ready.statusCode, body: ready.json() as Body }).toEqual({
        status: 503,
        body: {
          status: 'unavailable',
          database: 'unreachable',
          migrations: 'unknown',
          pendingMigrations: [],
        },
      });
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(valueOf(metrics.body, 'mailroom_messages_sent_total')).toBe(0);
      expect(parseSamples(metrics.body).some((sample) => sample.name === 'mailroom_outbox_queue_depth')).toBe(
        false,
      );
    } finally {
      await app.close();
      await container.close().catch(() => undefined);
    }
  });
});
