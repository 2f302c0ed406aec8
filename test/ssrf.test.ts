import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpSenderPool } from '../src/mail/smtp-sender.ts';
import { request, signUp, useTestApp, type SignedIn } from './support/app.ts';
import { testDialects } from './support/dialects.ts';
import { runMailboxSyncOnce } from './support/mailboxes.ts';
import { runOutboxOnce } from './support/outbox.ts';
import { startScriptedDns, type ScriptedDns } from './support/rebinding-dns.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The address policy through the whole service, as production runs it (MAILROOM_ALLOW_PRIVATE_HOSTS
 * unset): servers and proxies that resolve to internal addresses are refused when saved, with the
 * field and the rule; a name that rebinds after it was saved is refused at connect time, and that
 * refusal reaches "test settings", the account's health, the outbox and the mailbox sync like any
 * connect error. Names resolve through the test's own DNS server; only loopback is ever connected to.
 */
describe.each(testDialects)('outbound connections on %s with private hosts refused', (dialect) => {
  let dns: ScriptedDns;
  const testApp = useTestApp(
    dialect,
    { MAILROOM_ALLOW_PRIVATE_HOSTS: 'false' },
    { hostLookup: (name) => dns.lookup(name) },
  );
  const pool = createSmtpSenderPool();
  let user: SignedIn;
  let door: net.Server;
  let doorPort = 0;
  let knocks = 0;
  /** Every response body, to look for internal addresses in. */
  const seen: string[] = [];

  beforeAll(async () => {
    dns = await startScriptedDns();
    user = await signUp(testApp.current.container, { org: `SSRF ${dialect}` });
    door = net.createServer((socket) => {
      knocks += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve));
    doorPort = (door.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await pool.close();
    await new Promise<void>((resolve) => door.close(() => resolve()));
    await dns.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await request<Body>(testApp.current.baseUrl, method, path, { token: user.token, body });
    seen.push(JSON.stringify(response.body));
    return response;
  };

  it('refuses servers and proxies that resolve to internal addresses when saved, by field and rule', async () => {
    dns.answer('metadata.attacker.test', ['169.254.169.254']);
    const refused = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Inside',
      email: 'inside@acme.test',
      smtp: {
        host: '127.0.0.1',
        username: 'u',
        password: 'p',
        proxy: { type: 'socks5', host: '10.0.0.8', port: 1080 },
      },
      incoming: { protocol: 'imap', host: 'metadata.attacker.test', username: 'u', password: 'p' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      fields: {
        'smtp.host': "the server's address is loopback",
        'smtp.proxy.host': "the proxy's address is private (RFC 1918)",
        'incoming.host': "the server's address is a cloud metadata endpoint",
      },
    });
    expect(JSON.stringify(refused.body)).not.toContain('169.254.169.254');

    dns.answer('smtp.public.test', ['8.8.8.8']);
    const jmap = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Inside JMAP',
      email: 'inside-jmap@acme.test',
      smtp: { host: 'smtp.public.test', requiresAuth: false },
      incoming: { protocol: 'jmap', url: 'https://[::1]/jmap/session', username: 'u', password: 'p' },
    });
    expect(jmap.status).toBe(400);
    expect(jmap.body.error.fields).toEqual({ 'incoming.url': "the server's address is loopback" });

    const created = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Public',
      email: 'public@acme.test',
      smtp: { host: 'smtp.public.test', requiresAuth: false },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const changed = await call('PATCH', `/api/accounts/${created.body.id}`, {
      smtp: { host: '::ffff:192.168.1.1' },
    });
    expect(changed.status).toBe(400);
    expect(changed.body.error.fields).toEqual({ 'smtp.host': "the server's address is private (RFC 1918)" });
  });

  it('refuses at connect time a name that rebinds after it was saved: test settings, health, outbox, sync', async () => {
    dns.answer('smtp.rebind.test', ['8.8.8.8'], ['127.0.0.1']);
    dns.answer('imap.rebind.test', ['8.8.8.8'], ['127.0.0.1']);
    const created = await call('POST', '/api/accounts', {
      type: 'own',
      name: 'Rebinding',
      email: 'rebind@acme.test',
      smtp: { host: 'smtp.rebind.test', port: doorPort, security: 'none', requiresAuth: false },
      incoming: {
        protocol: 'imap',
        host: 'imap.rebind.test',
        port: doorPort,
        security: 'none',
        username: 'rebind',
        password: 'rebind-password',
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const refusal = (host: string) =>
      `${host}: the server's address is loopback; only public addresses are allowed`;

    const tested = await call('POST', `/api/accounts/${id}/test`);
    expect(tested.status).toBe(200);
    expect(tested.body.ok).toBe(false);
    expect(tested.body.steps).toEqual([
      expect.objectContaining({
        direction: 'outgoing',
        step: 'connect',
        ok: false,
        reply: refusal('smtp.rebind.test'),
      }),
      expect.objectContaining({
        direction: 'incoming',
        step: 'connect',
        ok: false,
        reply: refusal('imap.rebind.test'),
      }),
    ]);
    const health = (await call('GET', `/api/accounts/${id}`)).body.health;
    expect(health.outgoing).toMatchObject({ state: 'connect_error', lastError: refusal('smtp.rebind.test') });
    expect(health.incoming).toMatchObject({ state: 'connect_error', lastError: refusal('imap.rebind.test') });

    const queued = await call('POST', '/api/messages', {
      accountId: id,
      to: ['someone@example.test'],
      subject: 'Never sent',
      text: 'x',
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    await runOutboxOnce(testApp.current.container, pool);
    const message = (await call('GET', `/api/messages/${queued.body.id}`)).body;
    // like a refused connection: retried later, while the account's health says why
    expect(message).toMatchObject({ status: 'ready', errorCode: 'HOST_NOT_ALLOWED' });

    await testApp.current.container.services.mailboxes.makeDue(id);
    await runMailboxSyncOnce(testApp.current.container);
    const afterSync = (await call('GET', `/api/accounts/${id}`)).body.health;
    expect(afterSync.incoming).toMatchObject({
      state: 'connect_error',
      lastError: refusal('imap.rebind.test'),
    });

    expect(knocks).toBe(0);
    expect(seen.join('\n')).not.toContain('127.0.0.1');
    expect(testApp.current.logs.join('')).not.toContain('127.0.0.1:' + doorPort);
  });

  it('fails the connect step of "test settings" for unsaved settings at a loopback literal', async () => {
    const tested = await call('POST', '/api/accounts/test', {
      type: 'own',
      name: 'Literal',
      email: 'literal@acme.test',
      smtp: { host: '127.0.0.1', port: doorPort, security: 'none', requiresAuth: false },
    });
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({
      ok: false,
      steps: [
        {
          direction: 'outgoing',
          step: 'connect',
          ok: false,
          reply: "The server's address is loopback; only public addresses are allowed",
        },
      ],
    });
    expect(knocks).toBe(0);
  });
});
