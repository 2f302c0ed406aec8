/**
 * POST /api/accounts/discover on both dialects: SRV records from a local DNS server and an ISP
 * database on a local HTTPS server (the mail peers' certificate, which the test processes trust)
 * lead to Dovecot and Postfix; the settings it answers with are saved as they are.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import {
  clientConfig,
  emptyZone,
  startTestDns,
  startTestHttps,
  type Answer,
} from '../../../test/support/discovery.ts';
import { createMailbox, mailPeers, readMailPeers, type Mailbox } from '../../../test/support/mail-peers.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const zone = emptyZone();
const routes = new Map<string, Answer>();
const peers = readMailPeers();
const dns = await startTestDns(zone);
const ispdb = await startTestHttps(
  {
    cert: fs.readFileSync(peers.caPath, 'utf8'),
    key: fs.readFileSync(path.join(peers.root, 'tls', 'key.pem'), 'utf8'),
  },
  routes,
);
afterAll(() => Promise.all([dns.close(), ispdb.close()]));

describe.each(testDialects)('POST /api/accounts/discover on %s', (dialect) => {
  const testApp = useTestApp(dialect, {
    MAILROOM_DNS_SERVERS: `127.0.0.1:${dns.port}`,
    MAILROOM_ISPDB_URL: `https://localhost:${ispdb.port}/ispdb/{domain}`,
    MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
  });
  let member: SignedIn;
  let mailbox: Mailbox;
  const domain = `discover-${dialect}.test`;

  beforeAll(async () => {
    member = await signUp(testApp.current.container, { org: 'Discoverers' });
    mailbox = await createMailbox();
    routes.set(`localhost/ispdb/${domain}`, {
      status: 200,
      body: clientConfig(domain, [
        { kind: 'incoming', type: 'imap', host: 'localhost', port: mailPeers.ports.imaps, socketType: 'SSL' },
      ]),
    });
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
  });

  const discover = (body: unknown, token: string | null = member.token) =>
    request<Body>(testApp.current.baseUrl, 'POST', '/api/accounts/discover', {
      token: token ?? undefined,
      body,
    });

  it('answers with settings ready to save and the evidence, and the settings save as they are', async () => {
    const email = `${mailbox.user}@${domain}`;
    const response = await discover({ email, password: mailbox.password });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const body = response.body;
    expect(body.confidence).toBe('high');
    expect(body.settings).toMatchObject({
      type: 'own',
      email,
      smtp: { host: 'localhost', port: mailPeers.ports.submissions, security: 'tls', username: email },
      incoming: { protocol: 'imap', host: 'localhost', port: mailPeers.ports.imaps, security: 'tls' },
    });
    const sources = body.candidates.map((c: Body) => [c.direction, c.sources[0].source, c.result]);
    expect(sources).toEqual([
      ['outgoing', 'srv', 'login_ok'],
      ['incoming', 'ispdb', 'login_ok'],
    ]);
    expect(body.sources.map((s: Body) => s.source)).toEqual(
      expect.arrayContaining(['autoconfig', 'well-known', 'srv', 'ispdb', 'mx']),
    );
    expect(JSON.stringify(body)).not.toContain(mailbox.password);

    const created = await request<Body>(testApp.current.baseUrl, 'POST', '/api/accounts', {
      token: member.token,
      body: {
        ...body.settings,
        smtp: { ...body.settings.smtp, password: mailbox.password },
        incoming: { ...body.settings.incoming, password: mailbox.password },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      email,
      smtp: { hasPassword: true },
      incoming: { hasPassword: true },
    });
  });

  it('finds the servers without a password too, without logging in', async () => {
    const response = await discover({ email: `someone@${domain}` });
    expect(response.status).toBe(200);
    expect(response.body.candidates.map((c: Body) => c.result)).toEqual(['reachable', 'reachable']);
    expect(response.body.confidence).toBe('high');
  });

  it('says what is wrong with the request, and wants a login', async () => {
    const bad = await discover({ email: 'not an address', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(Object.keys(bad.body.error.fields)).toEqual(expect.arrayContaining(['email']));
    const literal = await discover({ email: 'someone@[127.0.0.1]' });
    expect(literal.status).toBe(400);
    expect(literal.body.error.fields.email).toMatch(/domain name/);
    expect((await discover({ email: `someone@${domain}` }, null)).status).toBe(401);
  });

  it('is in the OpenAPI document', async () => {
    const doc = await request<Body>(testApp.current.baseUrl, 'GET', '/api/openapi.json');
    const operation = doc.body.paths['/api/accounts/discover'].post;
    expect(operation.summary).toMatch(/Find the servers/);
    expect(Object.keys(operation.responses)).toContain('200');
  });
});
