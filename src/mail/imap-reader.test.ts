/**
 * The IMAP reader against the real Dovecot of test/mail-peers: every security mode, both
 * challenge-response mechanisms, cursors, UIDVALIDITY, \Seen, deletion, the Sent folder and IDLE.
 * Mail is put in place with IMAP APPEND (fast, and it sets INTERNALDATE). Where Dovecot has to be
 * made to behave otherwise (offer no SCRAM, no IDLE, forge a signature, go quiet) a relay on the
 * plain-text port rewrites or holds its lines; only the SPA_UNAVAILABLE, silent-server and
 * untrusted-certificate cases use scripted peers.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  connectImap,
  createMailbox,
  mailPeers,
  useMailPeers,
  type Mailbox,
} from '../../test/support/mail-peers.ts';
import { expectNoSecret, failure, startRelay as startRelayTo } from '../../test/support/readers.ts';
import { startTcpProxy } from '../../test/support/tcp-proxy.ts';
import { openImapReader, uidSets } from './imap-reader.ts';
import { ReaderError, type FetchOptions, type ReaderConfig } from './reader.ts';
import { anyHost } from '../net/address-policy.ts';
import { closedPort, startSilentServer, startTestSmtpServer, useSmtpTestKit } from './smtp-test-fixtures.ts';

const host = '127.0.0.1';
// servers and readers closed after each test, and a CA nobody trusts
const { track, ca } = useSmtpTestKit();

/** Dovecot's STARTTLS port, trusting its CA. */
const dovecot = () => ({ host, port: mailPeers.ports.imap, security: 'starttls' as const, ca: mailPeers.ca });

/** This mailbox on Dovecot, reading INBOX. */
const config = (mailbox: Mailbox, overrides: Partial<ReaderConfig> = {}): ReaderConfig => ({
  ...dovecot(),
  user: mailbox.user,
  pass: mailbox.password,
  spa: false,
  timeoutMs: 5_000,
  folders: ['INBOX'],
  // the peers are on loopback; the address policy has tests of its own (address-policy.test.ts)
  hostPolicy: anyHost,
  ...overrides,
});

const open = async (readerConfig: ReaderConfig) => track(await openImapReader(readerConfig));
const everything: FetchOptions = { limit: 1_000, since: null, maxRawBytes: 10_000_000 };
const days = (n: number) => new Date(Date.now() - n * 86_400_000);
const subjects = (result: { messages: { raw: Buffer }[] }) =>
  result.messages.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString())?.[1]?.trim());

/** Appends messages (no flags) with these subjects, and INTERNALDATE when given. */
async function deliver(
  mailbox: Mailbox,
  folder: string,
  messages: (string | { subject: string; date?: Date; body?: string })[],
): Promise<void> {
  const client = await connectImap(mailbox.user, mailbox.password);
  try {
    for (const m of messages) {
      const { subject, date, body } = typeof m === 'string' ? { subject: m } : m;
      const raw = `From: a@example.test\r\nTo: ${mailbox.address}\r\nSubject: ${subject}\r\n\r\n${body ?? 'Hello'}\r\n`;
      await client.append(folder, raw, [], date);
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** Runs `work` on a connection of the test's own (the mailbox as a person's mail client sees it). */
async function withImap<T>(
  mailbox: Mailbox,
  work: (client: Awaited<ReturnType<typeof connectImap>>) => Promise<T>,
) {
  const client = await connectImap(mailbox.user, mailbox.password);
  try {
    return await work(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** UID → flags of every message in the folder, looked at read-only. */
const flagsOf = (mailbox: Mailbox, folder = 'INBOX') =>
  withImap(mailbox, async (client) => {
    const box = await client.mailboxOpen(folder, { readOnly: true });
    const flags = new Map<number, string[]>();
    if (box.exists > 0) {
      for await (const m of client.fetch('1:*', { uid: true, flags: true }))
        flags.set(m.uid, [...(m.flags ?? [])]);
    }
    return flags;
  });

/** The Dovecot log line of this user's login, which names the mechanism (users are unique per test). */
async function loginMechanisms(mailbox: Mailbox): Promise<string[]> {
  const file = path.join(mailPeers.root, 'dovecot', 'dovecot.log');
  const pattern = new RegExp(`Login: user=<${mailbox.user}>, method=([A-Z0-9-]+)`, 'g');
  return [...fs.readFileSync(file, 'utf8').matchAll(pattern)].map((match) => match[1]!);
}

/**
 * A relay to Dovecot's plain-text IMAP port (see test/support/readers.ts) that can rewrite the
 * server's lines, closed after the test.
 */
const startRelay = async (rewrite?: (line: string) => string) =>
  track(await startRelayTo(mailPeers.ports.imap, { rewrite }));

/** Takes a capability out of every capability list Dovecot sends. */
const withoutCapability = (capability: string) => (line: string) =>
  /CAPABILITY/.test(line) ? line.replace(new RegExp(` ${capability}(?= |\\]|$)`, 'g'), '') : line;

describe('openImapReader against Dovecot', () => {
  useMailPeers();

  it('logs in over STARTTLS, implicit TLS and plain text, and reads the same messages each way', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, 'INBOX', ['One', 'Two']);

    for (const security of ['starttls', 'tls', 'none'] as const) {
      const port = security === 'tls' ? mailPeers.ports.imaps : mailPeers.ports.imap;
      const reader = await open(config(mailbox, { security, port }));
      const result = await reader.fetchNew(null, everything);
      expect(subjects(result)).toEqual(['One', 'Two']);
      expect(result.more).toBe(false);
      expect(result.resynced).toEqual([]);
      expect(reader.watch).toBeTypeOf('function');
      await reader.close();
    }
    // the first is deliver()'s
    expect(await loginMechanisms(mailbox)).toEqual(['PLAIN', 'PLAIN', 'PLAIN', 'PLAIN']);
  });

  it('logs in with SCRAM-SHA-256 under spa, and the password never crosses the wire', async () => {
    const mailbox = await createMailbox('pässwörd "✓" \\ ok');
    await deliver(mailbox, 'INBOX', ['Hello']);
    const relay = await startRelay();

    const reader = await open(config(mailbox, { port: relay.port, security: 'none', spa: true }));
    expect(subjects(await reader.fetchNew(null, everything))).toEqual(['Hello']);
    await open(config(mailbox, { spa: true })); // and over STARTTLS

    expect(relay.sent()).toMatch(/^\w+ AUTHENTICATE SCRAM-SHA-256\r\n/m);
    expect(relay.sent()).not.toMatch(/ (LOGIN|AUTHENTICATE PLAIN)\b/);
    for (const secret of [mailbox.password, Buffer.from(mailbox.password).toString('base64')]) {
      expect(relay.sent()).not.toContain(secret);
    }
    await expect.poll(() => loginMechanisms(mailbox)).toEqual(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-256']);
  });

  it('logs in with CRAM-MD5 under spa when the server offers no SCRAM-SHA-256', async () => {
    const mailbox = await createMailbox();
    const relay = await startRelay(withoutCapability('AUTH=SCRAM-SHA-256'));

    const reader = await open(config(mailbox, { port: relay.port, security: 'none', spa: true }));
    await reader.fetchNew(null, everything);

    expect(relay.sent()).toMatch(/^\w+ AUTHENTICATE CRAM-MD5\r\n/m);
    expect(relay.sent()).not.toContain(mailbox.password);
    await expect.poll(() => loginMechanisms(mailbox)).toEqual(['CRAM-MD5']);
  });

  it('refuses a server whose SCRAM signature is wrong, even though it accepted the password', async () => {
    const mailbox = await createMailbox();
    const forged = `+ ${Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`).toString('base64')}`;
    const relay = await startRelay((line) =>
      line.startsWith('+ ') && Buffer.from(line.slice(2), 'base64').toString().startsWith('v=')
        ? forged
        : line,
    );

    const error = await failure(
      openImapReader(config(mailbox, { port: relay.port, security: 'none', spa: true })),
    );

    expect(error.code).toBe('INCOMING_AUTH_FAILED');
    expect(error.message).toMatch(/wrong signature/);
    expect(relay.sent()).toMatch(/^\*\r\n/m); // the exchange was cancelled
  });

  it('fails with INCOMING_TLS_FAILED when TLS is spoken to the plain-text port', async () => {
    const mailbox = await createMailbox();
    const error = await failure(openImapReader(config(mailbox, { security: 'tls' })));
    expect(error.code).toBe('INCOMING_TLS_FAILED');
  });

  it('reports a wrong password as INCOMING_AUTH_FAILED with Dovecot’s reply, and no password', async () => {
    const mailbox = await createMailbox();
    const wrong = 'not-the-password-42';

    for (const spa of [false, true]) {
      const error = await failure(openImapReader(config(mailbox, { pass: wrong, spa })));
      expect(error.code).toBe('INCOMING_AUTH_FAILED');
      expect(error.reply).toMatch(/^\w+ NO \[AUTHENTICATIONFAILED\] Authentication failed/);
      expectNoSecret(error, wrong);
    }
  });

  it('reads only mail since the given day on a first sync, then everything new, and nothing twice', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, 'INBOX', [
      { subject: 'Old 1', date: days(30) },
      { subject: 'New 1', date: days(2) },
      { subject: 'Old 2', date: days(20) },
      { subject: 'New 2', date: days(1) },
      { subject: 'New 3' },
    ]);
    const reader = await open(config(mailbox));
    const options = { ...everything, limit: 2, since: days(5) };

    const first = await reader.fetchNew(null, options);
    expect(subjects(first)).toEqual(['New 1', 'New 2']);
    expect(first.more).toBe(true);
    expect(first.messages[0]?.receivedAt?.getTime()).toBeCloseTo(days(2).getTime(), -4);
    expect(first.messages.map((m) => m.folder)).toEqual(['INBOX', 'INBOX']);
    // the rest of the first sync keeps its bound, whatever `since` the next call passes
    const second = await reader.fetchNew(first.cursor, { ...options, since: null });
    expect(subjects(second)).toEqual(['New 3']);
    expect(second.more).toBe(false);

    // after the first sync, whatever arrives is read, whatever date it carries
    await deliver(mailbox, 'INBOX', [{ subject: 'Moved in, old', date: days(40) }, 'Later']);
    const third = await reader.fetchNew(second.cursor, options);
    expect(subjects(third)).toEqual(['Moved in, old', 'Later']);
    await reader.close();

    // a restart with the stored cursor reads nothing again
    const restarted = await open(config(mailbox));
    const again = await restarted.fetchNew(third.cursor, options);
    expect(again.messages).toEqual([]);
    expect(again.more).toBe(false);
    expect(JSON.parse(again.cursor)).toEqual(JSON.parse(third.cursor));
  });

  it('reads several folders in order within the limit, and the cursor moves past what it returned only', async () => {
    const mailbox = await createMailbox();
    await withImap(mailbox, (client) => client.mailboxCreate('Work'));
    await deliver(mailbox, 'INBOX', ['I1', 'I2', 'I3']);
    await deliver(mailbox, 'Work', ['W1', 'W2']);
    const reader = await open(config(mailbox, { folders: ['INBOX', 'Work', 'Archive'] }));

    const seen: (string | undefined)[][] = [];
    let cursor: string | null = null;
    for (let more = true; more;) {
      const result = await reader.fetchNew(cursor, { ...everything, limit: 2 });
      seen.push(subjects(result));
      ({ cursor, more } = result);
    }

    expect(seen).toEqual([['I1', 'I2'], ['I3', 'W1'], ['W2']]);
    const state = JSON.parse(cursor!) as { v: number; folders: Record<string, unknown> };
    expect(state.v).toBe(1);
    expect(state.folders).toEqual({
      INBOX: { uidValidity: expect.stringMatching(/^\d+$/) as string, lastUid: 3 },
      Work: { uidValidity: expect.stringMatching(/^\d+$/) as string, lastUid: 2 },
      Archive: { uidValidity: expect.stringMatching(/^\d+$/) as string, lastUid: 0 },
    });
  });

  it('reads a folder again from the start when its UIDVALIDITY changed, and says so', async () => {
    const mailbox = await createMailbox();
    await withImap(mailbox, (client) => client.mailboxCreate('Work'));
    await deliver(mailbox, 'Work', ['Before 1', 'Before 2']);
    await deliver(mailbox, 'INBOX', ['Inbox']);
    const reader = await open(config(mailbox, { folders: ['INBOX', 'Work'] }));
    const first = await reader.fetchNew(null, everything);
    expect(subjects(first)).toEqual(['Inbox', 'Before 1', 'Before 2']);

    await withImap(mailbox, async (client) => {
      await client.mailboxDelete('Work');
      await client.mailboxCreate('Work');
    });
    await deliver(mailbox, 'Work', ['After 1', 'After 2']);

    const partly = await reader.fetchNew(first.cursor, { ...everything, limit: 1 });
    expect(subjects(partly)).toEqual(['After 1']);
    expect(partly.resynced).toEqual(['Work']);
    const rest = await reader.fetchNew(partly.cursor, everything);
    expect(subjects(rest)).toEqual(['After 2']);
    expect(rest.resynced).toEqual(['Work']); // until the re-read is complete
    expect((await reader.fetchNew(rest.cursor, everything)).resynced).toEqual([]);
    expect(JSON.parse(rest.cursor).folders.Work.uidValidity).not.toBe(
      JSON.parse(first.cursor).folders.Work.uidValidity,
    );
  });

  it('never sets \\Seen, and sends a message over maxRawBytes as its header block only', async () => {
    const mailbox = await createMailbox();
    const big = 'x'.repeat(76) + '\r\n';
    await deliver(mailbox, 'INBOX', ['Small', { subject: 'Big', body: big.repeat(2_000) }, 'After']);

    const relay = await startRelay();
    const reader = await open(config(mailbox, { port: relay.port, security: 'none' }));
    const result = await reader.fetchNew(null, { ...everything, maxRawBytes: 50_000 });

    // EXAMINE and BODY.PEEK, each of which alone keeps \Seen unset; one FETCH per kind of message
    expect(relay.sent()).toMatch(/^\w+ EXAMINE INBOX/m);
    expect(relay.sent()).not.toMatch(/ SELECT /);
    const fetches = relay.sent().match(/^\w+ UID FETCH .*$/gm) ?? [];
    expect(fetches).toEqual([
      expect.stringMatching(/^\w+ UID FETCH 1,3 \(.*BODY\.PEEK\[\]/),
      expect.stringMatching(/^\w+ UID FETCH 2 \(.*BODY\.PEEK\[HEADER\]/),
    ]);

    expect(subjects(result)).toEqual(['Small', 'Big', 'After']);
    const [small, large] = result.messages;
    expect(small).toMatchObject({ truncated: false, size: small!.raw.length });
    expect(small!.raw.toString()).toMatch(/\r\n\r\nHello\r\n$/);
    expect(large!.truncated).toBe(true);
    expect(large!.size).toBeGreaterThan(150_000);
    expect(large!.raw.toString()).toMatch(/^From: .*Subject: Big\r\n\r\n$/s);
    for (const flags of (await flagsOf(mailbox)).values()) expect(flags).not.toContain('\\Seen');
  });

  it('deletes by server id, and skips ids from before a UIDVALIDITY change and ids it never made', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, 'INBOX', ['Keep', 'Drop 1', 'Drop 2']);
    const reader = await open(config(mailbox));
    const { messages } = await reader.fetchNew(null, everything);
    const [keep, drop1, drop2] = messages.map((m) => m.serverId);
    const [folder, uidValidity, uid] = JSON.parse(keep!) as [string, string, number];
    const stale = JSON.stringify([folder, `${uidValidity}9`, uid]);

    await reader.delete([drop1!, drop2!, stale, 'not an id', JSON.stringify(['Nowhere', '1', 1])]);

    expect([...(await flagsOf(mailbox)).keys()]).toEqual([uid]);
    await reader.delete([drop1!]); // gone already: ignored
  });

  it('files a sent message in the \\Sent folder, seen', async () => {
    const mailbox = await createMailbox();
    const reader = await open(config(mailbox));
    const raw = Buffer.from(
      `From: ${mailbox.address}\r\nTo: b@example.test\r\nSubject: Sent copy\r\n\r\nHi\r\n`,
    );

    await reader.appendSent!(raw);

    const sent = await withImap(mailbox, async (client) => {
      await client.mailboxOpen('Sent', { readOnly: true });
      return client.fetchAll('1:*', { source: true, flags: true });
    });
    expect(sent.map((m) => m.source?.toString())).toEqual([raw.toString()]);
    expect([...(sent[0]?.flags ?? [])]).toContain('\\Seen');
  });

  it('fails with INCOMING_FOLDER_NOT_FOUND for a folder the server does not have', async () => {
    const mailbox = await createMailbox();
    const reader = await open(config(mailbox, { folders: ['INBOX', 'Nope'] }));
    const error = await failure(reader.fetchNew(null, everything));
    expect(error.code).toBe('INCOMING_FOLDER_NOT_FOUND');
    expect(error.message).toContain('Nope');
    // the connection is still usable
    await reader.appendSent!(Buffer.from('Subject: still here\r\n\r\nHi\r\n'));
  });

  it('watches INBOX on a connection of its own: onNew on arrival, fetches meanwhile, and stop ends it', async () => {
    const mailbox = await createMailbox();
    const reader = await open(config(mailbox));
    let calls = 0;
    const errors: Error[] = [];
    const stop = await reader.watch!(
      () => calls++,
      (error) => errors.push(error),
    );

    expect((await reader.fetchNew(null, everything)).messages).toEqual([]); // not blocked by IDLE
    await deliver(mailbox, 'INBOX', ['Arrived']);
    await expect.poll(() => calls, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(subjects(await reader.fetchNew(null, everything))).toEqual(['Arrived']);

    await stop();
    const after = calls;
    await deliver(mailbox, 'INBOX', ['Unwatched']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toBe(after);
    expect(errors).toEqual([]);

    // close() ends a running watch too
    await reader.watch!(
      () => calls++,
      (error) => errors.push(error),
    );
    await reader.close();
    await deliver(mailbox, 'INBOX', ['After close']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toBe(after);
    expect(errors).toEqual([]);
  });

  it('calls onNew at the start of a watch for mail that came after the cursor it was given, and only then', async () => {
    const mailbox = await createMailbox();
    await deliver(mailbox, 'INBOX', ['Read by the sync']);
    const reader = await open(config(mailbox));
    const { cursor } = await reader.fetchNew(null, everything);
    const watchFrom = async (readUpTo: string | null) => {
      let calls = 0;
      const stop = await reader.watch!(
        () => calls++,
        () => undefined,
        readUpTo,
      );
      await stop();
      return calls;
    };

    expect(await watchFrom(cursor)).toBe(0);
    await deliver(mailbox, 'INBOX', ['Came before the watch began']);
    expect(await watchFrom(cursor)).toBe(1);
    expect(await watchFrom(null)).toBe(1);
    await reader.close();
  });

  it('holds one session on the server while it only watches: the fetch connection goes until a call needs it', async () => {
    const mailbox = await createMailbox();
    const proxy = await startTcpProxy({ host, port: mailPeers.ports.imap });
    try {
      const reader = await open(config(mailbox, { port: proxy.port }));
      expect(proxy.connections()).toBe(1);
      const stop = await reader.watch!(
        () => undefined,
        () => undefined,
      );
      await expect.poll(() => proxy.connections()).toBe(1);
      expect((await reader.fetchNew(null, everything)).messages).toEqual([]);
      expect(proxy.connections()).toBe(2);
      await stop();
      await reader.close();
    } finally {
      await proxy.close();
    }
  });

  it('reports a watch connection that fails, once', async () => {
    const mailbox = await createMailbox();
    const relay = await startRelay();
    const reader = await open(config(mailbox, { port: relay.port, security: 'none' }));
    const errors: Error[] = [];
    await reader.watch!(
      () => undefined,
      (error) => errors.push(error),
    );

    await relay.close(); // both connections drop

    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(ReaderError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toHaveLength(1);
  });

  it('offers no watch when the server has no IDLE', async () => {
    const mailbox = await createMailbox();
    const relay = await startRelay(withoutCapability('IDLE'));
    const reader = await open(config(mailbox, { port: relay.port, security: 'none' }));
    expect(reader.watch).toBeUndefined();
    expect('watch' in reader).toBe(false);
  });

  it('times out on a server that stops answering mid-session', async () => {
    const mailbox = await createMailbox();
    const relay = await startRelay();
    const reader = await open(config(mailbox, { port: relay.port, security: 'none', timeoutMs: 500 }));

    relay.freeze();
    const started = Date.now();
    const error = await failure(reader.fetchNew(null, everything));

    expect(error.code).toBe('INCOMING_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('openImapReader: failures without Dovecot', () => {
  const nobody = { user: 'ada', address: 'ada@example.test', password: 'correct horse battery' };
  const offline = (overrides: Partial<ReaderConfig>) =>
    config(nobody, { security: 'none', timeoutMs: 2_000, ca: undefined, ...overrides });

  it('answers SPA_UNAVAILABLE when the server offers neither SCRAM-SHA-256 nor CRAM-MD5, sending no password', async () => {
    const received: string[] = [];
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] ready\r\n');
      socket.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
          received.push(line);
          const [tag, verb] = line.split(' ');
          if (verb === 'CAPABILITY')
            socket.write(`* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n${tag} OK done\r\n`);
          else socket.write(`${tag} BAD unexpected\r\n`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });

    const error = await failure(
      openImapReader(offline({ port: (server.address() as net.AddressInfo).port, spa: true })),
    );

    expect(error.code).toBe('SPA_UNAVAILABLE');
    expect(error.message).toBe(
      'The server offers no challenge-response login (SCRAM-SHA-256 or CRAM-MD5); it offers: PLAIN, LOGIN',
    );
    expect(received.join('\n')).not.toMatch(/LOGIN|AUTHENTICATE|correct horse/);
  });

  it('fails with INCOMING_CONNECT_FAILED on a closed port, and INCOMING_TIMEOUT on a silent server', async () => {
    const refused = await failure(openImapReader(offline({ port: await closedPort() })));
    expect(refused.code).toBe('INCOMING_CONNECT_FAILED');

    const silent = track(await startSilentServer());
    for (const security of ['none', 'tls'] as const) {
      const started = Date.now();
      const error = await failure(openImapReader(offline({ port: silent.port, security, timeoutMs: 300 })));
      expect(error.code).toBe('INCOMING_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(1_500);
    }
  });

  it('fails with INCOMING_TLS_FAILED on a certificate nobody trusts', async () => {
    // any implicit-TLS server will do: the handshake fails before a word of its protocol
    const server = track(await startTestSmtpServer({ secure: true, key: ca().keyPem, cert: ca().certPem }));

    const error = await failure(openImapReader(offline({ port: server.port, security: 'tls' })));

    expect(error.code).toBe('INCOMING_TLS_FAILED');
    expect(error.message).toMatch(/certificate/i);
  });
});

describe('uidSets', () => {
  it('writes runs as ranges and splits long sets', () => {
    expect(uidSets([1, 2, 3, 5, 7, 8])).toEqual(['1:3,5,7:8']);
    expect(uidSets([])).toEqual([]);
    expect(uidSets([10, 20, 30, 31], 6)).toEqual(['10,20', '30:31']);
  });
});
