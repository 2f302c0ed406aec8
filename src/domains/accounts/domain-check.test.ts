import type { AddressInfo } from 'node:net';
import dns2 from 'dns2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, signUp, useTestApp, type SignedIn } from '../../../test/support/app.ts';
import { testDialects } from '../../../test/support/dialects.ts';
import { txtStrings } from '../../mail/dkim.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** TXT records by name: what the local DNS server answers. A name not here is NXDOMAIN. */
const zone = new Map<string, string[]>();

const { Packet } = dns2;
const dnsServer = dns2.createUDPServer((query, send) => {
  const response = Packet.createResponseFromRequest(query);
  for (const question of query.questions) {
    const name = question.name.toLowerCase();
    const values = zone.get(name);
    if (values === undefined) response.header.rcode = 3;
    else if (question.type === Packet.TYPE.TXT) {
      for (const value of values) {
        response.answers.push({
          name: question.name,
          type: Packet.TYPE.TXT,
          class: Packet.CLASS.IN,
          ttl: 60,
          data: txtStrings(value),
        } as dns2.Packet.Resource);
      }
    }
  }
  void send(response);
});
await dnsServer.listen(0, '127.0.0.1');
const dnsPort = (dnsServer.address() as AddressInfo).port;
afterAll(() => new Promise<void>((resolve) => dnsServer.close(() => resolve())));

describe.each(testDialects)('the sending-domain check on %s', (dialect) => {
  const testApp = useTestApp(dialect, {
    MAILROOM_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
    MAILROOM_RELAY_URL: 'smtp://127.0.0.1:2525',
  });
  let admin: SignedIn;
  let member: SignedIn;
  let otherMember: SignedIn;

  beforeAll(async () => {
    const { container } = testApp.current;
    admin = await signUp(container, { org: 'Acme', role: 'admin' });
    member = await signUp(container, { org: 'Acme' });
    otherMember = await signUp(container, { org: 'Acme' });
  });

  async function call(method: string, path: string, as: SignedIn, body?: unknown) {
    return request<Body>(testApp.current.baseUrl, method, path, { token: as.token, body });
  }

  async function marketingAccount(email: string, scope: 'personal' | 'team' = 'personal') {
    const created = await call('POST', '/api/accounts', member, {
      type: 'marketing',
      name: 'Newsletter',
      email,
      displayName: 'Newsletter',
      scope,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  const check = (id: string, as: SignedIn) => call('GET', `/api/accounts/${id}/domain-check`, as);

  it('passes SPF, DKIM and DMARC for a domain set up for the relay and the stored key', async () => {
    const domain = `good-${dialect}.example.com`;
    const { record } = await testApp.current.container.services.dkim.generate(domain);
    zone.set(domain, ['v=spf1 ip4:127.0.0.1 -all']);
    zone.set(record.name, [record.value]);
    zone.set(`_dmarc.${domain}`, ['v=DMARC1; p=reject; adkim=r']);
    const id = await marketingAccount(`news@${domain}`);

    const response = await check(id, admin);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({
      domain,
      ok: true,
      spf: { status: 'pass', record: 'v=spf1 ip4:127.0.0.1 -all' },
      dkim: { status: 'pass', record: record.value },
      dmarc: {
        status: 'pass',
        record: 'v=DMARC1; p=reject; adkim=r',
        policy: { p: 'reject', adkim: 'r', aspf: 'r', pct: 100, sp: null, inherited: false },
      },
    });
    expect(response.body.spf.detail).toContain('127.0.0.1');
  });

  it('fails each part for a domain that does not allow the relay and publishes another key', async () => {
    const domain = `bad-${dialect}.example.com`;
    const { dkim } = testApp.current.container.services;
    const { record } = await dkim.generate(domain);
    const other = await dkim.generate(`other-${dialect}.example.com`);
    zone.set(domain, ['v=spf1 ip4:192.0.2.1 -all']);
    zone.set(record.name, [other.record.value]);
    zone.set(`_dmarc.${domain}`, ['v=DMARC1; p=reject; adkim=r']);
    const id = await marketingAccount(`news@${domain}`);

    const response = await check(id, admin);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      ok: false,
      spf: { status: 'fail', record: 'v=spf1 ip4:192.0.2.1 -all' },
      dkim: { status: 'fail', record: other.record.value },
      dmarc: { status: 'fail', record: 'v=DMARC1; p=reject; adkim=r' },
    });
    expect(response.body.spf.detail).toContain('does not allow the relay 127.0.0.1');
    expect(response.body.dkim.detail).toContain(record.value);
    expect(response.body.dmarc.detail).toContain('would fail DMARC');
  });

  it('says what is missing, and how to make the DKIM key', async () => {
    const domain = `bare-${dialect}.example.com`;
    const id = await marketingAccount(`news@${domain}`);
    const response = await check(id, admin);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      ok: false,
      spf: { status: 'missing', record: null },
      dkim: { status: 'missing', record: null },
      dmarc: { status: 'missing', record: null, policy: null },
    });
    expect(response.body.dkim.detail).toContain(`mailroom dkim generate --domain ${domain}`);
  });

  it('answers admins only, as approval does: 403 to a member who sees the account, 404 otherwise', async () => {
    const personal = await marketingAccount(`personal-${dialect}@example.com`);
    const team = await marketingAccount(`team-${dialect}@example.com`, 'team');
    expect((await check(personal, member)).status).toBe(403);
    expect((await check(personal, otherMember)).status).toBe(404);
    const forbidden = await check(team, otherMember);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
  });

  it('refuses an own account with NOT_A_MARKETING_ACCOUNT', async () => {
    const own = await call('POST', '/api/accounts', admin, {
      type: 'own',
      name: 'Desk',
      email: `desk-${dialect}@example.com`,
      smtp: { host: 'smtp.example.com', security: 'starttls', username: 'desk', password: 'secret-pw' },
    });
    expect(own.status, JSON.stringify(own.body)).toBe(201);
    const response = await check(own.body.id, admin);
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('NOT_A_MARKETING_ACCOUNT');
  });
});
