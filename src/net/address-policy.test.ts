import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedLookup, hostRefusal, isPublicAddress, notPublicMessage } from './address-policy.ts';
import { postJson } from './http-post.ts';

describe('isPublicAddress', () => {
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
  ])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each([
    ['0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'RFC 1918'],
    ['172.16.0.1', 'RFC 1918'],
    ['172.31.255.255', 'RFC 1918'],
    ['192.168.1.1', 'RFC 1918'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback, bracketed'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['ff02::1', 'multicast'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:a00:1', 'IPv4-mapped private, in hex'],
    ['[::ffff:127.0.0.1]', 'IPv4-mapped loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:0:0', 'IPv4-mapped unspecified'],
    ['64:ff9b::a00:1', 'NAT64 of a private address'],
    ['2002:a00:1::', '6to4 of a private address'],
    ['localhost', 'not an address at all'],
    ['', 'empty'],
  ])('%s is not (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });
});

describe('hostRefusal', () => {
  it('refuses names and literals that reach non-public addresses, unless private hosts are allowed', async () => {
    expect(await hostRefusal('localhost', false)).toBe(notPublicMessage);
    expect(await hostRefusal('127.0.0.1', false)).toBe(notPublicMessage);
    expect(await hostRefusal('[::ffff:10.0.0.1]', false)).toBe(notPublicMessage);
    expect(await hostRefusal('8.8.8.8', false)).toBeNull();
    expect(await hostRefusal('localhost', true)).toBeNull();
    expect(await hostRefusal('no-such-host.invalid', false)).toBe('does not resolve to any address');
  });
});

describe('the connect-time check', () => {
  let server: http.Server;
  let port: number;
  let requests = 0;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      requests += 1;
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (allowPrivate: boolean) =>
    new Promise<number>((resolve, reject) => {
      http
        .get(
          { host: 'localhost', port, family: 4, lookup: guardedLookup(allowPrivate), agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        )
        .on('error', reject);
    });

  it('guardedLookup refuses a name that resolves to loopback before any connection is made', async () => {
    const before = requests;
    await expect(get(false)).rejects.toMatchObject({
      code: 'EADDRNOTALLOWED',
      message: `localhost ${notPublicMessage}`,
    });
    expect(requests).toBe(before);
    expect(await get(true)).toBe(204);
    expect(requests).toBe(before + 1);
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
      expect(result).toMatchObject({ statusCode: null, error: expect.stringContaining(notPublicMessage) });
      expect(result.error).not.toContain('127.0.0.1');
    }
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
