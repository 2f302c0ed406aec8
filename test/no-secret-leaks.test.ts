import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { inspect } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventTypes } from '../src/domains/automation/events.ts';
import { openImapReader } from '../src/mail/imap-reader.ts';
import { createSmtpSenderPool } from '../src/mail/smtp-sender.ts';
import { startHttpConnectProxy } from '../src/mail/smtp-test-fixtures.ts';
import { anyHost } from '../src/net/address-policy.ts';
import { createWorkerTasks } from '../src/workers/tasks.ts';
import { request, signUp, useTestApp, type SignedIn } from './support/app.ts';
import { testDialects } from './support/dialects.ts';
import { createMailbox, mailPeers, waitForMessage, type Mailbox } from './support/mail-peers.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A password no text would contain by chance. */
const canary = (name: string) => `${name}-Canary-${randomBytes(6).toString('hex')}`;

/** The forms a password could leak in: as is, base64, inside SASL PLAIN and HTTP Basic, JSON-escaped. */
function leakForms(user: string, password: string): string[] {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return [
    password,
    b64(password),
    b64(`\u0000${user}\u0000${password}`),
    b64(`${user}\u0000${password}`),
    b64(`${user}:${password}`),
    encodeURIComponent(password),
  ];
}

/** Where each collected text came from, for a failure that says where the leak is. */
interface Collected {
  where: string;
  text: string;
}

function findLeaks(collected: Collected[], secrets: Record<string, string[]>): string[] {
  const leaks: string[] = [];
  for (const { where, text } of collected) {
    for (const [name, forms] of Object.entries(secrets)) {
      const form = forms.find((candidate) => text.includes(candidate));
      if (form)
        leaks.push(
          `${name} (as ${JSON.stringify(form)}) in ${where}: …${text.slice(Math.max(0, text.indexOf(form) - 80), text.indexOf(form) + 80)}…`,
        );
    }
  }
  return leaks;
}

/** Every value as text: Buffers (raw messages, blobs) decoded, so a password inside one is found. */
function asText(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner instanceof Uint8Array) return Buffer.from(inner).toString('utf8');
    if (inner && typeof inner === 'object' && (inner as { type?: unknown }).type === 'Buffer') {
      return Buffer.from((inner as { data: number[] }).data).toString('utf8');
    }
    if (typeof inner === 'bigint') return inner.toString();
    return inner;
  });
}

/** Every file under `dir` (the SQLite database, its WAL, raw messages, the key file…). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .flatMap((entry) => (entry.isFile() ? [path.join(entry.parentPath, entry.name)] : []));
}

/**
 * A whole day of Mailroom with real servers, watched for passwords: accounts with remembered, memory-
 * only and wrong passwords (SMTP and IMAP on Postfix and Dovecot) and a proxy password (an HTTP
 * CONNECT proxy that checks it), "test settings", sending, fetching, failed logins, events and a
 * webhook, run by the production worker wiring. Every log line (at trace), API response, event
 * payload, webhook request and error is collected, and none holds any password in any form. The
 * memory-only password is, besides, in no file under DATA_DIR and in no row of any table.
 */
describe.each(testDialects)('no password leaks on %s', (dialect) => {
  const testApp = useTestApp(dialect, {
    LOG_LEVEL: 'trace',
    MAILROOM_ALLOW_INSECURE_WEBHOOKS: 'true',
    WEBHOOK_TIMEOUT_MS: '2000',
  });
  const collected: Collected[] = [];
  const webhookBodies: string[] = [];
  let receiver: http.Server;
  let receiverUrl = '';
  let proxy: Awaited<ReturnType<typeof startHttpConnectProxy>>;
  let admin: SignedIn;
  let remembered: Mailbox;
  let memoryOnly: Mailbox;
  const proxyPassword = canary('proxy');
  const wrongSmtp = canary('wrong-smtp');
  const wrongImap = canary('wrong-imap');

  beforeAll(async () => {
    admin = await signUp(testApp.current.container, { org: `Leaks ${dialect}`, role: 'admin' });
    [remembered, memoryOnly] = await Promise.all([
      createMailbox(canary('remembered')),
      createMailbox(canary('memory')),
    ]);
    proxy = await startHttpConnectProxy({ user: 'proxyuser', pass: proxyPassword });
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        webhookBodies.push(`${JSON.stringify(req.headers)}\n${body}`);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;
  });
  afterAll(async () => {
    await proxy?.close();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  const call = async (method: string, urlPath: string, body?: unknown) => {
    const response = await request<Body>(testApp.current.baseUrl, method, urlPath, {
      token: admin.token,
      body,
    });
    collected.push({
      where: `${method} ${urlPath} (${response.status})`,
      text: JSON.stringify(response.body),
    });
    return response;
  };

  it('shows no password in logs, responses, events, webhooks or errors, and keeps the memory-only one off disk', async () => {
    const { container } = testApp.current;
    const smtp = { host: 'localhost', port: mailPeers.ports.submission, security: 'starttls' };
    const imap = { protocol: 'imap', host: '127.0.0.1', port: mailPeers.ports.imap, security: 'starttls' };

    // A login with the user's own password, and a webhook for every event.
    const login = await request<Body>(testApp.current.baseUrl, 'POST', '/api/auth/login', {
      body: { email: admin.email, password: admin.password },
    });
    collected.push({
      where: 'POST /api/auth/login',
      text: `${JSON.stringify(login.body)} ${JSON.stringify([...login.headers])}`,
    });
    const hook = await call('POST', '/api/webhooks', { url: receiverUrl, eventTypes: [...eventTypes] });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);

    // Remembered passwords, sending through the proxy; memory-only ones; wrong ones.
    const created = await Promise.all([
      call('POST', '/api/accounts', {
        type: 'own',
        name: 'Remembered',
        email: remembered.address,
        smtp: {
          ...smtp,
          username: remembered.user,
          password: remembered.password,
          proxy: {
            type: 'http',
            host: '127.0.0.1',
            port: proxy.port,
            username: 'proxyuser',
            password: proxyPassword,
          },
        },
        incoming: {
          ...imap,
          username: remembered.user,
          password: remembered.password,
          syncSince: '2026-01-01',
        },
      }),
      call('POST', '/api/accounts', {
        type: 'own',
        name: 'Memory only',
        email: memoryOnly.address,
        smtp: { ...smtp, useIncomingCredentials: true },
        incoming: {
          ...imap,
          username: memoryOnly.user,
          password: memoryOnly.password,
          rememberPassword: false,
          syncSince: '2026-01-01',
        },
      }),
      call('POST', '/api/accounts', {
        type: 'own',
        name: 'Wrong passwords',
        email: `wrong-${dialect}@${mailPeers.domain}`,
        smtp: { ...smtp, username: remembered.user, password: wrongSmtp },
        incoming: { ...imap, username: remembered.user, password: wrongImap },
      }),
    ]);
    for (const response of created) expect(response.status, JSON.stringify(response.body)).toBe(201);
    const [a, b, c] = created.map((response) => response.body.id as string) as [string, string, string];

    // "Test settings", saved and unsaved, the wrong passwords included.
    for (const id of [a, b, c]) expect((await call('POST', `/api/accounts/${id}/test`)).status).toBe(200);
    await call('POST', '/api/accounts/test', {
      type: 'own',
      name: 'Unsaved',
      email: remembered.address,
      smtp: { ...smtp, username: remembered.user, password: wrongSmtp },
      incoming: { ...imap, username: remembered.user, password: wrongImap },
    });

    // Mail from each account; the third one's login fails.
    const subjects = {
      a: `From remembered ${dialect}`,
      b: `From memory-only ${dialect}`,
      c: `From wrong ${dialect}`,
    };
    const queued = await Promise.all([
      call('POST', '/api/messages', {
        accountId: a,
        to: [memoryOnly.address],
        subject: subjects.a,
        text: 'a',
      }),
      call('POST', '/api/messages', {
        accountId: b,
        to: [remembered.address],
        subject: subjects.b,
        text: 'b',
      }),
      call('POST', '/api/messages', {
        accountId: c,
        to: [remembered.address],
        subject: subjects.c,
        text: 'c',
      }),
    ]);
    for (const response of queued) expect(response.status, JSON.stringify(response.body)).toBe(202);

    // The production worker, in this process, with the app's logger: send, fetch, events, webhook.
    const worker = createWorkerTasks(container);
    const task = (name: string) => worker.tasks.find((candidate) => candidate.name === name)!;
    const signal = new AbortController().signal;
    await worker.join();
    try {
      await task('outbox').run(signal);
      await waitForMessage(
        memoryOnly.user,
        memoryOnly.password,
        (inbox) => inbox.mail.subject === subjects.a,
      );
      await waitForMessage(
        remembered.user,
        remembered.password,
        (inbox) => inbox.mail.subject === subjects.b,
      );
      for (const id of [a, b, c]) await container.services.mailboxes.makeDue(id);
      await task('mailboxes').run(signal);
      await task('automation').run(signal);
      await task('webhooks').run(signal);
    } finally {
      await worker.close();
    }

    // The scenario did what it says: two sent and fetched, the wrong one refused, a webhook delivered.
    const messages = await Promise.all(
      queued.map((response) => call('GET', `/api/messages/${response.body.id}`)),
    );
    expect(messages.map((response) => response.body.status)).toEqual([
      'sent',
      'sent',
      expect.not.stringMatching(/^sent$/),
    ]);
    const wrong = (await call('GET', `/api/accounts/${c}`)).body;
    expect(wrong.health).toMatchObject({
      outgoing: { state: 'auth_error' },
      incoming: { state: 'auth_error' },
    });
    expect(webhookBodies.length).toBeGreaterThan(0);
    expect(webhookBodies.join('\n')).toContain('email.received');

    // Every other read a person or a script could make.
    for (const id of [a, b, c]) await call('GET', `/api/accounts/${id}`);
    for (const urlPath of [
      '/api/me',
      '/api/accounts',
      '/api/admin/accounts',
      '/api/messages',
      '/api/events',
      '/api/audit',
      '/api/notifications',
      '/api/contacts',
      '/api/bounces',
      '/api/webhooks',
      `/api/webhooks/${hook.body.id}/deliveries`,
    ]) {
      await call('GET', urlPath);
    }

    // Errors straight from the adapters, as a caller that logs them whole would see them.
    const wrongLogin = await openImapReader({
      host: '127.0.0.1',
      port: mailPeers.ports.imap,
      security: 'starttls',
      user: remembered.user,
      pass: wrongImap,
      spa: false,
      timeoutMs: 5_000,
      folders: ['INBOX'],
      hostPolicy: anyHost,
    }).then(
      () => null,
      (error: unknown) => error,
    );
    const pool = createSmtpSenderPool();
    const wrongSend = await pool
      .send(
        'leaks',
        {
          host: 'localhost',
          port: mailPeers.ports.submission,
          security: 'starttls',
          auth: { user: remembered.user, pass: wrongSmtp, spa: false },
          proxy: {
            type: 'http',
            host: '127.0.0.1',
            port: proxy.port,
            username: 'proxyuser',
            password: proxyPassword,
          },
          timeoutMs: 5_000,
          hostPolicy: anyHost,
        },
        {
          envelope: { from: remembered.address, to: [memoryOnly.address] },
          raw: Buffer.from('Subject: x\r\n\r\nx\r\n'),
          messageId: '<leaks@example.test>',
        },
      )
      .then(
        () => null,
        (error: unknown) => error,
      )
      .finally(() => pool.close());
    for (const [name, error] of Object.entries({ wrongLogin, wrongSend })) {
      expect(error, name).toBeInstanceOf(Error);
      collected.push({
        where: `${name} error`,
        text: `${String(error)}\n${(error as Error).stack}\n${inspect(error, { depth: 8 })}\n${asText(error)}`,
      });
    }

    // Every event payload, every log line, every webhook request.
    const events = await container.db.selectFrom('events').selectAll().execute();
    expect(events.length).toBeGreaterThan(0);
    collected.push({ where: 'the events table', text: asText(events) });
    testApp.current.logs.forEach((line, index) => collected.push({ where: `log line ${index}`, text: line }));
    webhookBodies.forEach((body, index) => collected.push({ where: `webhook request ${index}`, text: body }));
    expect(testApp.current.logs.length).toBeGreaterThan(10);

    const secrets = {
      'the remembered password': leakForms(remembered.user, remembered.password),
      'the memory-only password': leakForms(memoryOnly.user, memoryOnly.password),
      'the proxy password': leakForms('proxyuser', proxyPassword),
      'the wrong SMTP password': leakForms(remembered.user, wrongSmtp),
      'the wrong IMAP password': leakForms(remembered.user, wrongImap),
      "the user's login password": leakForms(admin.email, admin.password),
    };
    expect(findLeaks(collected, secrets)).toEqual([]);

    // The memory-only password is on no disk: no row of any table, no file under DATA_DIR.
    const memorySecret = { 'the memory-only password': leakForms(memoryOnly.user, memoryOnly.password) };
    // PostgreSQL lists the tables of every schema; ours is the test's own (its search_path)
    const schema =
      dialect === 'postgres'
        ? (await sql<{ name: string }>`select current_schema() as name`.execute(container.db)).rows[0]!.name
        : undefined;
    const tables = [
      ...new Set(
        (await container.db.introspection.getTables())
          .filter((table) => schema === undefined || table.schema === schema)
          .map((table) => table.name),
      ),
    ];
    expect(tables).toEqual(expect.arrayContaining(['accounts', 'events', 'messages']));
    const rows: Collected[] = [];
    for (const table of tables) {
      const all = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(container.db);
      rows.push({ where: `table ${table}`, text: asText(all.rows) });
    }
    expect(findLeaks(rows, memorySecret)).toEqual([]);
    const files = filesUnder(container.config.dataDir).map((file) => ({
      where: file,
      text: fs.readFileSync(file).toString('latin1'),
    }));
    if (dialect === 'sqlite')
      expect(files.map((file) => path.basename(file.where))).toContain('mailroom.sqlite');
    // Bytes read as latin1: the canary is ASCII, so it is found wherever it was written as UTF-8.
    expect(findLeaks(files, memorySecret)).toEqual([]);
  });
});
