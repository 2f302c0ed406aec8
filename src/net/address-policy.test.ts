import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedDns, type ScriptedDns } from '../../test/support/rebinding-dns.ts';
import {
  addressRule,
  anyHost,
  checkLiteral,
  HostNotAllowedError,
  hostNotAllowedIn,
  hostRefusal,
  isPublicAddress,
  lookupFor,
  publicHostsOnly,
  resolveAllowed,
  type HostPolicy,
} from './address-policy.ts';
import { postJson } from './http-post.ts';

describe('addressRule', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.215.14',
    '172.32.0.1',
    '100.128.0.1',
    '169.255.0.1',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '[2606:4700::1111]',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('%s is public', (ip) => {
    expect(addressRule(ip)).toBeNull();
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private (RFC 1918)'],
    ['172.16.0.1', 'private (RFC 1918)'],
    ['172.31.255.255', 'private (RFC 1918)'],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['169.254.169.254', 'a cloud metadata endpoint'],
    ['169.254.170.2', 'a cloud metadata endpoint'],
    ['100.100.100.200', 'a cloud metadata endpoint'],
    ['fd00:ec2::254', 'a cloud metadata endpoint'],
    ['[fd00:ec2::254]', 'a cloud metadata endpoint'],
    ['::ffff:169.254.169.254', 'a cloud metadata endpoint'],
    ['169.254.1.1', 'link-local (RFC 3927, RFC 4291)'],
    ['100.64.0.1', 'carrier-grade NAT (RFC 6598)'],
    ['100.127.255.255', 'carrier-grade NAT (RFC 6598)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved for special use (RFC 6890)'],
    ['192.0.2.10', 'reserved for special use (RFC 6890)'],
    ['198.18.0.1', 'reserved for special use (RFC 6890)'],
    ['203.0.113.10', 'reserved for special use (RFC 6890)'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fc00::1', 'private (IPv6 unique local, RFC 4193)'],
    ['fd12:3456::1', 'private (IPv6 unique local, RFC 4193)'],
    ['fe80::1', 'link-local (RFC 3927, RFC 4291)'],
    ['fe80::1%eth0', 'link-local (RFC 3927, RFC 4291)'],
    ['fec0::1', 'private (IPv6 site-local, RFC 3879)'],
    ['ff02::1', 'multicast'],
    ['::ffff:10.0.0.1', 'private (RFC 1918)'],
    ['::ffff:a00:1', 'private (RFC 1918)'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['::ffff:0:0', 'unspecified'],
    ['::ffff:0:10.0.0.1', 'private (RFC 1918)'],
    ['64:ff9b::a00:1', 'private (RFC 1918)'],
    ['64:ff9b:1::1', 'reserved for special use (RFC 6890)'],
    ['2002:7f00:1::', 'loopback'],
    ['2001:db8::1', 'reserved for special use (RFC 6890)'],
    ['::7f00:1', 'reserved for special use (RFC 6890)'],
    ['::8.8.8.8', 'reserved for special use (RFC 6890)'],
    ['::127.0.0.1', 'reserved for special use (RFC 6890)'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved for special use (RFC 6890)'],
    ['localhost', 'not an IP address'],
    ['', 'not an IP address'],
  ])('%s is refused as %s', (ip, rule) => {
    expect(addressRule(ip)).toBe(rule);
    expect(isPublicAddress(ip)).toBe(false);
  });
});

describe('resolveAllowed and checkLiteral', () => {
  const answering =
    (...addresses: string[]): HostPolicy['lookup'] =>
    async () =>
      addresses.map((address) => ({ address, family: net.isIP(address) }));

  it('refuses a name when any one of its addresses is refused, naming the rule and not the address', async () => {
    const policy: HostPolicy = { allowPrivate: false, lookup: answering('8.8.8.8', '10.0.0.7') };
    const error = await resolveAllowed('mail.customer.example', policy).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostNotAllowedError);
    expect(error).toMatchObject({
      code: 'HOST_NOT_ALLOWED',
      rule: 'private (RFC 1918)',
      message:
        "mail.customer.example: the server's address is private (RFC 1918); only public addresses are allowed",
    });
    expect((error as Error).message).not.toContain('10.0.0.7');
    expect(await resolveAllowed('mail.customer.example', { ...policy, allowPrivate: true })).toHaveLength(2);
    expect(
      await resolveAllowed('mail.customer.example', { allowPrivate: false, lookup: answering('8.8.8.8') }),
    ).toEqual([{ address: '8.8.8.8', family: 4 }]);
  });

  it('judges IP literals as they are, and says "proxy" for a proxy', async () => {
    await expect(resolveAllowed('[::1]', publicHostsOnly)).rejects.toMatchObject({
      code: 'HOST_NOT_ALLOWED',
      message: "The server's address is loopback; only public addresses are allowed",
    });
    await expect(resolveAllowed('10.0.0.1', publicHostsOnly, { what: 'proxy' })).rejects.toMatchObject({
      message: "The proxy's address is private (RFC 1918); only public addresses are allowed",
    });
    expect(() => checkLiteral('169.254.169.254', publicHostsOnly)).toThrow(/a cloud metadata endpoint/);
    expect(() => checkLiteral('localhost', publicHostsOnly)).not.toThrow(); // names: at lookup
    expect(() => checkLiteral('127.0.0.1', anyHost)).not.toThrow();
  });

  it('finds the refusal inside the errors libraries wrap it in', () => {
    const refusal = new HostNotAllowedError('x.example', 'loopback');
    expect(hostNotAllowedIn(new TypeError('fetch failed', { cause: refusal }))).toBe(refusal);
    expect(hostNotAllowedIn(new AggregateError([new Error('a'), refusal]))).toBe(refusal);
    expect(hostNotAllowedIn(new Error('other'))).toBeNull();
  });
});

describe('hostRefusal (when a host is saved)', () => {
  it('refuses names and literals that reach refused addresses, unless private hosts are allowed', async () => {
    expect(await hostRefusal('localhost', publicHostsOnly)).toBe("the server's address is loopback");
    expect(await hostRefusal('127.0.0.1', publicHostsOnly)).toBe("the server's address is loopback");
    expect(await hostRefusal('[::ffff:10.0.0.1]', publicHostsOnly)).toBe(
      "the server's address is private (RFC 1918)",
    );
    expect(await hostRefusal('10.0.0.1', publicHostsOnly, { what: 'proxy' })).toBe(
      "the proxy's address is private (RFC 1918)",
    );
    expect(await hostRefusal('8.8.8.8', publicHostsOnly)).toBeNull();
    expect(await hostRefusal('localhost', anyHost)).toBeNull();
  });

  it('refuses or lets through a name that does not resolve, as asked, within its time', async () => {
    const nowhere: HostPolicy = {
      allowPrivate: false,
      lookup: () => Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })),
    };
    expect(await hostRefusal('no-such-host.invalid', nowhere)).toBe(
      'the name does not resolve to any address',
    );
    expect(await hostRefusal('no-such-host.invalid', nowhere, { unresolvable: 'accept' })).toBeNull();
    const silent: HostPolicy = { allowPrivate: false, lookup: () => new Promise(() => undefined) };
    const started = Date.now();
    expect(await hostRefusal('slow.example', silent, { unresolvable: 'accept', timeoutMs: 100 })).toBeNull();
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('the connect-time check', () => {
  let server: http.Server;
  let port: number;
  let requests = 0;
  let dns: ScriptedDns;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      requests += 1;
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    dns = await startScriptedDns();
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await dns.close();
  });

  const get = (host: string, policy: HostPolicy) =>
    new Promise<number>((resolve, reject) => {
      const lookup = lookupFor(policy);
      http
        .get({ host, port, family: 4, ...(lookup ? { lookup } : {}), agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject);
    });

  it('lookupFor refuses a name that resolves to loopback before any connection is made', async () => {
    const before = requests;
    await expect(get('localhost', publicHostsOnly)).rejects.toMatchObject({
      code: 'HOST_NOT_ALLOWED',
      message: "localhost: the server's address is loopback; only public addresses are allowed",
    });
    expect(requests).toBe(before);
    expect(await get('localhost', anyHost)).toBe(204);
    expect(requests).toBe(before + 1);
  });

  it('DNS rebinding: public when saved, loopback at connect time, refused, and nothing connects', async () => {
    dns.answer('rebind.attacker.test', ['8.8.8.8'], ['127.0.0.1']);
    const policy: HostPolicy = { allowPrivate: false, lookup: dns.lookup };
    expect(await hostRefusal('rebind.attacker.test', policy)).toBeNull();
    const before = requests;
    const error = await get('rebind.attacker.test', policy).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HOST_NOT_ALLOWED' });
    expect((error as Error).message).not.toContain('127.0.0.1');
    expect(requests).toBe(before);
    expect(dns.queries('rebind.attacker.test')).toBe(2);
  });

  it('the socket connects to the very addresses the check saw: one resolution per connection', async () => {
    // Each query answers differently; a check that resolved apart from the connection would see
    // one answer and connect to the next. Here the first answer is the server's, the second not.
    const other = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.2', resolve));
    try {
      dns.answer('moving.attacker.test', ['127.0.0.1'], ['127.0.0.2']);
      const policy: HostPolicy = { allowPrivate: true, lookup: dns.lookup };
      const before = requests;
      expect(await get('moving.attacker.test', policy)).toBe(204);
      expect(requests).toBe(before + 1);
      expect(dns.queries('moving.attacker.test')).toBe(1);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('postJson applies the policy to IP literals and names, and to the scheme', async () => {
    const options = { timeoutMs: 2_000, allowInsecure: true, allowPrivateHosts: false };
    const before = requests;
    for (const url of [
      `http://127.0.0.1:${port}/`,
      `http://localhost:${port}/`,
      `http://[::ffff:7f00:1]:${port}/`,
    ]) {
      const result = await postJson(url, '{}', {}, options);
      expect(result).toMatchObject({
        statusCode: null,
        error: expect.stringContaining("server's address is loopback"),
      });
      expect(result.error).not.toContain('127.0.0.1');
    }
    dns.answer('hook.attacker.test', ['169.254.169.254']);
    const metadata = await postJson(
      `http://hook.attacker.test:${port}/`,
      '{}',
      {},
      {
        ...options,
        lookup: dns.lookup,
      },
    );
    expect(metadata.error).toBe(
      "hook.attacker.test: the server's address is a cloud metadata endpoint; only public addresses are allowed",
    );
    expect(
      await postJson(`http://127.0.0.1:${port}/`, '{}', {}, { ...options, allowInsecure: false }),
    ).toMatchObject({ statusCode: null, error: 'only https:// URLs are allowed' });
    expect(requests).toBe(before);
    expect(
      await postJson(`http://localhost:${port}/`, '{}', {}, { ...options, allowPrivateHosts: true }),
    ).toMatchObject({ statusCode: 204, error: null });
    expect(requests).toBe(before + 1);
  });
});
