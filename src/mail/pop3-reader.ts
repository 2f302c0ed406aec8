/**
 * The POP3 reader (see reader.ts): a client of our own (docs/adr/009-pop3-client.md) over one
 * connection, with the login of pop3-session.ts, which the "test settings" probe shares.
 *
 * - The cursor is JSON: the UIDLs already returned that the server still lists, in its order
 *   (`{"v":1,"seen":["00000001…",…]}`), so it stays as large as the mailbox at most.
 * - New messages are the listed UIDLs not in the cursor, in the server's order. They are read with
 *   RETR, or with `TOP n 0` (the header block only) when LIST says they are larger than
 *   `maxRawBytes`; the commands go out together when the server offers PIPELINING (RFC 2449).
 * - A POP3 session sees the maildrop as it was at login (RFC 1939 §8), so UIDL and LIST are asked
 *   once per session; `delete` marks messages with DELE, and they go at QUIT, in `close`.
 * - POP3 has no Sent folder and no IDLE: `appendSent` and `watch` are absent.
 */
import type net from 'node:net';
import { closeSocket, createLineReader, openTcp, startTls } from './line-socket.ts';
import { headerBlock } from './parse.ts';
import { createPop3Session, isOk, toReaderError, type Pop3Session, type Pop3Stage } from './pop3-session.ts';
import {
  ReaderError,
  silentReaderLogger,
  type FetchedMessage,
  type FetchOptions,
  type FetchResult,
  type MailReader,
  type ReaderConfig,
  type ReaderLogger,
  type ReaderOptions,
} from './reader.ts';

/**
 * Commands in flight at once under PIPELINING: about 3 KB of commands, well within any TCP window,
 * and enough that a 20 ms round trip costs 2,000 messages a third of a second rather than 40 s.
 */
const PIPELINE_WINDOW = 256;
/** A status line (+OK/-ERR) longer than this is no POP3 server's. */
const MAX_LINE_BYTES = 65_536;
/** A header block kept for a truncated message at the most. */
const MAX_HEADER_BYTES = 1_048_576;
/** UIDL and LIST of a very large mailbox (a million messages) fit well within this. */
const MAX_LISTING_BYTES = 64 * 1_048_576;
const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

// ------------------------------------------------------------------------------ multi-line replies

/**
 * The body of a multi-line reply, read as it arrives: dot-unstuffed (a line starting with "." loses
 * that dot), the bytes otherwise exactly as sent, up to and without the terminating "." line.
 * Bytes beyond `keepBytes` are read and dropped, and `overflowed` says so.
 */
export function createMultilineBody(keepBytes: number) {
  const parts: Buffer[] = [];
  let kept = 0;
  let overflowed = false;
  let lineStart = true;
  /** One or two bytes at a line start, a "." whose meaning the next bytes decide. */
  let carry: Buffer | null = null;

  const keep = (chunk: Buffer, from: number, to: number) => {
    if (to <= from) return;
    const take = Math.min(to - from, keepBytes - kept);
    if (take < to - from) overflowed = true;
    if (take <= 0) return;
    parts.push(chunk.subarray(from, from + take));
    kept += take;
  };

  return {
    /** Takes the next bytes; once the terminator is found, returns what follows it (the next replies). */
    push(input: Buffer): Buffer | null {
      const chunk = carry ? Buffer.concat([carry, input]) : input;
      carry = null;
      let run = 0;
      let at = 0;
      while (at < chunk.length) {
        if (lineStart) {
          lineStart = false;
          if (chunk[at] === DOT) {
            const next = at + 1 < chunk.length ? chunk[at + 1] : undefined;
            const after = at + 2 < chunk.length ? chunk[at + 2] : undefined;
            if (next === undefined || (next === CR && after === undefined)) {
              keep(chunk, run, at);
              carry = chunk.subarray(at);
              lineStart = true;
              return null;
            }
            const end = next === LF ? at + 2 : next === CR && after === LF ? at + 3 : -1;
            if (end >= 0) {
              keep(chunk, run, at);
              return chunk.subarray(end);
            }
            // a stuffed dot
            keep(chunk, run, at);
            at += 1;
            run = at;
          }
        }
        const newline = chunk.indexOf(LF, at);
        if (newline < 0) break;
        at = newline + 1;
        lineStart = true;
      }
      keep(chunk, run, chunk.length);
      return null;
    },
    body: (): Buffer => Buffer.concat(parts, kept),
    get overflowed() {
      return overflowed;
    },
  };
}

type MultilineBody = ReturnType<typeof createMultilineBody>;

// ------------------------------------------------------------------------------------ connection

/**
 * One connection's bytes: status lines and multi-line bodies read in order, by the shared line
 * reader, from whichever socket is current (the plain one, then TLS after STLS). A timeout or a
 * broken connection ends it: the socket is dropped and every later read or write fails with that
 * error.
 */
function createConnection(first: net.Socket, timeoutMs: number) {
  let socket = first;
  const reader = createLineReader({ timeoutMs, maxLineBytes: MAX_LINE_BYTES });
  reader.attach(first);

  /** The first failure ends the connection: the socket is dropped, and it is what reads throw. */
  async function ending<T>(read: Promise<T>): Promise<T> {
    try {
      return await read;
    } catch (error) {
      const failure = reader.fail(error as Error);
      socket.destroy();
      throw failure;
    }
  }

  return {
    get failure() {
      return reader.failure;
    },
    write(data: string): void {
      if (reader.failure) throw reader.failure;
      socket.write(data);
    },
    /** The next line, decoded as UTF-8, without its line break. */
    readLine: (deadline: number): Promise<string> => ending(reader.readLine(deadline)),
    /** Feeds the bytes after a +OK line to `body` until its terminator, by `deadline`. */
    readBody: (body: MultilineBody, deadline: number): Promise<void> =>
      ending(reader.readStream((chunk) => body.push(chunk), deadline)),
    /** Hands the socket over to `upgrade` (STLS), dropping whatever came in plain text after the go-ahead. */
    async upgrade(upgrade: (plain: net.Socket) => Promise<net.Socket>): Promise<void> {
      reader.detach();
      const secure = await upgrade(socket);
      socket = secure;
      reader.attach(secure);
    },
    /** Ends the connection, with `farewell` first while it is up; later reads and writes fail. */
    end(farewell: string | null): void {
      closeSocket(socket, reader.failure ? null : farewell);
      reader.fail(new Error('The POP3 reader is closed'));
    },
  };
}

type Connection = ReturnType<typeof createConnection>;

// ---------------------------------------------------------------------------------------- cursor

interface Cursor {
  v: 1;
  seen: string[];
}

function parseCursor(text: string | null): Cursor {
  if (text === null) return { v: 1, seen: [] };
  try {
    const cursor = JSON.parse(text) as Cursor;
    if (cursor?.v === 1 && Array.isArray(cursor.seen) && cursor.seen.every((id) => typeof id === 'string')) {
      return cursor;
    }
  } catch {
    // reported below
  }
  throw new ReaderError('INCOMING_PROTOCOL_ERROR', 'The sync cursor is not one the POP3 reader wrote');
}

// ---------------------------------------------------------------------------------------- reader

interface Listed {
  number: number;
  uidl: string;
  /** LIST's size; null when LIST left the message out. */
  size: number | null;
}

interface Listing {
  messages: Listed[];
  byUidl: Map<string, Listed>;
}

export async function openPop3Reader(config: ReaderConfig, options: ReaderOptions = {}): Promise<MailReader> {
  const log = options.logger ?? silentReaderLogger;
  const { timeoutMs } = config;
  let stage: Pop3Stage = 'connect';
  let connection: Connection | null = null;
  let session: Pop3Session | null = null;
  try {
    // the reader connects directly: no proxy
    const target = { ...config, proxy: null };
    let socket: net.Socket = await openTcp(target);
    if (config.security === 'tls') {
      stage = 'tls';
      socket = await startTls(socket, target);
    }
    const opened = createConnection(socket, timeoutMs);
    connection = opened;
    session = createPop3Session(
      {
        send: (line) => opened.write(`${line}\r\n`),
        readLine: (deadline) => opened.readLine(deadline),
        timeoutMs,
      },
      config,
    );
    await session.greet();
    if (config.security === 'starttls') {
      stage = 'tls';
      // A server that does not offer STLS answers -ERR: INCOMING_TLS_FAILED, and no login.
      await session.startTls();
      await opened.upgrade((plain) => startTls(plain, target));
    }
    stage = 'session';
    const { method } = await session.logIn();
    // Asked after the login: the transaction state's capabilities are the ones that count (RFC 2449 §5).
    await session.readCapabilities();
    log.debug({ host: config.host, port: config.port, security: config.security, method }, 'pop3: logged in');
  } catch (error) {
    // QUIT when the server refused something in the session, else just the socket goes
    connection?.end(stage === 'session' ? 'QUIT\r\n' : null);
    throw scrubbed(toReaderError(error, stage), session);
  }
  return pop3Reader(connection, session, config, log);
}

function scrubbed(error: ReaderError, session: Pop3Session | null): ReaderError {
  if (!session) return error;
  const reply = error.reply === null ? null : session.redact(error.reply);
  return new ReaderError(error.code, session.redact(error.message), reply);
}

function pop3Reader(
  connection: Connection,
  session: Pop3Session,
  config: ReaderConfig,
  log: ReaderLogger,
): MailReader {
  const { timeoutMs } = config;
  const pipelining = session.has('PIPELINING');
  let listing: Listing | null = null;
  /** Message numbers marked with DELE in this session. */
  const deleted = new Set<number>();
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  /** Runs `work` after the calls before it (one conversation per connection), with errors as ReaderErrors. */
  function serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = async () => {
      if (closed) throw new Error('The POP3 reader is closed');
      try {
        return await work();
      } catch (error) {
        throw scrubbed(toReaderError(error, 'session'), session);
      }
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Sends `commands` and reads their replies in order: up to PIPELINE_WINDOW at once when the
   * server offers PIPELINING, else one at a time. Each reply must be complete within `timeoutMs`
   * of starting to wait for it. `read` reads what follows a +OK line; `refused` turns a -ERR line
   * into a result or throws. After a failure that leaves the connection up no more commands are
   * sent, the replies already asked for are read (the session stays in step), and it is thrown.
   */
  async function exchange<T>(
    commands: readonly string[],
    read: (index: number, deadline: number) => Promise<T>,
    refused: (index: number, reply: string) => T,
  ): Promise<T[]> {
    const window = pipelining ? PIPELINE_WINDOW : 1;
    const results: T[] = [];
    let sent = 0;
    let failure: unknown = null;
    for (let i = 0; i < commands.length && (failure === null || i < sent); i++) {
      // topped up when half the window is answered, so that commands go out in batches
      const upTo = Math.min(commands.length, i + window);
      if (failure === null && sent - i <= window / 2 && upTo > sent) {
        connection.write(commands.slice(sent, upTo).join('\r\n') + '\r\n');
        sent = upTo;
      }
      const deadline = Date.now() + timeoutMs;
      const status = await connection.readLine(deadline);
      try {
        results[i] = isOk(status) ? await read(i, deadline) : refused(i, status);
      } catch (error) {
        // a broken connection ends the exchange; anything else leaves the session in step
        if (connection.failure) throw error;
        failure ??= error;
      }
    }
    if (failure !== null) throw failure;
    return results;
  }

  const refusal = (what: string) => (_index: number, reply: string) => {
    throw new ReaderError('INCOMING_PROTOCOL_ERROR', `${what}: ${reply}`, reply);
  };

  /** The rest of a multi-line reply, as text lines. */
  async function readTextLines(deadline: number): Promise<string[]> {
    const body = createMultilineBody(MAX_LISTING_BYTES);
    await connection.readBody(body, deadline);
    if (body.overflowed) {
      throw new ReaderError('INCOMING_PROTOCOL_ERROR', `A listing longer than ${MAX_LISTING_BYTES} bytes`);
    }
    return body.body().toString('latin1').split(/\r?\n/);
  }

  /** UIDL and LIST, once a session: the maildrop does not change under a POP3 session. */
  async function list(): Promise<Listing> {
    if (listing) return listing;
    const [uidls, sizes] = await exchange(
      ['UIDL', 'LIST'],
      (_index, deadline) => readTextLines(deadline),
      (index, reply) => {
        throw new ReaderError(
          'INCOMING_PROTOCOL_ERROR',
          index === 0
            ? `The server does not support UIDL, without which the POP3 reader cannot tell new messages from old ones: ${reply}`
            : `The server refused LIST: ${reply}`,
          reply,
        );
      },
    );
    const sizeOf = new Map<number, number>();
    for (const line of sizes!) {
      const match = /^(\d+) (\d+)/.exec(line);
      if (match) sizeOf.set(Number(match[1]), Number(match[2]));
    }
    const messages: Listed[] = [];
    const byUidl = new Map<string, Listed>();
    for (const line of uidls!) {
      const match = /^(\d+) +(\S+)/.exec(line);
      if (!match || byUidl.has(match[2]!)) continue;
      const number = Number(match[1]);
      const listed = { number, uidl: match[2]!, size: sizeOf.get(number) ?? null };
      messages.push(listed);
      byUidl.set(listed.uidl, listed);
    }
    listing = { messages, byUidl };
    log.debug({ messages: messages.length, pipelining }, 'pop3: listed');
    return listing;
  }

  /** Reads these messages whole (RETR) or, with `headersOnly`, their header blocks (TOP n 0, else RETR cut short). */
  async function retrieve(
    messages: Listed[],
    headersOnly: boolean,
    viaRetr = false,
  ): Promise<(Buffer | null)[]> {
    return exchange(
      messages.map(({ number }) => (headersOnly && !viaRetr ? `TOP ${number} 0` : `RETR ${number}`)),
      async (index, deadline) => {
        const size = messages[index]!.size ?? 0;
        // LIST's size is the server's word: twice it (or a megabyte more) is room for any honest rounding.
        const body = createMultilineBody(
          headersOnly ? MAX_HEADER_BYTES : Math.max(2 * size, size + 1_048_576),
        );
        await connection.readBody(body, deadline);
        if (headersOnly) return headerBlock(body.body(), { withEmptyLine: true });
        if (body.overflowed) {
          throw new ReaderError(
            'INCOMING_PROTOCOL_ERROR',
            `The server sent far more than the ${size} bytes LIST announced for message ${messages[index]!.number}`,
          );
        }
        return body.body();
      },
      // TOP is optional (RFC 1939 §7): without it, the header block comes from RETR.
      headersOnly && !viaRetr ? () => null : refusal('The server refused RETR'),
    );
  }

  const fetchNew = (cursorText: string | null, { limit, maxRawBytes }: FetchOptions) =>
    // `since` is ignored: a POP3 server keeps no dates it would tell (no INTERNALDATE, no SEARCH),
    // so a first sync reads the whole maildrop, and the caller bounds it by what it stores.
    serialized(async (): Promise<FetchResult> => {
      const seen = new Set(parseCursor(cursorText).seen);
      const { messages: listed } = await list();
      const fresh = listed.filter(({ uidl, number }) => !seen.has(uidl) && !deleted.has(number));
      const taken = fresh.slice(0, Math.max(0, Math.floor(limit)));
      const large = (m: Listed) => m.size !== null && m.size > maxRawBytes;
      const raws = new Map<Listed, Buffer>();
      const put = (group: Listed[], bodies: (Buffer | null)[]) =>
        group.forEach((m, i) => bodies[i] && raws.set(m, bodies[i]));
      const whole = taken.filter((m) => !large(m));
      const truncated = taken.filter(large);
      put(whole, await retrieve(whole, false));
      put(truncated, await retrieve(truncated, true));
      const noTop = truncated.filter((m) => !raws.has(m));
      if (noTop.length > 0) put(noTop, await retrieve(noTop, true, true));
      const messages = taken.map((m): FetchedMessage => ({
        serverId: m.uidl,
        folder: 'INBOX',
        raw: raws.get(m)!,
        truncated: large(m),
        size: m.size ?? raws.get(m)!.length,
        receivedAt: null,
      }));
      const takenIds = new Set(taken.map((m) => m.uidl));
      // Only what the server still lists: the cursor stays as large as the mailbox at most.
      const cursor: Cursor = {
        v: 1,
        seen: listed.map((m) => m.uidl).filter((id) => seen.has(id) || takenIds.has(id)),
      };
      const more = fresh.length > taken.length;
      log.debug({ messages: messages.length, truncated: truncated.length, more }, 'pop3: fetched');
      return { messages, cursor: JSON.stringify(cursor), more, resynced: [] };
    });

  const deleteMessages = (serverIds: readonly string[]) =>
    serialized(async () => {
      const { byUidl } = await list();
      const numbers = [...new Set(serverIds)]
        .map((id) => byUidl.get(id)?.number)
        .filter((n): n is number => n !== undefined && !deleted.has(n));
      await exchange(
        numbers.map((n) => `DELE ${n}`),
        async (index) => {
          deleted.add(numbers[index]!);
        },
        refusal('The server refused DELE'),
      );
    });

  /** QUIT commits the deletions; a failed one is logged (the deletions then did not happen), and the socket goes either way. */
  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await queue;
    let failure: string | null = null;
    try {
      connection.write('QUIT\r\n');
      const reply = await connection.readLine(Date.now() + timeoutMs);
      if (!isOk(reply)) failure = reply;
    } catch (error) {
      failure = (error as Error).message;
    } finally {
      connection.end(null);
    }
    if (failure === null) return;
    log.warn({ reply: failure, deletions: deleted.size }, 'pop3: QUIT failed');
    // The server deletes nothing without a clean QUIT: the caller must not count them as removed.
    if (deleted.size > 0) {
      throw new ReaderError(
        'INCOMING_PROTOCOL_ERROR',
        'The server did not confirm the end of the session, so it deleted nothing',
        failure,
      );
    }
  }

  return { fetchNew, delete: deleteMessages, close };
}
