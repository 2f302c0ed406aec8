/**
 * The POP3 reader against the real Dovecot of test/mail-peers: STLS, POP3S and plain text, APOP
 * and CRAM-MD5 under spa, UIDL cursors, limits, TOP for large messages, byte-exact dot-unstuffing,
 * deletion at QUIT (and none without it), pipelining, and timeouts. Mail is put in place with IMAP
 * APPEND, which POP3 then sees in INBOX. Where Dovecot has to behave otherwise (no APOP timestamp,
 * no PIPELINING, a reply that stalls, a connection that drops) a relay on the plain-text port
 * rewrites or holds its bytes; only cases Dovecot cannot play (no challenge-response at all, no
 * STLS, no UIDL, no TOP, silence) use scripted peers.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  connectImap,
  createMailbox,
  mailPeers,
  useMailPeers,
  type Mailbox,
} from '../../test/support/mail-peers.ts';
import {
  expectNoSecret,
  failure,
  listenLocally,
  socketSet,
  startRelay as startRelayTo,
  type RelayOptions,
} from '../../test/support/readers.ts';
import { createMultilineBody, openPop3Reader } from './pop3-reader.ts';
import type { FetchOptions, FetchResult, ReaderConfig, ReaderLogger } from './reader.ts';
import { anyHost } from '../net/address-policy.ts';
import { closedPort, startSilentServer, useSmtpTestKit } from './smtp-test-fixtures.ts';

const host = '127.0.0.1';
// servers and readers closed after each test
const { track, ca } = useSmtpTestKit();

/** This mailbox on Dovecot's POP3 port with STLS, trusting its CA. */
const config = (mailbox: Mailbox, overrides: Partial<ReaderConfig> = {}): ReaderConfig => ({
  host,
  port: mailPeers.ports.pop3,
  security: 'starttls',
  ca: mailPeers.ca,
  user: mailbox.user,
  pass: mailbox.password,
  spa: false,
  timeoutMs: 5_000,
  folders: ['INBOX'],
  hostPolicy: anyHost,
  ...overrides,
});

const open = async (readerConfig: ReaderConfig, logger?: ReaderLogger) =>
  track(await openPop3Reader(readerConfig, logger ? { logger } : {}));
const everything: FetchOptions = { limit: 1_000, since: null, maxRawBytes: 10_000_000 };
const subjects = (result: FetchResult) =>
  result.messages.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1]?.trim());
const seenOf = (result: FetchResult) => (JSON.parse(result.cursor) as { v: 1; seen: string[] }).seen;

/** Appends messages to INBOX over IMAP: a subject (a small message), or raw bytes. */
async function deliver(mailbox: Mailbox, messages: (string | Buffer)[]): Promise<void> {
  const client = await connectImap(mailbox.user, mailbox.password);
  try {
    for (const m of messages) {
      const raw =
        typeof m === 'string'
          ? `From: a@example.test\r\nTo: ${mailbox.address}\r\nSubject: ${m}\r\n\r\nHello\r\n`
          : m;
      await client.append('INBOX', raw, []);
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** INBOX as IMAP sees it: each message's whole source and header block, in order. */
async function imapView(mailbox: Mailbox): Promise<{ source: Buffer; header: Buffer }[]> {
  const client = await connectImap(mailbox.user, mailbox.password);
  try {
    const box = await client.mailboxOpen('INBOX', { readOnly: true });
    const messages: { source: Buffer; header: Buffer }[] = [];
    if (box.exists === 0) return messages;
    for await (const m of client.fetch('1:*', { source: true, headers: true })) {
      messages.push({ source: m.source!, header: m.headers! });
    }
    return messages;
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/**
 * What Dovecot logged of this user's POP3 logins (users are unique per test): the mechanism, and
 * with `withTls` also whether the connection was TLS ("PLAIN TLS") or plain text ("PLAIN secured",
 * as Dovecot calls a connection from localhost).
 */
function pop3Logins(mailbox: Mailbox, withTls = false): string[] {
  const file = path.join(mailPeers.root, 'dovecot', 'dovecot.log');
  const pattern = new RegExp(
    `pop3-login: Info: Login: user=<${mailbox.user}>, method=([A-Z0-9-]+), .*?, (TLS|secured),`,
    'g',
  );
  return [...fs.readFileSync(file, 'utf8').matchAll(pattern)].map((match) =>
    withTls ? `${match[1]} ${match[2]}` : match[1]!,
  );
}

/** A relay to Dovecot's plain-text POP3 port (see test/support/readers.ts), closed after the test. */
const startRelay = async (options: RelayOptions = {}) =>
  track(await startRelayTo(mailPeers.ports.pop3, options));

/**
 * A line server speaking a script: `greeting` on connect, then `answer(line)` for each line; over
 * implicit TLS with this key and certificate when given.
 */
async function startScriptedServer(
  greeting: string,
  answer: (line: string) => string,
  secure?: { key: string; cert: string },
) {
  const received: string[] = [];
  const all = socketSet();
  const onConnection = (socket: net.Socket) => {
    all.add(socket);
    socket.write(greeting);
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let at = buffer.indexOf('\r\n'); at >= 0; at = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        received.push(line);
        socket.write(answer(line));
        if (line === 'QUIT') socket.end();
      }
    });
  };
  const server = secure ? tls.createServer(secure, onConnection) : net.createServer(onConnection);
  server.on('tlsClientError', () => undefined);
  return track({ ...(await listenLocally(server, all)), received });
}

const nobody = { user: 'ada', address: 'ada@example.test', password: 'correct horse battery' };
const scripted = (port: number, overrides: Partial<ReaderConfig> = {}): ReaderConfig => ({
  host,
  port,
  security: 'none',
  user: nobody.user,
  pass: nobody.password,
  spa: false,
  timeoutMs: 5_000,
  folders: ['INBOX'],
  hostPolicy: anyHost,
  ...overrides,
});

describe('openPop3Reader against Dovecot', () => {
  useMailPeers();

  it('logs in over STLS, POP3S and plain text, and reads the same messages each way', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, ['One', 'Two']);
    const ids: string[][] = [];

    for (const security of ['starttls', 'tls', 'none'] as const) {
      const port = security === 'tls' ? mailPeers.ports.pop3s : mailPeers.ports.pop3;
      const reader = await open(config(mailbox, { security, port }));
      const result = await reader.fetchNew(null, everything);
      expect(subjects(result)).toEqual(['One', 'Two']);
      expect(result.more).toBe(false);
      expect(result.resynced).toEqual([]);
      for (const m of result.messages) {
        expect(m).toMatchObject({ folder: 'INBOX', truncated: false, receivedAt: null, size: m.raw.length });
      }
      ids.push(result.messages.map((m) => m.serverId));
      expect(seenOf(result)).toEqual(ids.at(-1));
      expect(reader.appendSent).toBeUndefined();
      expect(reader.watch).toBeUndefined();
      await reader.close();
    }
    expect(new Set(ids.map((list) => list.join()))).toHaveProperty('size', 1);
    // Dovecot logs USER/PASS as PLAIN
    await expect.poll(() => pop3Logins(mailbox, true)).toEqual(['PLAIN TLS', 'PLAIN TLS', 'PLAIN secured']);
  });

  it('logs in with APOP under spa, and the password never crosses the wire', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, ['Hello']);
    const relay = await startRelay();

    const reader = await open(config(mailbox, { port: relay.port, security: 'none', spa: true }));
    expect(subjects(await reader.fetchNew(null, everything))).toEqual(['Hello']);
    await open(config(mailbox, { spa: true })); // and over STLS

    expect(relay.sent()).toMatch(new RegExp(`^APOP ${mailbox.user} [0-9a-f]{32}\\r\\n`, 'm'));
    expect(relay.sent()).not.toMatch(/^(USER|PASS|AUTH) /m);
    expect(relay.sent()).not.toContain(mailbox.password);
    await expect.poll(() => pop3Logins(mailbox, true)).toEqual(['APOP secured', 'APOP TLS']);
  });

  it('logs in with SASL CRAM-MD5 under spa when the greeting has no APOP timestamp', async () => {
    const mailbox = await createMailbox();
    const relay = await startRelay({ rewrite: (line, i) => (i === 0 ? line.replace(/ <[^>]*>/, '') : line) });

    const reader = await open(config(mailbox, { port: relay.port, security: 'none', spa: true }));
    expect((await reader.fetchNew(null, everything)).messages).toEqual([]);

    expect(relay.sent()).toMatch(/^CAPA\r\nAUTH CRAM-MD5\r\n[A-Za-z0-9+/]+=*\r\n/);
    for (const secret of [mailbox.password, Buffer.from(mailbox.password).toString('base64')]) {
      expect(relay.sent()).not.toContain(secret);
    }
    await expect.poll(() => pop3Logins(mailbox)).toEqual(['CRAM-MD5']);
  });

  it('reports a wrong password as INCOMING_AUTH_FAILED with Dovecot’s reply, and no password', async () => {
    const mailbox = await createMailbox();
    const wrong = 'not-the-password-42';

    for (const spa of [false, true]) {
      const error = await failure(openPop3Reader(config(mailbox, { pass: wrong, spa })));
      expect(error.code).toBe('INCOMING_AUTH_FAILED');
      expect(error.reply).toMatch(/^-ERR \[AUTH\] Authentication failed/);
      expectNoSecret(error, wrong);
    }
  });

  it('fails with INCOMING_TLS_FAILED when TLS is spoken to the plain-text port', async () => {
    const mailbox = await createMailbox();
    const error = await failure(openPop3Reader(config(mailbox, { security: 'tls' })));
    expect(error.code).toBe('INCOMING_TLS_FAILED');
  });

  it('returns with a stored cursor only what is new, and forgets what the server no longer lists', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, ['A', 'B']);
    const first = await (await open(config(mailbox))).fetchNew(null, everything);
    expect(subjects(first)).toEqual(['A', 'B']);

    await deliver(mailbox, ['C']);
    const reader = await open(config(mailbox));
    const second = await reader.fetchNew(first.cursor, everything);
    expect(subjects(second)).toEqual(['C']);
    expect(seenOf(second)).toEqual([...seenOf(first), second.messages[0]!.serverId]);
    await reader.delete([first.messages[0]!.serverId]);
    await reader.close();

    const third = await (await open(config(mailbox))).fetchNew(second.cursor, everything);
    expect(third.messages).toEqual([]);
    expect(seenOf(third)).toEqual(seenOf(second).slice(1));
  });

  it('takes at most `limit` messages, says whether more wait, and serves several calls in one session', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, ['M1', 'M2', 'M3', 'M4', 'M5']);
    const reader = await open(config(mailbox));
    const batches: (string | undefined)[][] = [];
    const mores: boolean[] = [];
    let cursor: string | null = null;
    for (let more = true; more;) {
      const result: FetchResult = await reader.fetchNew(cursor, { ...everything, limit: 2 });
      batches.push(subjects(result));
      mores.push(result.more);
      ({ cursor, more } = result);
    }
    expect(batches).toEqual([['M1', 'M2'], ['M3', 'M4'], ['M5']]);
    expect(mores).toEqual([true, true, false]);
    expect((await reader.fetchNew(cursor, everything)).messages).toEqual([]);
    expect(await reader.fetchNew(null, { ...everything, limit: 0 })).toMatchObject({
      messages: [],
      more: true,
    });
  });

  it('reads a message larger than maxRawBytes with TOP n 0: its header block, truncated', async () => {
    const mailbox = await createMailbox();
    const big = `From: a@example.test\r\nSubject: Big\r\nX-Pad: ${'h'.repeat(300)}\r\n\r\n${'body line\r\n'.repeat(500)}`;
    await deliver(mailbox, ['Small', Buffer.from(big)]);
    const relay = await startRelay();
    const reader = await open(config(mailbox, { port: relay.port, security: 'none' }));

    const result = await reader.fetchNew(null, { ...everything, maxRawBytes: 2_000 });

    const [small, large] = result.messages;
    const [imapSmall, imapLarge] = await imapView(mailbox);
    expect(small).toMatchObject({ truncated: false, raw: imapSmall!.source });
    expect(large).toMatchObject({ truncated: true, raw: imapLarge!.header, size: Buffer.byteLength(big) });
    expect(large!.raw.toString()).toMatch(/^From: .*\r\n\r\n$/s);
    expect(relay.sent()).toMatch(/^RETR 1\r\n/m);
    expect(relay.sent()).toMatch(/^TOP 2 0\r\n/m);
    expect(relay.sent()).not.toMatch(/^RETR 2\r\n/m);
  });

  it('returns every byte as stored: dot-stuffed lines unstuffed, 8-bit bytes and line ends untouched', async () => {
    const mailbox = await createMailbox();
    const raw = Buffer.concat([
      Buffer.from('From: a@example.test\r\nSubject: Dots\r\n\r\n.\r\n..\r\n...x\r\n. leading\r\n'),
      Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a, 0x2e, 0xff, 0x0d, 0x0a]),
      Buffer.from(`${'x'.repeat(70_000)}\r\nend.\r\n.\r\n`),
    ]);
    await deliver(mailbox, [raw, Buffer.from('Subject: empty body\r\n\r\n'), 'After']);

    const result = await (await open(config(mailbox))).fetchNew(null, everything);

    expect(result.messages[0]!.raw.equals(raw)).toBe(true);
    expect(result.messages.map((m) => m.raw)).toEqual((await imapView(mailbox)).map((m) => m.source));
    expect(subjects(result)).toEqual(['Dots', 'empty body', 'After']);
  });

  it('sends the RETRs together when the server offers PIPELINING, one at a time when not, same result', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, ['P1', 'P2', 'P3', 'P4']);
    const piped = await startRelay();
    const single = await startRelay({
      rewrite: (line) => (line === 'PIPELINING' ? 'X-NOT-PIPELINING' : line),
    });

    const results = [];
    for (const relay of [piped, single]) {
      const reader = await open(config(mailbox, { port: relay.port, security: 'none' }));
      results.push(await reader.fetchNew(null, everything));
    }

    expect(results[0]).toEqual(results[1]);
    expect(subjects(results[0]!)).toEqual(['P1', 'P2', 'P3', 'P4']);
    const commandsPerChunk = (chunks: string[]) => chunks.map((chunk) => chunk.split('\r\n').length - 1);
    expect(piped.chunks()).toContain('UIDL\r\nLIST\r\n');
    expect(piped.chunks()).toContain('RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\n');
    expect(Math.max(...commandsPerChunk(single.chunks()))).toBe(1);
  });

  it('deletes at QUIT: what close() committed is gone, unknown ids are ignored', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, ['D1', 'D2', 'D3']);
    const reader = await open(config(mailbox));
    const { messages } = await reader.fetchNew(null, everything);

    await reader.delete([
      messages[0]!.serverId,
      messages[2]!.serverId,
      'no-such-uidl',
      messages[0]!.serverId,
    ]);
    // marked, not gone: another fetch in the session neither returns nor forgets them
    const again = await reader.fetchNew(null, everything);
    expect(subjects(again)).toEqual(['D2']);
    await reader.close();

    const after = await (await open(config(mailbox))).fetchNew(null, everything);
    expect(subjects(after)).toEqual(['D2']);
    expect(after.messages[0]!.serverId).toBe(messages[1]!.serverId);
  });

  it('deletes nothing when the session ends without QUIT, and says so: close() fails and logs it', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, ['K1', 'K2']);
    const relay = await startRelay();
    const warnings: unknown[][] = [];
    const logger = { debug: () => undefined, warn: (...args: unknown[]) => warnings.push(args) };
    const reader = await open(config(mailbox, { port: relay.port, security: 'none' }), logger);
    const { messages } = await reader.fetchNew(null, everything);
    await reader.delete(messages.map((m) => m.serverId));

    relay.drop();
    const error = await failure(reader.close());
    expect(error.message).toMatch(/deleted nothing/);

    expect(warnings).toEqual([[expect.objectContaining({ deletions: 2 }), 'pop3: QUIT failed']]);
    expect(relay.sent()).not.toMatch(/QUIT/);
    expect(subjects(await (await open(config(mailbox))).fetchNew(null, everything))).toEqual(['K1', 'K2']);
  });

  it('times out within about timeoutMs when the server stalls in the middle of a RETR', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, [Buffer.from(`Subject: Long\r\n\r\n${'line of text\r\n'.repeat(20_000)}`)]);
    const relay = await startRelay({ stall: { after: /^RETR /m, bytes: 30_000 } });
    const reader = await open(config(mailbox, { port: relay.port, security: 'none', timeoutMs: 600 }));

    const started = Date.now();
    const error = await failure(reader.fetchNew(null, everything));
    const elapsed = Date.now() - started;

    expect(error.code).toBe('INCOMING_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(1_500);
    // the connection is gone: later calls fail at once, and close() does not wait
    expect((await failure(reader.fetchNew(null, everything))).code).toBe('INCOMING_TIMEOUT');
    await reader.close();
  });
});

describe('openPop3Reader against scripted peers', () => {
  it('answers SPA_UNAVAILABLE when there is no APOP timestamp and no SASL CRAM-MD5, sending no password', async () => {
    const server = await startScriptedServer('+OK ready\r\n', (line) =>
      line === 'CAPA' ? '+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n' : '-ERR unexpected\r\n',
    );

    const error = await failure(openPop3Reader(scripted(server.port, { spa: true })));

    expect(error.code).toBe('SPA_UNAVAILABLE');
    expect(error.message).toMatch(/it offers SASL: PLAIN LOGIN/);
    await expect.poll(() => server.received).toEqual(['CAPA', 'QUIT']);
  });

  it('refuses to log in when the server does not offer STLS', async () => {
    const server = await startScriptedServer(
      '+OK ready <1.2@example.test>\r\n',
      () => '-ERR no STLS here\r\n',
    );

    const error = await failure(openPop3Reader(scripted(server.port, { security: 'starttls' })));

    expect(error).toMatchObject({ code: 'INCOMING_TLS_FAILED', reply: '-ERR no STLS here' });
    expect(server.received).toEqual(['STLS']);
  });

  it('keeps the password out of the error when the server echoes it', async () => {
    const server = await startScriptedServer('+OK ready\r\n', (line) =>
      line.startsWith('USER ') ? '+OK\r\n' : `-ERR you said: ${line}\r\n`,
    );
    const error = await failure(openPop3Reader(scripted(server.port)));
    expect(error.code).toBe('INCOMING_AUTH_FAILED');
    expect(error.reply).toBe('-ERR you said: PASS [redacted]');
    expectNoSecret(error, nobody.password);
  });

  /** A maildrop of one 5,000-byte message, logged in with USER/PASS; `extra` answers first. */
  const maildrop = (extra: (line: string) => string | null) =>
    startScriptedServer('+OK ready\r\n', (line) => {
      const answer = extra(line);
      if (answer !== null) return answer;
      if (/^(USER|PASS) /.test(line) || line === 'QUIT') return '+OK\r\n';
      if (line === 'CAPA') return '+OK\r\nUSER\r\n.\r\n';
      if (line === 'UIDL') return '+OK\r\n1 only-one\r\n.\r\n';
      if (line === 'LIST') return '+OK\r\n1 5000\r\n.\r\n';
      if (line === 'RETR 1') return `+OK\r\nSubject: x\r\n\r\n${'y'.repeat(4_978)}\r\n.\r\n`;
      return '-ERR unknown command\r\n';
    });

  it('fails with INCOMING_PROTOCOL_ERROR, saying why, when the server has no UIDL', async () => {
    const server = await maildrop((line) => (line === 'UIDL' ? '-ERR what is UIDL\r\n' : null));
    const reader = await open(scripted(server.port));
    const error = await failure(reader.fetchNew(null, everything));
    expect(error).toMatchObject({ code: 'INCOMING_PROTOCOL_ERROR', reply: '-ERR what is UIDL' });
    expect(error.message).toMatch(/does not support UIDL/);
  });

  it('cuts the header block out of RETR when the server has no TOP', async () => {
    const server = await maildrop(() => null);
    const reader = await open(scripted(server.port));
    const result = await reader.fetchNew(null, { ...everything, maxRawBytes: 1_000 });
    expect(result.messages).toEqual([
      expect.objectContaining({ raw: Buffer.from('Subject: x\r\n\r\n'), truncated: true, size: 5_000 }),
    ]);
    expect(server.received).toContain('TOP 1 0');
  });

  it('trusts the CA of `ca` besides the usual ones, and fails with INCOMING_TLS_FAILED on another', async () => {
    const { keyPem, certPem, caPem, otherCaPem } = ca();
    const server = await startScriptedServer(
      '+OK ready\r\n',
      (line) => (line === 'CAPA' ? '-ERR no CAPA\r\n' : '+OK\r\n'),
      { key: keyPem, cert: certPem },
    );
    for (let i = 0; i < 2; i++)
      await (await open(scripted(server.port, { security: 'tls', ca: caPem }))).close();
    const error = await failure(openPop3Reader(scripted(server.port, { security: 'tls', ca: otherCaPem })));
    expect(error.code).toBe('INCOMING_TLS_FAILED');
    expect(error.message).toMatch(/certificate/i);
  });

  it('refuses a message far larger than LIST said, and the session stays in step', async () => {
    const server = await maildrop((line) => {
      if (line === 'LIST') return '+OK\r\n1 10\r\n.\r\n';
      if (line === 'RETR 1') return `+OK\r\nSubject: x\r\n\r\n${'z'.repeat(1_200_000)}\r\n.\r\n`;
      if (line === 'DELE 1') return '+OK marked\r\n';
      return null;
    });
    const reader = await open(scripted(server.port));
    const error = await failure(reader.fetchNew(null, everything));
    expect(error.code).toBe('INCOMING_PROTOCOL_ERROR');
    expect(error.message).toMatch(/far more than the 10 bytes LIST announced/);
    await reader.delete(['only-one']);
    await reader.close();
    expect(server.received.slice(-2)).toEqual(['DELE 1', 'QUIT']);
  });

  it('fails with INCOMING_CONNECT_FAILED on a closed port, and INCOMING_TIMEOUT on a silent server', async () => {
    const refused = await failure(openPop3Reader(scripted(await closedPort())));
    expect(refused.code).toBe('INCOMING_CONNECT_FAILED');

    const silent = track(await startSilentServer());
    for (const security of ['none', 'tls'] as const) {
      const started = Date.now();
      const error = await failure(openPop3Reader(scripted(silent.port, { security, timeoutMs: 300 })));
      expect(error.code).toBe('INCOMING_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });
});

describe('multi-line replies', () => {
  const wire = Buffer.from('A\r\n..\r\n...b\r\n.c\r\n\r\nlast\r\n.\r\n+OK next');
  const message = Buffer.from('A\r\n.\r\n..b\r\nc\r\n\r\nlast\r\n');

  it('unstuffs dots and stops at the terminator, wherever the bytes are split', () => {
    for (let size = 1; size <= wire.length; size++) {
      const body = createMultilineBody(1_000);
      let rest: Buffer | null = null;
      for (let at = 0; at < wire.length && !rest; at += size) rest = body.push(wire.subarray(at, at + size));
      expect(body.body().toString(), `chunks of ${size}`).toBe(message.toString());
      expect(rest?.toString(), `chunks of ${size}`).toBe('+OK next'.slice(0, rest!.length));
    }
  });

  it('reads an empty body, and drops what is beyond keepBytes', () => {
    const empty = createMultilineBody(10);
    expect(empty.push(Buffer.from('.\r\n'))?.length).toBe(0);
    expect(empty.body().length).toBe(0);
    const small = createMultilineBody(4);
    expect(small.push(wire)?.toString()).toBe('+OK next');
    expect(small.body().toString()).toBe('A\r\n.');
    expect(small.overflowed).toBe(true);
  });
});
