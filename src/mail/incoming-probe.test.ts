/**
 * The incoming "test settings" probe against the real Dovecot of test/mail-peers (IMAP, POP3,
 * STARTTLS, implicit TLS, CRAM-MD5, APOP, the Dante SOCKS5 proxy), and a few scripted peers for
 * what Dovecot will not do (refuse every challenge-response login, stay silent, babble).
 * Every test against Dovecot checks that the mailbox is as it was: same messages, same \Seen.
 */
import net from 'node:net';
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectImap,
  createMailbox,
  mailPeers,
  useMailPeers,
  waitForMessage,
  type Mailbox,
} from '../../test/support/mail-peers.ts';
import {
  decodeModifiedUtf7,
  imapString,
  probeIncoming,
  type IncomingProbeResult,
  type IncomingServerConfig,
} from './incoming-probe.ts';
import { anyHost } from '../net/address-policy.ts';
import type { ProxyConfig } from './smtp-types.ts';
import { closedPort, makeTestCa, startSilentServer, startWireRecorder } from './smtp-test-fixtures.ts';

const host = '127.0.0.1';
const cleanups: (() => Promise<void>)[] = [];
const track = <T extends { close(): Promise<void> }>(thing: T): T => {
  cleanups.push(() => thing.close());
  return thing;
};
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function config(mailbox: Mailbox, overrides: Partial<IncomingServerConfig>): IncomingServerConfig {
  return {
    protocol: 'imap',
    host,
    port: mailPeers.ports.imap,
    security: 'starttls',
    user: mailbox.user,
    pass: mailbox.password,
    spa: false,
    timeoutMs: 5_000,
    proxy: null,
    ca: mailPeers.ca,
    hostPolicy: anyHost,
    ...overrides,
  };
}

/** The Dante SOCKS5 proxy of the mail peers (no auth). */
const dante = (): ProxyConfig => ({
  type: 'socks5',
  host,
  port: mailPeers.ports.socks,
  username: null,
  password: null,
});

/** A complete probe with TLS: every step, each one ok. */
const everyStepOk = ['connect', 'tls', 'capabilities', 'login', 'list'].map((step) => [step, true]);

const stepNames = (result: IncomingProbeResult) => result.steps.map((s) => [s.step, s.ok]);
const reply = (result: IncomingProbeResult, step: string) =>
  result.steps.find((s) => s.step === step)?.reply ?? '';

/** Neither the password nor its base64 anywhere in the result. */
function expectNoSecret(result: IncomingProbeResult, password: string): void {
  const json = JSON.stringify(result);
  expect(json).not.toContain(password);
  expect(json).not.toContain(Buffer.from(password).toString('base64'));
}

/** An unread message in the INBOX, appended over IMAP (no flags). */
async function seed(mailbox: Mailbox, subject = 'Seeded'): Promise<void> {
  const client = await connectImap(mailbox.user, mailbox.password);
  try {
    const raw = `From: ${mailbox.address}\r\nTo: ${mailbox.address}\r\nSubject: ${subject}\r\n\r\nHello\r\n`;
    await client.append('INBOX', raw, []);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** What "unchanged" means here: the same messages, and the same of them \Seen (looked at read-only). */
async function inboxState(mailbox: Mailbox): Promise<{ uids: number[]; seen: number[] }> {
  const client = await connectImap(mailbox.user, mailbox.password);
  try {
    const box = await client.mailboxOpen('INBOX', { readOnly: true });
    const uids: number[] = [];
    const seen: number[] = [];
    if (box.exists > 0) {
      for await (const message of client.fetch('1:*', { uid: true, flags: true })) {
        uids.push(message.uid);
        if (message.flags?.has('\\Seen')) seen.push(message.uid);
      }
    }
    return { uids, seen };
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** Runs the probe and checks the mailbox is exactly as before it. */
async function probeUnchanged(mailbox: Mailbox, probeConfig: IncomingServerConfig) {
  const before = await inboxState(mailbox);
  const result = await probeIncoming(probeConfig);
  expect(await inboxState(mailbox)).toEqual(before);
  return result;
}

/** Probes in plain text through a recorder, so every byte the probe sent can be checked. */
async function probeOnWire(mailbox: Mailbox, target: number, overrides: Partial<IncomingServerConfig> = {}) {
  const wire = track(await startWireRecorder(target));
  const result = await probeUnchanged(
    mailbox,
    config(mailbox, { port: wire.port, security: 'none', ...overrides }),
  );
  return { result, sent: wire.sent() };
}

/** A line server speaking a script: `greeting` on connect, then `answer(line)` for each line. */
async function startScriptedServer(greeting: string, answer: (line: string) => string | null) {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.write(greeting);
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let at: number;
      while ((at = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        received.push(line);
        const out = answer(line);
        if (out === null) socket.end();
        else socket.write(out);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return track({
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}

describe('probeIncoming: IMAP against Dovecot', () => {
  useMailPeers();

  it('runs every step over STARTTLS, lists the folders, and changes nothing', async () => {
    const mailbox = await createMailbox();
    await seed(mailbox);

    const result = await probeUnchanged(mailbox, config(mailbox, {}));

    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(stepNames(result)).toEqual(everyStepOk);
    expect(reply(result, 'connect')).toMatch(/^\* OK .*STARTTLS/);
    expect(reply(result, 'tls')).toMatch(/^a\d+ OK /);
    expect(reply(result, 'capabilities')).toMatch(/^\* CAPABILITY .*AUTH=CRAM-MD5.*\na\d+ OK /s);
    expect(reply(result, 'capabilities')).not.toMatch(/STARTTLS/);
    expect(reply(result, 'login')).toMatch(/^a\d+ OK .*Logged in/);
    expect(reply(result, 'list')).toMatch(/^a\d+ OK /);
    expect(result.folders).toEqual(
      expect.arrayContaining(['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']),
    );
    for (const step of result.steps) expect(step.ms).toBeGreaterThanOrEqual(0);
    expectNoSecret(result, mailbox.password);
  });

  it('runs over implicit TLS (IMAPS): the greeting is the TLS step’s reply', async () => {
    const mailbox = await createMailbox();
    await seed(mailbox);

    const result = await probeUnchanged(
      mailbox,
      config(mailbox, { port: mailPeers.ports.imaps, security: 'tls' }),
    );

    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'capabilities', 'login', 'list']);
    expect(reply(result, 'connect')).toBe('');
    expect(reply(result, 'tls')).toMatch(/^\* OK /);
    expect(result.folders).toContain('INBOX');
  });

  it('logs in with CRAM-MD5 under spa, and the password never crosses the wire', async () => {
    const mailbox = await createMailbox();
    await seed(mailbox);
    const { result, sent } = await probeOnWire(mailbox, mailPeers.ports.imap, { spa: true });

    expect(result.error).toBeUndefined();
    expect(stepNames(result)).toEqual([
      ['connect', true],
      ['capabilities', true],
      ['login', true],
      ['list', true],
    ]);
    expect(reply(result, 'login')).toMatch(/^a\d+ OK /);
    expect(sent).toMatch(/^a\d+ AUTHENTICATE CRAM-MD5\r\n/m);
    expect(sent).not.toMatch(/ LOGIN /);
    expect(sent).not.toContain(mailbox.password);
    expect(sent).not.toContain(Buffer.from(mailbox.password).toString('base64'));
    expect(sent).toMatch(/^a\d+ LOGOUT\r\n/m);
    expectNoSecret(result, mailbox.password);
  });

  it('logs in with CRAM-MD5 under spa over STARTTLS', async () => {
    const mailbox = await createMailbox();
    const result = await probeUnchanged(mailbox, config(mailbox, { spa: true }));
    expect(result.ok).toBe(true);
    expect(reply(result, 'login')).toMatch(/^a\d+ OK /);
  });

  it('quotes a password with `"` and `\\`, and sends a non-ASCII one as a literal', async () => {
    for (const password of ['pa"ss\\wo rd"\\', 'pässwörd "é" \\ ✓']) {
      const mailbox = await createMailbox(password);
      const { result, sent } = await probeOnWire(mailbox, mailPeers.ports.imap);
      expect(result.error).toBeUndefined();
      expect(result.ok).toBe(true);
      expectNoSecret(result, password);
      const login = /^a\d+ LOGIN .*$/m.exec(sent)?.[0] ?? '';
      if (password.startsWith('pa"')) expect(login).toContain('"pa\\"ss\\\\wo rd\\"\\\\"');
      else expect(login).toMatch(/ \{\d+\}$/);
    }
  });

  it('decodes folder names from modified UTF-7 and unquotes them', async () => {
    const mailbox = await createMailbox();
    const client = await connectImap(mailbox.user, mailbox.password);
    try {
      await client.mailboxCreate('Entwürfe & Co');
      await client.mailboxCreate('Say "hi"');
    } finally {
      await client.logout().catch(() => client.close());
    }

    const result = await probeUnchanged(mailbox, config(mailbox, {}));

    expect(result.folders).toEqual(expect.arrayContaining(['Entwürfe & Co', 'Say "hi"', 'INBOX']));
  });

  it('reports a wrong password as INCOMING_AUTH_FAILED with Dovecot’s words, and no password', async () => {
    const mailbox = await createMailbox();
    await seed(mailbox);
    const wrong = 'not-the-password-42';

    for (const spa of [false, true]) {
      const result = await probeUnchanged(mailbox, config(mailbox, { pass: wrong, spa }));

      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('INCOMING_AUTH_FAILED');
      expect(result.error?.reply).toMatch(/^a\d+ NO \[AUTHENTICATIONFAILED\] Authentication failed/);
      expect(result.steps.at(-1)).toMatchObject({ step: 'login', ok: false, reply: result.error?.reply });
      expectNoSecret(result, wrong);
      expectNoSecret(result, mailbox.password);
    }
  });

  it('goes through the Dante SOCKS5 proxy', async () => {
    const mailbox = await createMailbox();
    const proxy = dante();

    const result = await probeUnchanged(
      mailbox,
      config(mailbox, { port: mailPeers.ports.imaps, security: 'tls', proxy }),
    );

    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.folders).toContain('INBOX');
  });

  it('fails the TLS step when TLS is spoken to the plain-text port', async () => {
    const mailbox = await createMailbox();
    const result = await probeUnchanged(mailbox, config(mailbox, { security: 'tls' }));
    expect(result.error?.code).toBe('INCOMING_TLS_FAILED');
    expect(stepNames(result)).toEqual([
      ['connect', true],
      ['tls', false],
    ]);
  });
});

describe('probeIncoming: POP3 against Dovecot', () => {
  useMailPeers();

  it('runs every step over STLS and counts a delivered message with STAT, changing nothing', async () => {
    const mailbox = await createMailbox();
    const smtp = nodemailer.createTransport({
      host,
      port: mailPeers.ports.submission,
      secure: false,
      requireTLS: true,
      tls: { ca: mailPeers.ca, servername: 'localhost' },
      auth: { user: mailbox.user, pass: mailbox.password },
    });
    try {
      await smtp.sendMail({ from: mailbox.address, to: mailbox.address, subject: 'Count me', text: 'Hi\n' });
    } finally {
      smtp.close();
    }
    await waitForMessage(mailbox.user, mailbox.password, (m) => m.mail.subject === 'Count me');

    const result = await probeUnchanged(
      mailbox,
      config(mailbox, { protocol: 'pop3', port: mailPeers.ports.pop3, security: 'starttls' }),
    );

    expect(result.error).toBeUndefined();
    expect(stepNames(result)).toEqual(everyStepOk);
    expect(reply(result, 'connect')).toMatch(/^\+OK .*<[^>]+>/);
    expect(reply(result, 'tls')).toMatch(/^\+OK/);
    expect(reply(result, 'capabilities')).toMatch(/^\+OK.*\nSASL .*CRAM-MD5/s);
    expect(reply(result, 'login')).toMatch(/^\+OK Logged in/);
    expect(reply(result, 'list')).toMatch(/^\+OK 1 \d+$/);
    expect(result.messageCount).toBe(1);
    expect(result.folders).toBeUndefined();
    expectNoSecret(result, mailbox.password);
  });

  it('runs over implicit TLS (POP3S)', async () => {
    const mailbox = await createMailbox();
    await seed(mailbox, 'One');
    await seed(mailbox, 'Two');

    const result = await probeUnchanged(
      mailbox,
      config(mailbox, { protocol: 'pop3', port: mailPeers.ports.pop3s, security: 'tls' }),
    );

    expect(result.ok).toBe(true);
    expect(reply(result, 'tls')).toMatch(/^\+OK /);
    expect(result.messageCount).toBe(2);
  });

  it('logs in with APOP under spa, and the password never crosses the wire', async () => {
    const mailbox = await createMailbox();
    await seed(mailbox);
    const { result, sent } = await probeOnWire(mailbox, mailPeers.ports.pop3, {
      protocol: 'pop3',
      spa: true,
    });

    expect(result.error).toBeUndefined();
    expect(result.messageCount).toBe(1);
    expect(sent).toMatch(new RegExp(`^APOP ${mailbox.user} [0-9a-f]{32}\\r\\n`, 'm'));
    expect(sent).not.toMatch(/^(USER|PASS) /m);
    expect(sent).not.toContain(mailbox.password);
    expect(sent).toMatch(/^QUIT\r\n/m);
    expectNoSecret(result, mailbox.password);
  });

  it('reports a wrong password as INCOMING_AUTH_FAILED with Dovecot’s words', async () => {
    const mailbox = await createMailbox();
    const wrong = 'wrong-pop3-password';
    const result = await probeUnchanged(
      mailbox,
      config(mailbox, { protocol: 'pop3', port: mailPeers.ports.pop3s, security: 'tls', pass: wrong }),
    );
    expect(result.error?.code).toBe('INCOMING_AUTH_FAILED');
    expect(result.error?.reply).toMatch(/^-ERR \[AUTH\] Authentication failed/);
    expectNoSecret(result, wrong);
  });

  it('goes through the Dante SOCKS5 proxy with STLS', async () => {
    const mailbox = await createMailbox();
    const proxy = dante();
    const result = await probeUnchanged(
      mailbox,
      config(mailbox, { protocol: 'pop3', port: mailPeers.ports.pop3, security: 'starttls', proxy }),
    );
    expect(result.error).toBeUndefined();
    expect(result.messageCount).toBe(0);
  });
});

describe('probeIncoming: failures without Dovecot', () => {
  const nobody = { user: 'ada', address: 'ada@example.test', password: 'correct horse battery' };

  it('answers SPA_UNAVAILABLE when an IMAP server offers no CRAM-MD5, and sends no password', async () => {
    const server = await startScriptedServer('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n', (line) => {
      const [tag, verb] = line.split(' ');
      if (verb === 'CAPABILITY') return `* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n${tag} OK done\r\n`;
      if (verb === 'LOGOUT') return `* BYE bye\r\n${tag} OK bye\r\n`;
      return `${tag} BAD unexpected\r\n`;
    });

    const result = await probeIncoming(config(nobody, { port: server.port, security: 'none', spa: true }));

    expect(result.error?.code).toBe('SPA_UNAVAILABLE');
    expect(result.error?.reply).toMatch(/it offers: AUTH=PLAIN AUTH=LOGIN/);
    expect(stepNames(result)).toEqual([
      ['connect', true],
      ['capabilities', true],
      ['login', false],
    ]);
    await expect.poll(() => server.received.some((l) => / LOGOUT$/.test(l))).toBe(true);
    expect(server.received.join('\n')).not.toMatch(/LOGIN|AUTHENTICATE|correct horse/);
  });

  it('answers SPA_UNAVAILABLE when a POP3 server has no APOP timestamp and no SASL CRAM-MD5', async () => {
    const server = await startScriptedServer('+OK ready\r\n', (line) => {
      if (line === 'CAPA') return '+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n';
      if (line === 'QUIT') return '+OK bye\r\n';
      return '-ERR unexpected\r\n';
    });

    const result = await probeIncoming(
      config(nobody, { protocol: 'pop3', port: server.port, security: 'none', spa: true }),
    );

    expect(result.error?.code).toBe('SPA_UNAVAILABLE');
    await expect.poll(() => server.received).toContain('QUIT');
    expect(server.received).toEqual(['CAPA', 'QUIT']);
  });

  it('keeps the password and the CRAM/APOP responses out of the result when a server echoes them', async () => {
    const challenge = Buffer.from('<1896.697170952@example.test>').toString('base64');
    const imap = await startScriptedServer('* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] ready\r\n', (line) => {
      const [tag, verb] = line.split(' ');
      if (verb === 'CAPABILITY') return `* CAPABILITY IMAP4rev1 AUTH=CRAM-MD5\r\n${tag} OK done\r\n`;
      if (verb === 'AUTHENTICATE') return `+ ${challenge}\r\n`;
      if (verb === 'LOGOUT') return `${tag} OK bye\r\n`;
      if (tag?.startsWith('a')) return `${tag} NO you said: ${line}\r\n`;
      return `a2 NO you said: ${line}\r\n`;
    });
    const pop3 = await startScriptedServer('+OK ready <1.2@example.test>\r\n', (line) =>
      line === 'CAPA'
        ? '-ERR no CAPA\r\n'
        : line.startsWith('USER ')
          ? '+OK\r\n'
          : `-ERR you said: ${line}\r\n`,
    );

    const results = [
      await probeIncoming(config(nobody, { port: imap.port, security: 'none' })),
      await probeIncoming(config(nobody, { port: imap.port, security: 'none', spa: true })),
      await probeIncoming(config(nobody, { protocol: 'pop3', port: pop3.port, security: 'none' })),
      await probeIncoming(config(nobody, { protocol: 'pop3', port: pop3.port, security: 'none', spa: true })),
    ];

    const sent = [...imap.received, ...pop3.received];
    const cram = sent.find((line) => /^[A-Za-z0-9+/]+=*$/.test(line) && line.length > 20);
    const apop = /^APOP \S+ ([0-9a-f]{32})$/m.exec(sent.join('\n'))?.[1];
    expect(cram).toBeDefined();
    expect(apop).toBeDefined();
    for (const result of results) {
      expect(result.error?.code).toBe('INCOMING_AUTH_FAILED');
      expect(result.error?.reply).toMatch(/you said: .*\[redacted\]/);
      expectNoSecret(result, nobody.password);
      expect(JSON.stringify(result)).not.toContain(cram);
      expect(JSON.stringify(result)).not.toContain(apop);
    }
  });

  it('refuses a user name or password with a line break before connecting', async () => {
    const server = await startScriptedServer('* OK ready\r\n', () => null);
    for (const bad of [{ user: 'ada\r\nA1 DELETE INBOX' }, { pass: 'x\ny' }]) {
      const result = await probeIncoming({
        ...config(nobody, { port: server.port, security: 'none' }),
        ...bad,
      });
      expect(result).toEqual({
        ok: false,
        steps: [],
        error: { code: 'INCOMING_PROTOCOL_ERROR', reply: expect.stringMatching(/line break/) as string },
      });
    }
    expect(server.received).toEqual([]);
  });

  it('fails the TLS step on a certificate nobody trusts', async () => {
    const ca = await makeTestCa();
    cleanups.push(() => ca.remove());
    const server = tls.createServer({ key: ca.keyPem, cert: ca.certPem }, (socket) => {
      socket.on('error', () => undefined);
      socket.end('* OK never seen\r\n');
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });

    const result = await probeIncoming(
      config(nobody, {
        port: (server.address() as net.AddressInfo).port,
        security: 'tls',
        ca: ca.otherCaPem,
      }),
    );

    expect(result.error?.code).toBe('INCOMING_TLS_FAILED');
    expect(result.steps.at(-1)).toMatchObject({ step: 'tls', ok: false });
    expect(result.error?.reply).toMatch(/certificate/i);
  });

  it('fails the connect step on a closed port, and times out on a silent server', async () => {
    const refused = await probeIncoming(config(nobody, { port: await closedPort(), security: 'none' }));
    expect(refused.error?.code).toBe('INCOMING_CONNECT_FAILED');
    expect(stepNames(refused)).toEqual([['connect', false]]);

    const silent = track(await startSilentServer());
    const started = Date.now();
    const timedOut = await probeIncoming(
      config(nobody, { port: silent.port, security: 'none', timeoutMs: 300 }),
    );
    expect(timedOut.error).toEqual({
      code: 'INCOMING_TIMEOUT',
      reply: expect.stringMatching(/300 ms/) as string,
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops at an endless line instead of buffering it', async () => {
    const server = await startScriptedServer(`* OK ${'x'.repeat(100_000)}`, () => null);
    const result = await probeIncoming(config(nobody, { port: server.port, security: 'none' }));
    expect(result.error?.code).toBe('INCOMING_PROTOCOL_ERROR');
    expect(result.error?.reply).toMatch(/longer than/);
  });

  it('fails with INCOMING_PROXY_FAILED when the proxy is not there', async () => {
    const port = await closedPort();
    const proxy = { type: 'socks5' as const, host, port, username: null, password: null };
    const result = await probeIncoming(config(nobody, { port: 143, security: 'none', proxy }));
    expect(result.error?.code).toBe('INCOMING_PROXY_FAILED');
  });
});

describe('IMAP encoding helpers', () => {
  it('decodes modified UTF-7 names', () => {
    expect(decodeModifiedUtf7('Entw&APw-rfe &- Co')).toBe('Entwürfe & Co');
    expect(decodeModifiedUtf7('&ZeVnLIqe-')).toBe('日本語');
    expect(decodeModifiedUtf7('INBOX')).toBe('INBOX');
  });

  it('quotes 7-bit strings and makes literals of the rest', () => {
    expect(imapString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(imapString('ö')).toEqual(Buffer.from('ö'));
  });
});
