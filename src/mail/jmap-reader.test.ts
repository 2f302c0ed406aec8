/**
 * The JMAP reader against the real Cyrus of test/mail-peers (JMAP over HTTP and HTTPS): session
 * discovery, cursors, Email/changes, moves and deletions, the Sent mailbox, truncation. Mail is
 * put in with JMAP upload + Email/import, which sets receivedAt. Timeouts, refusals and TLS trust
 * use small local HTTP servers instead.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createJmapMailbox,
  importJmapEmail,
  jmapMailboxes,
  jmapRequest,
  mailPeers,
  type JmapInvocation,
  type JmapMailbox,
} from '../../test/support/mail-peers.ts';
import { failure } from '../../test/support/readers.ts';
import { openJmapReader, sessionUrlOf } from './jmap-reader.ts';
import type { FetchOptions, FetchResult, ReaderConfig } from './reader.ts';
import { anyHost } from '../net/address-policy.ts';
import { closedPort, startSilentServer, useSmtpTestKit } from './smtp-test-fixtures.ts';

// local servers and readers are closed after each test; ca() is a CA nobody trusts
const { track, ca } = useSmtpTestKit();
const host = '127.0.0.1';

/** This Cyrus account through its session URL over plain HTTP, reading INBOX. */
const config = (box: JmapMailbox, overrides: Partial<ReaderConfig> = {}): ReaderConfig => ({
  url: box.sessionUrl,
  security: 'none',
  host,
  port: mailPeers.ports.jmap,
  user: box.user,
  pass: box.password,
  spa: false,
  folders: ['INBOX'],
  timeoutMs: 5_000,
  hostPolicy: anyHost,
  ...overrides,
});

const open = async (readerConfig: ReaderConfig) => track(await openJmapReader(readerConfig));
const everything: FetchOptions = { limit: 1_000, since: null, maxRawBytes: 10_000_000 };
const days = (n: number) => new Date(Date.now() - n * 86_400_000);
const subjects = (result: FetchResult) =>
  result.messages.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString())?.[1]?.trim());

const message = (subject: string, body = 'Hello') =>
  `From: a@example.test\r\nTo: b@cyrus.test\r\nSubject: ${subject}\r\n\r\n${body}\r\n`;

/** Imports messages with these subjects, in order, into a mailbox (role or name; the inbox by default). */
async function deliver(
  box: JmapMailbox,
  messages: (string | { subject: string; receivedAt?: Date; body?: string })[],
  mailbox?: string,
): Promise<string[]> {
  const ids: string[] = [];
  for (const m of messages) {
    const { subject, receivedAt, body } = typeof m === 'string' ? { subject: m } : m;
    ids.push(await importJmapEmail(box, message(subject, body), { mailbox, receivedAt }));
  }
  return ids;
}

/** Moves an email into the mailbox with this role or name, out of all others. */
async function move(box: JmapMailbox, id: string, to: string): Promise<void> {
  const target = (await jmapMailboxes(box)).find((m) => m.role === to || m.name === to)!;
  await jmapRequest(box, [
    ['Email/set', { accountId: box.user, update: { [id]: { mailboxIds: { [target.id]: true } } } }, 'm'],
  ]);
}

/** The arguments of the last method response. */
const lastResult = (responses: JmapInvocation[]) => responses.at(-1)![1];

describe('openJmapReader against Cyrus', () => {
  it('finds the session from its URL (Cyrus’s apiUrl is relative), over HTTP and HTTPS, and from host and port', async () => {
    const box = await createJmapMailbox();
    const [id] = await deliver(box, [{ subject: 'one', receivedAt: new Date('2026-01-02T03:04:05Z') }]);

    const overHttps = config(box, {
      url: box.secureSessionUrl,
      security: 'tls',
      port: mailPeers.ports.jmaps,
    });
    // no url: http://127.0.0.1:port/.well-known/jmap, which Cyrus redirects to /jmap
    const wellKnown = config(box, { url: null });
    for (const readerConfig of [config(box), overHttps, wellKnown]) {
      const result = await (await open(readerConfig)).fetchNew(null, everything);
      expect(result.messages).toMatchObject([
        {
          serverId: id,
          folder: 'INBOX',
          truncated: false,
          receivedAt: new Date('2026-01-02T03:04:05Z'),
        },
      ]);
      expect(result.messages[0]!.raw.toString()).toBe(message('one'));
      expect(result.messages[0]!.size).toBe(message('one').length);
      expect(result).toMatchObject({ more: false, resynced: [] });
    }
  });

  it('reports a wrong password as INCOMING_AUTH_FAILED with the status line, and no password', async () => {
    const box = await createJmapMailbox();
    const error = await failure(openJmapReader(config(box, { pass: `${box.password}-wrong` })));

    expect(error.code).toBe('INCOMING_AUTH_FAILED');
    expect(error.reply).toBe('HTTP 401 Unauthorized');
    const text = JSON.stringify({ ...error, message: error.message });
    expect(text).not.toContain(box.password);
    expect(text).not.toContain(Buffer.from(`${box.user}:${box.password}-wrong`).toString('base64'));
  });

  it('reads only mail since the given moment on a first sync, nothing old after a restart, then what is new', async () => {
    const box = await createJmapMailbox();
    await deliver(box, [
      { subject: 'ten days old', receivedAt: days(10) },
      { subject: 'five days old', receivedAt: days(5) },
      { subject: 'recent', receivedAt: days(1) },
    ]);
    const options = { ...everything, since: days(7) };

    const first = await (await open(config(box))).fetchNew(null, options);
    expect(subjects(first)).toEqual(['five days old', 'recent']);

    // a new process with the stored cursor: nothing it returned comes back
    const reader = await open(config(box));
    const again = await reader.fetchNew(first.cursor, options);
    expect(again.messages).toEqual([]);
    expect(JSON.parse(again.cursor)).toEqual(JSON.parse(first.cursor));

    // received long before `since`, but new since the cursor: Email/changes finds it
    await deliver(box, [{ subject: 'late arrival', receivedAt: days(30) }]);
    const later = await reader.fetchNew(again.cursor, options);
    expect(subjects(later)).toEqual(['late arrival']);
    expect(JSON.parse(later.cursor)).not.toHaveProperty('query');
    expect((await reader.fetchNew(later.cursor, options)).messages).toEqual([]);
  });

  it('returns at most `limit` messages, says `more`, and goes on from there', async () => {
    const box = await createJmapMailbox();
    // two share a second: the page boundary falls between them
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    await deliver(box, [
      { subject: 'm1', receivedAt: at(1) },
      { subject: 'm2', receivedAt: at(2) },
      { subject: 'm3', receivedAt: at(2) },
      { subject: 'm4', receivedAt: at(4) },
      { subject: 'm5', receivedAt: at(5) },
    ]);
    const reader = await open(config(box));
    const read: (string | undefined)[] = [];
    const mores: boolean[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 3; i++) {
      const result: FetchResult = await reader.fetchNew(cursor, { ...everything, limit: 2 });
      read.push(...subjects(result));
      mores.push(result.more);
      cursor = result.cursor;
    }
    expect(read.slice(0, 1)).toEqual(['m1']);
    expect(read.slice(1, 3).sort()).toEqual(['m2', 'm3']);
    expect(read.slice(3)).toEqual(['m4', 'm5']);
    expect(mores).toEqual([true, true, false]);

    // the same with Email/changes: two new ones, one at a time
    await deliver(box, ['n1', 'n2']);
    const one = await reader.fetchNew(cursor, { ...everything, limit: 1 });
    const two = await reader.fetchNew(one.cursor, { ...everything, limit: 1 });
    const three = await reader.fetchNew(two.cursor, { ...everything, limit: 1 });
    expect([...subjects(one), ...subjects(two), ...subjects(three)].sort()).toEqual(['n1', 'n2']);
    expect([one.more, three.more]).toEqual([true, false]);
  });

  it('leaves out what moved away or was destroyed, and what arrived in other mailboxes', async () => {
    const box = await createJmapMailbox();
    const reader = await open(config(box));
    const start = await reader.fetchNew(null, everything);
    const [kept, moved, destroyed] = await deliver(box, ['kept', 'moved', 'destroyed']);
    await deliver(box, ['archived'], 'archive');
    await move(box, moved!, 'trash');
    await jmapRequest(box, [['Email/set', { accountId: box.user, destroy: [destroyed] }, 'd']]);

    const result = await reader.fetchNew(start.cursor, everything);
    expect(result.messages.map((m) => [m.serverId, m.folder])).toEqual([[kept, 'INBOX']]);

    // moving a message out after it was read, or destroying one, brings nothing back
    await move(box, kept!, 'archive');
    expect((await reader.fetchNew(result.cursor, everything)).messages).toEqual([]);
  });

  it('reads a message moved into a read folder from another, and not again when only its flags change', async () => {
    const box = await createJmapMailbox();
    const reader = await open(config(box));
    const start = await reader.fetchNew(null, everything);
    const [filed] = await deliver(box, ['filed elsewhere'], 'archive');
    const stored = new Set<string>();
    const options: FetchOptions = {
      ...everything,
      storedAmong: async (ids) => new Set(ids.filter((id) => stored.has(id))),
    };
    const before = await reader.fetchNew(start.cursor, options);
    expect(before.messages).toEqual([]);

    await move(box, filed!, 'inbox');
    const moved = await reader.fetchNew(before.cursor, options);
    expect(moved.messages.map((m) => [m.serverId, m.folder])).toEqual([[filed, 'INBOX']]);
    expect(subjects(moved)).toEqual(['filed elsewhere']);
    stored.add(filed!);

    const seen = async () =>
      jmapRequest(box, [
        ['Email/set', { accountId: box.user, update: { [filed!]: { 'keywords/$seen': true } } }, 's'],
      ]);
    await seen();
    const flagged = await reader.fetchNew(moved.cursor, options);
    expect(flagged).toMatchObject({
      messages: [],
      more: false,
      nowIn: [{ serverId: filed, folder: 'INBOX' }],
    });

    // a caller that cannot say what it has stored gets the message again, and de-duplicates
    await jmapRequest(box, [
      ['Email/set', { accountId: box.user, update: { [filed!]: { 'keywords/$seen': null } } }, 'u'],
    ]);
    const again = await reader.fetchNew(flagged.cursor, everything);
    expect(again.messages.map((m) => m.serverId)).toEqual([filed]);
  });

  it('says where a stored message is after it moves between two read folders, without downloading it', async () => {
    const box = await createJmapMailbox();
    const reader = await open(config(box, { folders: ['INBOX', 'Archive'] }));
    const [id] = await deliver(box, ['to be archived']);
    const first = await reader.fetchNew(null, everything);
    expect(first.messages.map((m) => [m.serverId, m.folder])).toEqual([[id, 'INBOX']]);

    await move(box, id!, 'archive');
    const after = await reader.fetchNew(first.cursor, {
      ...everything,
      storedAmong: async (ids) => new Set(ids.filter((candidate) => candidate === id)),
    });
    expect(after).toMatchObject({ messages: [], nowIn: [{ serverId: id, folder: 'Archive' }] });
  });

  it('reads nested mailboxes by path, and a folder added to the configuration from its start', async () => {
    const box = await createJmapMailbox();
    const archive = (await jmapMailboxes(box)).find((m) => m.role === 'archive')!;
    await jmapRequest(box, [
      ['Mailbox/set', { accountId: box.user, create: { y: { name: '2024', parentId: archive.id } } }, 'c'],
    ]);
    await deliver(box, ['in the inbox']);
    await deliver(box, [{ subject: 'filed', receivedAt: days(3) }], '2024');

    const inboxOnly = await (await open(config(box))).fetchNew(null, everything);
    expect(subjects(inboxOnly)).toEqual(['in the inbox']);

    const both = await open(config(box, { folders: ['INBOX', 'Archive/2024'] }));
    const result = await both.fetchNew(inboxOnly.cursor, everything);
    expect(result.messages.map((m) => [subjects({ ...result, messages: [m] })[0], m.folder])).toEqual([
      ['filed', 'Archive/2024'],
    ]);
    expect(result.resynced).toEqual([]);
    expect((await both.fetchNew(result.cursor, everything)).messages).toEqual([]);
  });

  it('reads everything again when the server cannot tell the changes since the cursor, and says so', async () => {
    const box = await createJmapMailbox();
    await deliver(box, ['a', 'b']);
    const reader = await open(config(box));
    const first = await reader.fetchNew(null, everything);
    const stale = JSON.stringify({ ...JSON.parse(first.cursor), state: 'not-a-state-of-this-server' });

    const again = await reader.fetchNew(stale, everything);
    expect(subjects(again)).toEqual(['a', 'b']);
    expect(again.resynced).toEqual(['INBOX']);

    const after = await reader.fetchNew(again.cursor, everything);
    expect(after).toMatchObject({ messages: [], resynced: [], more: false });
  });

  it('deletes by server id, ignoring ids the server does not know', async () => {
    const box = await createJmapMailbox();
    const [gone, stays] = await deliver(box, ['gone', 'stays']);
    const reader = await open(config(box));

    await reader.delete([gone!, 'Mnosuchemail000000000000', '["INBOX","1",2]']);

    const got = lastResult(
      await jmapRequest(box, [
        ['Email/get', { accountId: box.user, ids: [gone, stays], properties: ['id'] }, 'g'],
      ]),
    );
    expect(got).toMatchObject({ list: [{ id: stays }], notFound: [gone] });
  });

  it('files a sent message in the mailbox with the role "sent", seen', async () => {
    const box = await createJmapMailbox();
    const reader = await open(config(box));

    await reader.appendSent!(Buffer.from(message('sent by us')));

    const sent = (await jmapMailboxes(box)).find((m) => m.role === 'sent')!;
    const got = lastResult(
      await jmapRequest(box, [
        ['Email/query', { accountId: box.user, filter: { inMailbox: sent.id } }, 'q'],
        [
          'Email/get',
          {
            accountId: box.user,
            '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
            properties: ['subject', 'keywords'],
          },
          'g',
        ],
      ]),
    );
    expect(got.list).toMatchObject([{ subject: 'sent by us', keywords: { $seen: true } }]);
    // and nothing in the inbox
    expect((await reader.fetchNew(null, everything)).messages).toEqual([]);
  });

  it('returns a message over maxRawBytes as its header block only', async () => {
    const box = await createJmapMailbox();
    await deliver(box, [{ subject: 'large', body: 'x'.repeat(200_000) }, 'small']);

    const result = await (await open(config(box))).fetchNew(null, { ...everything, maxRawBytes: 1_000 });

    const [large, small] = result.messages;
    expect(large).toMatchObject({ truncated: true, size: message('large', 'x'.repeat(200_000)).length });
    expect(large!.raw.toString()).toBe('From: a@example.test\r\nTo: b@cyrus.test\r\nSubject: large\r\n\r\n');
    expect(small).toMatchObject({ truncated: false, raw: Buffer.from(message('small')) });
  });

  it('fails with INCOMING_FOLDER_NOT_FOUND for a mailbox the account does not have', async () => {
    const box = await createJmapMailbox();
    const reader = await open(config(box, { folders: ['INBOX', 'Nowhere'] }));

    const error = await failure(reader.fetchNew(null, everything));

    expect(error.code).toBe('INCOMING_FOLDER_NOT_FOUND');
    expect(error.message).toMatch(/"Nowhere".*Inbox/);
  });
});

// ------------------------------------------------------------------------ without Cyrus

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** An HTTP(S) server on port 0 answering with `respond`, recording each request. */
async function startHttpServer(
  respond: (req: http.IncomingMessage, res: http.ServerResponse, port: number) => void,
  tlsOptions?: { key: string; cert: string },
) {
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    respond(req, res, port);
  };
  const server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return track({
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A session resource naming `apiBase` for its URLs. */
const sessionResource = (apiBase: string) => ({
  capabilities: { 'urn:ietf:params:jmap:core': {}, 'urn:ietf:params:jmap:mail': {} },
  accounts: { a1: { name: 'ada', isPersonal: true } },
  primaryAccounts: { 'urn:ietf:params:jmap:mail': 'a1' },
  username: 'ada',
  apiUrl: `${apiBase}/api/`,
  downloadUrl: `${apiBase}/download/{accountId}/{blobId}/{name}?type={type}`,
  uploadUrl: `${apiBase}/upload/{accountId}/`,
  eventSourceUrl: `${apiBase}/events/`,
  state: 's1',
});

describe('openJmapReader: failures without Cyrus', () => {
  const nobody = { user: 'ada', password: 'correct horse battery', sessionUrl: '', secureSessionUrl: '' };
  const offline = (overrides: Partial<ReaderConfig>) =>
    config({ ...nobody, address: 'ada@cyrus.test' }, { timeoutMs: 2_000, url: null, ...overrides });

  it('derives the session URL from host and port', () => {
    const at = (overrides: Partial<ReaderConfig>) => sessionUrlOf(offline(overrides)).href;
    expect(at({ host: 'mail.example', port: 443, security: 'tls' })).toBe(
      'https://mail.example/.well-known/jmap',
    );
    expect(at({ host: 'mail.example', port: 8443, security: 'starttls' })).toBe(
      'https://mail.example:8443/.well-known/jmap',
    );
    expect(at({ host: '::1', port: 80, security: 'none' })).toBe('http://[::1]/.well-known/jmap');
    expect(at({ url: 'https://jmap.example/session' })).toBe('https://jmap.example/session');
  });

  it('refuses plain http unless security is "none", before connecting, and a session that points to http', async () => {
    const server = await startHttpServer((_req, res, port) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(sessionResource(`http://${host}:${port}`))),
    );
    const url = `http://${host}:${server.port}/jmap`;
    for (const security of ['tls', 'starttls'] as const) {
      const error = await failure(openJmapReader(offline({ url, security })));
      expect(error.code).toBe('INCOMING_TLS_FAILED');
      expect(error.message).toMatch(/plain HTTP/);
    }
    expect(server.seen).toEqual([]);
    await open(offline({ url, security: 'none' })); // the same server is fine in plain text

    // over HTTPS, a session whose API is on http:// is a downgrade
    const secure = await startHttpServer(
      (_req, res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(sessionResource(`http://${host}:${server.port}`))),
      { key: ca().keyPem, cert: ca().certPem },
    );
    const downgrade = await failure(
      openJmapReader(
        offline({ url: `https://localhost:${secure.port}/jmap`, security: 'tls', ca: ca().caPem }),
      ),
    );
    expect(downgrade.code).toBe('INCOMING_TLS_FAILED');
    expect(downgrade.message).toMatch(/apiUrl/);
  });

  it('trusts the configured CA, and fails with INCOMING_TLS_FAILED without it', async () => {
    const server = await startHttpServer(
      (_req, res, port) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(sessionResource(`https://localhost:${port}`))),
      { key: ca().keyPem, cert: ca().certPem },
    );
    const url = `https://localhost:${server.port}/jmap`;

    const untrusted = await failure(openJmapReader(offline({ url, security: 'tls' })));
    expect(untrusted.code).toBe('INCOMING_TLS_FAILED');
    expect(untrusted.message).toMatch(/certificate/i);

    await open(offline({ url, security: 'tls', ca: ca().caPem }));
    expect(server.seen.at(-1)).toMatchObject({ method: 'GET', url: '/jmap' });
  });

  it('sends a bearer token when asked, allows spa with it, and refuses spa with Basic before any request', async () => {
    const server = await startHttpServer((_req, res) =>
      res.writeHead(401, 'Unauthorized', { 'www-authenticate': 'Bearer' }).end(),
    );
    const url = `http://${host}:${server.port}/jmap`;

    const spa = await failure(openJmapReader(offline({ url, spa: true })));
    expect(spa.code).toBe('SPA_UNAVAILABLE');
    expect(server.seen).toEqual([]);

    const error = await failure(
      openJmapReader(offline({ url, spa: true, authScheme: 'bearer', pass: 'tok-123456' })),
    );
    expect(error).toMatchObject({ code: 'INCOMING_AUTH_FAILED', reply: 'HTTP 401 Unauthorized' });
    expect(server.seen).toEqual([{ method: 'GET', url: '/jmap', authorization: 'Bearer tok-123456' }]);
  });

  it('fails with INCOMING_CONNECT_FAILED on a closed port, and INCOMING_TIMEOUT on a silent server', async () => {
    const silent = track(await startSilentServer());
    const quiet = { host: 'localhost', port: silent.port, timeoutMs: 300 };
    const cases: [Partial<ReaderConfig>, string][] = [
      [{ port: await closedPort() }, 'INCOMING_CONNECT_FAILED'],
      [quiet, 'INCOMING_TIMEOUT'],
      [{ ...quiet, security: 'tls' }, 'INCOMING_TIMEOUT'], // no TLS handshake either
    ];
    for (const [overrides, code] of cases) {
      const started = Date.now();
      await expect(openJmapReader(offline(overrides))).rejects.toMatchObject({ code });
      expect(Date.now() - started).toBeLessThan(1_500);
    }
  });

  it('times out on a server that stops answering mid-session', async () => {
    let quiet = false;
    const server = await startHttpServer((_req, res, port) => {
      if (quiet) return; // the request waits for an answer that never comes
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(sessionResource(`http://${host}:${port}`)));
    });
    const reader = await open(offline({ url: `http://${host}:${server.port}/jmap`, timeoutMs: 300 }));
    quiet = true;

    const started = Date.now();
    const error = await failure(reader.fetchNew(null, everything));

    expect(error.code).toBe('INCOMING_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1_500);

    // close() ends what is still waiting, at once
    const waiting = reader.fetchNew(null, everything);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await reader.close();
    await expect(waiting).rejects.toThrow('The JMAP reader is closed');
  });
});
