/**
 * Webhooks end to end, against real HTTP receivers on 127.0.0.1: signed deliveries of the events
 * the endpoints subscribe to, retries with backoff on a controllable clock, timeouts, the 24-hour
 * turn-off with its alert, the rule action, the secret kept out of every other reply, and the URL
 * rules (with the two MAILROOM_ALLOW_* flags on for the receivers, and off for the refusals).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { runAutomationOnce } from '../../../test/support/automation.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { runWebhooksOnce } from '../../../test/support/webhooks.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Body;
  /** Whether Mailroom-Signature checked out under the receiver's secret at the time. */
  signatureValid: boolean;
}

interface Receiver {
  url: string;
  received: Received[];
  /** The secret the receiver checks signatures with (set from the create response). */
  secret: string;
  close(): Promise<void>;
}

function verify(secret: string, header: string | undefined, body: string): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((part) => part.split('=', 2)));
  if (!parts.t || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A real receiver: records each request and answers what `answer` says (a status, after an
 * optional delay). Requests with a bad signature get 401 whatever `answer` says.
 */
async function startReceiver(
  answer: (index: number) => { status: number; delayMs?: number } = () => ({ status: 200 }),
): Promise<Receiver> {
  const sockets = new Set<Socket>();
  const receiver: Receiver = { url: '', received: [], secret: '', close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signatureValid = verify(receiver.secret, req.headers['mailroom-signature'] as string, body);
      const index = receiver.received.push({
        headers: req.headers,
        body,
        json: JSON.parse(body) as Body,
        signatureValid,
      });
      const { status, delayMs = 0 } = answer(index - 1);
      setTimeout(() => res.writeHead(signatureValid ? status : 401).end(), delayMs);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/mailroom`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      sockets.forEach((socket) => socket.destroy());
      server.close(() => resolve());
    });
  return receiver;
}

describe.each(testDialects)('webhooks on %s', (dialect) => {
  const testApp = useTestApp(dialect, {
    MAILROOM_ALLOW_INSECURE_WEBHOOKS: 'true',
    MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
    WEBHOOK_TIMEOUT_MS: '1000',
  });
  let admin: SignedIn;
  let member: SignedIn;
  const receivers: Receiver[] = [];

  const api = <Result = Body>(method: string, path: string, body?: unknown, as: SignedIn = admin) =>
    request<Result>(testApp.current.baseUrl, method, path, {
      token: as.token,
      ...(body !== undefined && { body }),
    });

  async function receiver(answer?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
    const started = await startReceiver(answer);
    receivers.push(started);
    return started;
  }

  /** An endpoint for the receiver, which from now on checks signatures with its secret. */
  async function endpoint(target: Receiver, eventTypes: string[], url = target.url): Promise<Body> {
    const created = await api('POST', '/api/webhooks', { url, eventTypes });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    target.secret = created.body.secret as string;
    return created.body;
  }

  async function contact(email: string): Promise<string> {
    const created = await api('POST', '/api/contacts', { email });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  /** A `contact.tags_changed` event, made through the API. */
  async function tagContact(id: string, tags: string[]): Promise<void> {
    expect((await api('PATCH', `/api/contacts/${id}`, { tags })).status).toBe(200);
  }

  async function pass(options?: { allowPrivateHosts?: boolean }): Promise<void> {
    await runAutomationOnce(testApp.current.container);
    await runWebhooksOnce(testApp.current.container, options);
  }

  const deliveries = async (id: string) =>
    (await api('GET', `/api/webhooks/${id}/deliveries`)).body.items as Body[];
  const advance = (ms: number) => testApp.current.clock.advance(ms);
  const now = () => testApp.current.clock.now();

  beforeAll(async () => {
    const org = `Hooks ${dialect}`;
    admin = await signUp(testApp.current.container, { org, role: 'admin' });
    member = await signUp(testApp.current.container, { org, role: 'member' });
  });

  afterAll(async () => {
    await Promise.all(receivers.map((started) => started.close()));
  });

  it('delivers the events an endpoint subscribes to, signed with its secret, once', async () => {
    const target = await receiver();
    const hook = await endpoint(target, ['contact.tags_changed']);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const id = await contact(`signed-${dialect}@customer.test`);
    await tagContact(id, ['vip']);
    // Another type, not subscribed to: not sent.
    expect((await api('PATCH', `/api/contacts/${id}`, { score: 3 })).status).toBe(200);
    await pass();

    expect(target.received).toHaveLength(1);
    const [got] = target.received;
    const event = (await api('GET', `/api/events?contactId=${id}&type=contact.tags_changed`)).body.items[0];
    expect(got!.signatureValid).toBe(true);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['user-agent']).toMatch(/^Mailroom-Webhooks\//);
    expect(got!.headers['mailroom-event-id']).toBe(event.id);
    expect(got!.headers['mailroom-signature']).toMatch(
      new RegExp(`^t=${Math.floor(now().getTime() / 1000)},v1=[0-9a-f]{64}$`),
    );
    expect(got!.json).toEqual({
      id: event.id,
      type: 'contact.tags_changed',
      createdAt: event.createdAt,
      data: { contactId: id, added: ['vip'], removed: [] },
    });

    const log = await deliveries(hook.id);
    expect(log).toEqual([
      expect.objectContaining({
        eventId: event.id,
        eventType: 'contact.tags_changed',
        status: 'delivered',
        ruleId: null,
        attempts: [{ at: now().toISOString(), statusCode: 200, latencyMs: expect.any(Number), error: null }],
      }),
    ]);

    // Another pass, as after a restart: nothing is sent twice.
    await pass();
    expect(target.received).toHaveLength(1);

    // A rotated secret signs from now on; the old one no longer verifies.
    const oldSecret = target.secret;
    const rotated = await api('POST', `/api/webhooks/${hook.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(oldSecret);
    target.secret = rotated.body.secret as string;
    await tagContact(id, ['vip', 'rotated']);
    await pass();
    expect(target.received).toHaveLength(2);
    expect(target.received[1]!.signatureValid).toBe(true);
    expect(
      verify(
        oldSecret,
        target.received[1]!.headers['mailroom-signature'] as string,
        target.received[1]!.body,
      ),
    ).toBe(false);
    await api('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('retries a failing receiver with exponential backoff on the clock, and logs every attempt', async () => {
    const target = await receiver((index) => ({ status: index < 2 ? 500 : 200 }));
    const hook = await endpoint(target, ['contact.tags_changed']);
    const id = await contact(`retry-${dialect}@customer.test`);
    await tagContact(id, ['retry']);

    await pass();
    const first = now().getTime();
    let [delivery] = await deliveries(hook.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: [{ statusCode: 500, error: null }] });
    // The first retry: 30 seconds with jitter (half to all of it).
    const gap1 = new Date(delivery!.nextAttemptAt as string).getTime() - first;
    expect(gap1).toBeGreaterThanOrEqual(15_000);
    expect(gap1).toBeLessThanOrEqual(30_000);
    expect((await api('GET', `/api/webhooks/${hook.id}`)).body.failingSince).toBe(
      new Date(first).toISOString(),
    );

    // Not due yet: nothing sent.
    advance(gap1 - 1_000);
    await pass();
    expect(target.received).toHaveLength(1);

    advance(1_000);
    await pass();
    [delivery] = await deliveries(hook.id);
    expect(delivery!.attempts.map((attempt: Body) => attempt.statusCode)).toEqual([500, 500]);
    // The second gap doubles: 30 to 60 seconds.
    const gap2 = new Date(delivery!.nextAttemptAt as string).getTime() - now().getTime();
    expect(gap2).toBeGreaterThanOrEqual(30_000);
    expect(gap2).toBeLessThanOrEqual(60_000);

    advance(gap2);
    await pass();
    [delivery] = await deliveries(hook.id);
    expect(delivery).toMatchObject({
      status: 'delivered',
      nextAttemptAt: null,
      deliveredAt: now().toISOString(),
    });
    expect(delivery!.attempts).toEqual([
      { at: new Date(first).toISOString(), statusCode: 500, latencyMs: expect.any(Number), error: null },
      {
        at: new Date(first + gap1).toISOString(),
        statusCode: 500,
        latencyMs: expect.any(Number),
        error: null,
      },
      { at: now().toISOString(), statusCode: 200, latencyMs: expect.any(Number), error: null },
    ]);
    expect(target.received.map((got) => got.headers['mailroom-event-id'])).toEqual(
      Array(3).fill(delivery!.eventId),
    );
    // A success forgets the failures.
    expect((await api('GET', `/api/webhooks/${hook.id}`)).body.failingSince).toBeNull();
    await api('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('counts a receiver that does not answer within the timeout as failed, and retries it', async () => {
    const target = await receiver(() => ({ status: 200, delayMs: 3_000 }));
    const hook = await endpoint(target, ['contact.tags_changed']);
    const id = await contact(`slow-${dialect}@customer.test`);
    await tagContact(id, ['slow']);
    await pass();
    expect(target.received).toHaveLength(1);
    const [delivery] = await deliveries(hook.id);
    expect(delivery).toMatchObject({
      status: 'pending',
      attempts: [{ statusCode: null, error: 'no answer within 1000 ms' }],
    });
    expect(delivery!.attempts[0].latencyMs).toBeGreaterThanOrEqual(990);
    expect(delivery!.attempts[0].latencyMs).toBeLessThan(3_000);
    expect(delivery!.nextAttemptAt).toEqual(expect.any(String));
    await api('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('turns off an endpoint that fails for 24 hours, alerts its owner, and turns it back on', async () => {
    const target = await receiver(() => ({ status: 503 }));
    const hook = await endpoint(target, ['contact.tags_changed']);
    const id = await contact(`down-${dialect}@customer.test`);
    await tagContact(id, ['down']);
    await pass();
    const first = now().getTime();
    // Hourly passes (gaps are capped at an hour): still on after 23 hours.
    for (let hour = 1; hour <= 23; hour++) {
      advance(60 * 60_000);
      await pass();
    }
    expect((await api('GET', `/api/webhooks/${hook.id}`)).body).toMatchObject({ enabled: true });
    const [pending] = await deliveries(hook.id);
    expect(pending!.status).toBe('pending');
    expect(pending!.attempts.length).toBeGreaterThanOrEqual(10);
    expect(pending!.attempts.every((attempt: Body) => attempt.statusCode === 503)).toBe(true);
    // The retry at the 24-hour mark is the last.
    expect(new Date(pending!.nextAttemptAt as string).getTime()).toBeLessThanOrEqual(
      first + 24 * 60 * 60_000,
    );

    advance(60 * 60_000);
    await pass();
    const off = (await api('GET', `/api/webhooks/${hook.id}`)).body;
    expect(off).toMatchObject({
      enabled: false,
      disabledReason: 'deliveries failed for 24 hours',
      disabledAt: now().toISOString(),
    });
    const [failed] = await deliveries(hook.id);
    expect(failed).toMatchObject({ status: 'failed', nextAttemptAt: null });
    const alerts = (await api('GET', '/api/notifications?unread=true')).body.items as Body[];
    expect(alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          title: 'Webhook turned off',
          body: expect.stringContaining(`webhook ${hook.id}`),
        }),
      ]),
    );
    expect((await api('GET', '/api/notifications', undefined, member)).body.items).toEqual([]);
    const audit = (await api('GET', `/api/audit?targetId=${hook.id}`)).body.items as Body[];
    expect(audit.map((entry) => entry.action)).toEqual(
      expect.arrayContaining(['webhook.created', 'webhook.disabled']),
    );

    // Turned off: new events are not queued for it, and nothing more is sent.
    const sent = target.received.length;
    await tagContact(id, ['down', 'again']);
    advance(60 * 60_000);
    await pass();
    expect(target.received).toHaveLength(sent);
    expect(await deliveries(hook.id)).toHaveLength(1);

    const on = await api('PATCH', `/api/webhooks/${hook.id}`, { enabled: true });
    expect(on.body).toMatchObject({
      enabled: true,
      failingSince: null,
      disabledReason: null,
      disabledAt: null,
    });
    await api('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('calls a webhook from a rule, once per endpoint even when the endpoint also subscribes to the event', async () => {
    const subscribed = await receiver();
    const other = await receiver();
    const both = await endpoint(subscribed, ['account.created']);
    const ruleOnly = await endpoint(other, ['email.received']);
    const rule = await api('POST', '/api/rules', {
      name: 'Tell the CRM about new accounts',
      trigger: 'account.created',
      actions: [
        { type: 'webhook', endpointId: both.id },
        { type: 'webhook', endpointId: ruleOnly.id },
      ],
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const account = await api('POST', '/api/accounts', {
      type: 'marketing',
      name: 'Launches',
      email: `launch-${dialect}@shop.test`,
    });
    expect(account.status).toBe(201);
    await pass();
    await pass();

    for (const target of [subscribed, other]) {
      expect(target.received).toHaveLength(1);
      expect(target.received[0]!.signatureValid).toBe(true);
      expect(target.received[0]!.json).toMatchObject({
        type: 'account.created',
        data: { accountId: account.body.id, name: 'Launches', type: 'marketing' },
      });
    }
    expect((await deliveries(ruleOnly.id))[0]).toMatchObject({ ruleId: rule.body.id, status: 'delivered' });
    const runs = (await api('GET', `/api/rules/${rule.body.id}/runs`)).body.items as Body[];
    expect(runs).toEqual([
      expect.objectContaining({
        status: 'done',
        actions: [
          expect.objectContaining({ status: 'done', detail: `already queued for webhook ${both.id}` }),
          expect.objectContaining({ status: 'done', detail: `queued for webhook ${ruleOnly.id}` }),
        ],
      }),
    ]);

    // A turned-off endpoint fails the action, naming it; the other action still runs.
    await api('PATCH', `/api/webhooks/${ruleOnly.id}`, { enabled: false });
    await api('POST', '/api/accounts', {
      type: 'marketing',
      name: 'Later',
      email: `later-${dialect}@shop.test`,
    });
    await pass();
    const latest = ((await api('GET', `/api/rules/${rule.body.id}/runs`)).body.items as Body[])[0];
    expect(latest).toMatchObject({
      status: 'pending',
      actions: [
        expect.objectContaining({ status: 'done' }),
        expect.objectContaining({
          status: 'failed',
          detail: `webhook endpoint ${ruleOnly.id} is turned off`,
        }),
      ],
    });
    expect(subscribed.received).toHaveLength(2);
    expect(other.received).toHaveLength(1);

    // A rule cannot name an endpoint outside the organisation.
    const stranger = await signUp(testApp.current.container, {
      org: `Other hooks ${dialect}`,
      role: 'admin',
    });
    const foreign = await api(
      'POST',
      '/api/webhooks',
      { url: other.url, eventTypes: ['account.created'] },
      stranger,
    );
    const wrong = await api('POST', '/api/rules', {
      name: 'Leak',
      trigger: 'account.created',
      actions: [{ type: 'webhook', endpointId: foreign.body.id }],
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.fields).toEqual({
      'actions.0.endpointId': `no webhook endpoint ${foreign.body.id} in this organisation`,
    });
    await api('DELETE', `/api/rules/${rule.body.id}`);
    for (const hook of [both, ruleOnly]) await api('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('checks the address again at connect time, not only when the URL was saved', async () => {
    const target = await receiver();
    const port = new URL(target.url).port;
    const hook = await endpoint(target, ['contact.tags_changed'], `http://localhost:${port}/hook`);
    const id = await contact(`rebind-${dialect}@customer.test`);
    await tagContact(id, ['rebind']);
    // A worker where private hosts are not allowed: the name now resolves to loopback.
    await pass({ allowPrivateHosts: false });
    expect(target.received).toHaveLength(0);
    const [delivery] = await deliveries(hook.id);
    expect(delivery!.attempts).toEqual([
      expect.objectContaining({
        statusCode: null,
        error: "localhost: the server's address is loopback; only public addresses are allowed",
      }),
    ]);
    await api('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('shows the secret only on create and rotate, and keeps webhooks to admins', async () => {
    const target = await receiver();
    const hook = await endpoint(target, ['contact.tags_changed']);
    const secret = hook.secret as string;
    const rotated = (await api('POST', `/api/webhooks/${hook.id}/rotate-secret`)).body.secret as string;
    const id = await contact(`secret-${dialect}@customer.test`);
    await tagContact(id, ['secret']);
    await pass();
    const replies = [
      await api('GET', '/api/webhooks'),
      await api('GET', `/api/webhooks/${hook.id}`),
      await api('PATCH', `/api/webhooks/${hook.id}`, { description: 'CRM sync' }),
      await api('GET', `/api/webhooks/${hook.id}/deliveries`),
      await api('GET', `/api/audit?targetId=${hook.id}`),
      await api('GET', '/api/events'),
    ];
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      const text = JSON.stringify(reply.body);
      expect(text).not.toContain(secret);
      expect(text).not.toContain(rotated);
      expect(text).not.toContain('whsec_');
    }
    expect(replies[1]!.body).not.toHaveProperty('secret');
    expect(replies[2]!.body).toMatchObject({ description: 'CRM sync' });
    const logs = testApp.current.logs.join('');
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(rotated);
    const stored = await testApp.current.container.db
      .selectFrom('webhook_endpoints')
      .select('secret')
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(stored.secret).toMatch(/^v1\./);
    expect(stored.secret).not.toContain(rotated);

    for (const [method, path, body] of [
      ['GET', '/api/webhooks'],
      ['POST', '/api/webhooks', { url: target.url, eventTypes: ['account.created'] }],
      ['GET', `/api/webhooks/${hook.id}`],
      ['PATCH', `/api/webhooks/${hook.id}`, { enabled: false }],
      ['DELETE', `/api/webhooks/${hook.id}`],
      ['POST', `/api/webhooks/${hook.id}/rotate-secret`],
      ['GET', `/api/webhooks/${hook.id}/deliveries`],
    ] as [string, string, Body?][]) {
      const refused = await api(method, path, body, member);
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(JSON.stringify(refused.body)).not.toContain('whsec_');
    }
    const stranger = await signUp(testApp.current.container, { org: `Strangers ${dialect}`, role: 'admin' });
    expect((await api('GET', `/api/webhooks/${hook.id}`, undefined, stranger)).body.error.code).toBe(
      'WEBHOOK_NOT_FOUND',
    );
    expect((await api('GET', `/api/webhooks/${hook.id}`)).body.enabled).toBe(true);

    const openapi = await request<{ paths: Record<string, unknown> }>(
      testApp.current.baseUrl,
      'GET',
      '/api/openapi.json',
    );
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/webhooks',
        '/api/webhooks/{id}',
        '/api/webhooks/{id}/deliveries',
        '/api/webhooks/{id}/rotate-secret',
      ]),
    );
    expect((await api('DELETE', `/api/webhooks/${hook.id}`)).status).toBe(204);
    expect((await api('GET', `/api/webhooks/${hook.id}`)).status).toBe(404);
  });
});

describe.each(testDialects)('webhook URL rules on %s (insecure and private hosts not allowed)', (dialect) => {
  const testApp = useTestApp(dialect, { MAILROOM_ALLOW_PRIVATE_HOSTS: 'false' });
  let admin: SignedIn;
  const create = (url: string) =>
    request<Body>(testApp.current.baseUrl, 'POST', '/api/webhooks', {
      token: admin.token,
      body: { url, eventTypes: ['account.created'] },
    });

  beforeAll(async () => {
    admin = await signUp(testApp.current.container, { org: `Strict hooks ${dialect}`, role: 'admin' });
  });

  it('refuses http:// URLs', async () => {
    const refused = await create('http://203.0.113.10/hook');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      fields: { url: 'must be an https:// URL' },
    });
  });

  it.each([
    ['localhost', 'https://localhost/hook', '127.0.0.1', 'loopback'],
    ['a loopback address', 'https://127.0.0.1:8443/hook', '127.0.0.1', 'loopback'],
    [
      'the metadata address',
      'https://169.254.169.254/latest/meta-data',
      '169.254.169.254',
      'a cloud metadata endpoint',
    ],
    ['an IPv4-mapped private address', 'https://[::ffff:10.0.0.1]/hook', '10.0.0.1', 'private (RFC 1918)'],
    ['an IPv6 loopback', 'https://[::1]/hook', '::1', 'loopback'],
  ])('refuses a host that resolves to %s, without echoing the address', async (_name, url, address, rule) => {
    const refused = await create(url);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    expect(refused.body.error.fields).toEqual({ url: `the server's address is ${rule}` });
    if (!url.includes(address)) expect(JSON.stringify(refused.body)).not.toContain(address);
  });

  it('accepts a public https:// address, and checks a changed URL again', async () => {
    // a public address (nothing is sent to it: no worker runs here)
    const created = await create('https://8.8.8.8/hook');
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const changed = await request<Body>(
      testApp.current.baseUrl,
      'PATCH',
      `/api/webhooks/${created.body.id}`,
      { token: admin.token, body: { url: 'https://192.168.1.20/hook' } },
    );
    expect(changed.status).toBe(400);
    expect(changed.body.error.fields).toEqual({ url: "the server's address is private (RFC 1918)" });
  });
});
