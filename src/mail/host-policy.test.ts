/**
 * Every protocol adapter applies the host policy where it opens its socket: SMTP (the sender's
 * pool and the probe), IMAP (reader and probe), POP3 (reader and probe), JMAP, and the SOCKS5 and
 * HTTP CONNECT proxies. A name that resolves to loopback, a loopback literal in each of its forms
 * and a name that rebinds between save and connect are all refused with HOST_NOT_ALLOWED, before
 * a single byte reaches the server; with private hosts allowed, the same settings connect.
 *
 * The servers are "doors": they count the connections that reach them and hang up. Names resolve
 * through a DNS server of the test's own (test/support/rebinding-dns.ts). Only loopback addresses
 * are ever answered or connected to.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedDns, type ScriptedDns } from '../../test/support/rebinding-dns.ts';
import { anyHost, hostRefusal, publicHostsOnly, type HostPolicy } from '../net/address-policy.ts';
import { probeIncoming } from './incoming-probe.ts';
import { openImapReader } from './imap-reader.ts';
import { openJmapReader } from './jmap-reader.ts';
import { openPop3Reader } from './pop3-reader.ts';
import type { ReaderConfig } from './reader.ts';
import { probeSmtp } from './smtp-probe.ts';
import { createSmtpSenderPool } from './smtp-sender.ts';
import type { ProxyConfig, SmtpServerConfig } from './smtp-types.ts';

interface Door {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** A server on 127.0.0.1 that counts connections and drops each at once. */
async function openDoor(): Promise<Door> {
  const sockets = new Set<net.Socket>();
  const door: Door = { port: 0, connections: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    door.connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  door.port = (server.address() as net.AddressInfo).port;
  door.close = () =>
    new Promise<void>((resolve) => {
      sockets.forEach((socket) => socket.destroy());
      server.close(() => resolve());
    });
  return door;
}

/** What an attempt came to: the error code (null when it went through) and the words people see. */
interface Outcome {
  code: string | null;
  text: string;
}

const secret = 'door-Pa55word';
const smtpConfig = (host: string, port: number, hostPolicy: HostPolicy, proxy: ProxyConfig | null = null) =>
  ({
    host,
    port,
    security: 'none',
    auth: null,
    proxy,
    timeoutMs: 1_500,
    hostPolicy,
  }) satisfies SmtpServerConfig;
const readerConfig = (host: string, port: number, hostPolicy: HostPolicy): ReaderConfig => ({
  host,
  port,
  security: 'none',
  user: 'ada',
  pass: secret,
  spa: false,
  timeoutMs: 1_500,
  folders: ['INBOX'],
  hostPolicy,
});

const caught = (error: unknown): Outcome => {
  const e = error as { code?: unknown; message?: unknown; reply?: unknown };
  const reply = typeof e.reply === 'string' ? e.reply : '';
  return { code: typeof e.code === 'string' ? e.code : 'UNKNOWN', text: `${String(e.message)} ${reply}` };
};

const openReader = async (open: () => Promise<{ close(): Promise<void> }>): Promise<Outcome> => {
  try {
    await (await open()).close();
    return { code: null, text: '' };
  } catch (error) {
    return caught(error);
  }
};

/** Each way Mailroom connects to a server a user names, as (host, port, policy) → outcome. */
const connectors: Record<string, (host: string, port: number, policy: HostPolicy) => Promise<Outcome>> = {
  'the SMTP sender': async (host, port, policy) => {
    const pool = createSmtpSenderPool();
    try {
      const raw = Buffer.from('Subject: hi\r\n\r\nhi\r\n');
      const envelope = { from: 'ada@example.test', to: ['bob@example.test'] };
      await pool.send('door', smtpConfig(host, port, policy), {
        envelope,
        raw,
        messageId: '<d@example.test>',
      });
      return { code: null, text: '' };
    } catch (error) {
      return caught(error);
    } finally {
      await pool.close();
    }
  },
  'the SMTP probe': async (host, port, policy) => {
    const result = await probeSmtp(smtpConfig(host, port, policy), 'ada@example.test', 'ada@example.test');
    return { code: result.error?.code ?? null, text: JSON.stringify(result) };
  },
  'the IMAP reader': (host, port, policy) =>
    openReader(() => openImapReader(readerConfig(host, port, policy))),
  'the IMAP probe': async (host, port, policy) => {
    const result = await probeIncoming({
      ...readerConfig(host, port, policy),
      protocol: 'imap',
      proxy: null,
    });
    return { code: result.error?.code ?? null, text: JSON.stringify(result) };
  },
  'the POP3 reader': (host, port, policy) =>
    openReader(() => openPop3Reader(readerConfig(host, port, policy))),
  'the POP3 probe': async (host, port, policy) => {
    const result = await probeIncoming({
      ...readerConfig(host, port, policy),
      protocol: 'pop3',
      proxy: null,
    });
    return { code: result.error?.code ?? null, text: JSON.stringify(result) };
  },
  'the JMAP reader': (host, port, policy) =>
    openReader(() =>
      openJmapReader({
        ...readerConfig(host, port, policy),
        url: `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}/.well-known/jmap`,
      }),
    ),
  'a SOCKS5 proxy': async (host, port, policy) => {
    const proxy: ProxyConfig = { type: 'socks5', host, port, username: 'p', password: secret };
    const result = await probeSmtp(
      smtpConfig('mail.example.test', 25, policy, proxy),
      'a@b.test',
      'a@b.test',
    );
    return { code: result.error?.code ?? null, text: JSON.stringify(result) };
  },
  'an HTTP CONNECT proxy': async (host, port, policy) => {
    const proxy: ProxyConfig = { type: 'http', host, port, username: 'p', password: secret };
    const result = await probeSmtp(
      smtpConfig('mail.example.test', 25, policy, proxy),
      'a@b.test',
      'a@b.test',
    );
    return { code: result.error?.code ?? null, text: JSON.stringify(result) };
  },
};

describe.each(Object.keys(connectors))('the host policy in %s', (name) => {
  const connect = connectors[name]!;
  let door: Door;
  let dns: ScriptedDns;
  const strict = (): HostPolicy => ({ allowPrivate: false, lookup: dns.lookup });

  beforeAll(async () => {
    door = await openDoor();
    dns = await startScriptedDns();
    dns.answer('inside.attacker.test', ['127.0.0.1']);
  });
  afterAll(async () => {
    await door.close();
    await dns.close();
  });

  it('refuses a name that resolves to loopback, without naming the address', async () => {
    const outcome = await connect('inside.attacker.test', door.port, strict());
    expect(outcome.code).toBe('HOST_NOT_ALLOWED');
    expect(outcome.text).toContain('inside.attacker.test');
    expect(outcome.text).toMatch(/(server|proxy)'s address is loopback/);
    expect(outcome.text).not.toContain('127.0.0.1');
    expect(outcome.text).not.toContain(secret);
    expect(door.connections).toBe(0);
  });

  it.each(['127.0.0.1', '::1', '::ffff:127.0.0.1'])('refuses the literal %s', async (literal) => {
    const outcome = await connect(literal, door.port, publicHostsOnly);
    expect(outcome.code).toBe('HOST_NOT_ALLOWED');
    expect(outcome.text).toMatch(/(server|proxy)'s address is loopback/);
    expect(door.connections).toBe(0);
  });

  it('DNS rebinding: a name public when saved and loopback when connecting is refused', async () => {
    dns.answer('rebind.attacker.test', ['8.8.8.8'], ['127.0.0.1']);
    expect(await hostRefusal('rebind.attacker.test', strict())).toBeNull();
    const outcome = await connect('rebind.attacker.test', door.port, strict());
    expect(outcome.code).toBe('HOST_NOT_ALLOWED');
    expect(outcome.text).not.toContain('127.0.0.1');
    expect(door.connections).toBe(0);
  });

  it('connects to the same name and literal when private hosts are allowed', async () => {
    const before = door.connections;
    const byName = await connect('inside.attacker.test', door.port, { ...anyHost, lookup: dns.lookup });
    expect(byName.code).not.toBe('HOST_NOT_ALLOWED');
    expect(door.connections).toBeGreaterThan(before);
    const byLiteral = await connect('127.0.0.1', door.port, anyHost);
    expect(byLiteral.code).not.toBe('HOST_NOT_ALLOWED');
    expect(door.connections).toBeGreaterThan(before + 1);
  });
});
