/**
 * The IMAP reader (see reader.ts): imapflow underneath, one connection for fetching, deleting and
 * filing, and one per `watch` that idles on INBOX; while it watches, the fetch connection is let
 * go until the next call needs it.
 *
 * - Folders are read with EXAMINE and BODY.PEEK, so reading never sets \Seen.
 * - The cursor is JSON: per folder, the UIDVALIDITY it was read under and the last UID returned
 *   (`{"v":1,"folders":{"INBOX":{"uidValidity":"123","lastUid":456}}}`). While a first read (or a
 *   re-read after UIDVALIDITY changed) is unfinished, the entry also keeps its `since` bound, so a
 *   read spread over several fetches stays bounded by it.
 * - Under `spa`, imapflow is never given the password: its login goes through a challenge-response
 *   exchange written here (SCRAM-SHA-256, else CRAM-MD5) by replacing the AUTHENTICATE and LOGIN
 *   entries of this client's command map (docs/adr/007-imap-challenge-response-login.md).
 */
import { ImapFlow, type FetchMessageObject, type ImapFlowOptions, type MailboxObject } from 'imapflow';
import { checkLiteral, hostNotAllowedIn, lookupFor } from '../net/address-policy.ts';
import { socketErrorCode } from './errors.ts';
import { sharedTlsOptionsFor } from './net-connect.ts';
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
import {
  chooseSpaMechanism,
  cramMd5Response,
  SaslError,
  scramClientFinal,
  scramClientFirst,
  scramServerVerified,
  type ScramClientFinal,
  type SpaMechanism,
} from './sasl.ts';

/**
 * A quiet IDLE is normal, so the watch connection's inactivity bound is imapflow's default rather
 * than `timeoutMs`: when it runs out imapflow breaks IDLE with a NOOP (a keep-alive, and a
 * re-IDLE well within the 29 minutes RFC 2177 allows) and fails the connection if that goes
 * unanswered.
 */
const WATCH_SOCKET_TIMEOUT_MS = 5 * 60_000;
/** Keeps a UID set on one command line well below the 8 KB some servers accept. */
const MAX_UID_SET_CHARS = 4_000;
/** IMAP numbers are 32-bit: a larger size limit is no limit. */
const MAX_IMAP_NUMBER = 2 ** 32 - 1;

// ------------------------------------------------------------------------------------------ errors

/** The parts of imapflow's errors this file reads (they are plain Errors with extra fields). */
interface ImapFlowError extends Error {
  code?: string;
  authenticationFailed?: boolean;
  /** The tagged reply, as text once imapflow has finished with the error (parsed before that). */
  response?: unknown;
  responseStatus?: string;
  responseText?: string;
  serverResponseCode?: string;
  mailboxMissing?: boolean;
}

const timeoutCodes = new Set([
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
  'ETIMEOUT',
  'ETIMEDOUT',
]);

/** Every form of the password that could appear in text echoing a command: raw, quoted, base64. */
function secretForms(user: string, pass: string): string[] {
  if (pass === '') return [];
  return [
    pass,
    pass.replace(/[\\"]/g, (c) => `\\${c}`),
    Buffer.from(pass).toString('base64'),
    Buffer.from(`\u0000${user}\u0000${pass}`).toString('base64'),
  ].sort((a, b) => b.length - a.length);
}

function scrubbed(text: string, secrets: readonly string[]): string {
  return secrets.reduce((clean, secret) => clean.split(secret).join('[redacted]'), text);
}

/** The server's tagged reply an imapflow error carries ("4 NO [AUTHENTICATIONFAILED] …"), if any. */
function serverReply(error: ImapFlowError): string | null {
  if (typeof error.response === 'string' && error.response.trim()) return error.response.trim();
  if (!error.responseStatus) return null;
  // still the parsed response: { tag, attributes: [{ section: [{ value: 'AUTHENTICATIONFAILED' }] }, …] }
  const parsed = error.response as
    { tag?: unknown; attributes?: { section?: { value?: unknown }[] }[] } | undefined;
  const code = error.serverResponseCode ?? parsed?.attributes?.[0]?.section?.[0]?.value;
  return [
    typeof parsed?.tag === 'string' ? parsed.tag : null,
    error.responseStatus,
    typeof code === 'string' ? `[${code.toUpperCase()}]` : null,
    error.responseText ?? null,
  ]
    .filter((part) => part)
    .join(' ');
}

/**
 * Maps whatever imapflow, Node or the SASL code threw to a ReaderError whose message and reply
 * carry no secret. `connectionError` is what the connection reported before it closed: a command
 * cut short by a socket timeout fails with "connection closed", and the timeout is the reason.
 */
function toReaderError(error: unknown, secrets: readonly string[], connectionError?: unknown): ReaderError {
  if (error instanceof ReaderError) {
    const reply = error.reply === null ? null : scrubbed(error.reply, secrets);
    return new ReaderError(error.code, scrubbed(error.message, secrets), reply);
  }
  const refused = hostNotAllowedIn(error) ?? hostNotAllowedIn(connectionError);
  if (refused) return new ReaderError('HOST_NOT_ALLOWED', refused.message);
  const e = (error ?? {}) as ImapFlowError;
  const message = scrubbed(e.message ?? String(error), secrets);
  const replyText = serverReply(e);
  const reply = replyText === null ? null : scrubbed(replyText, secrets);
  if (e.authenticationFailed) {
    return new ReaderError(
      'INCOMING_AUTH_FAILED',
      `The server refused the login: ${reply ?? message}`,
      reply,
    );
  }
  if (error instanceof SaslError) return new ReaderError('INCOMING_PROTOCOL_ERROR', message, reply);
  const cause = (connectionError ?? {}) as ImapFlowError;
  if ([e.code, cause.code].some((code) => code !== undefined && timeoutCodes.has(code))) {
    return new ReaderError('INCOMING_TIMEOUT', `The server did not answer in time: ${message}`, reply);
  }
  if (e.code === 'ClosedAfterConnectText' || e.code === 'ClosedAfterConnectTLS') {
    return new ReaderError('INCOMING_CONNECT_FAILED', `The server closed the connection: ${message}`, reply);
  }
  switch (socketErrorCode(e)) {
    case 'SMTP_TLS_FAILED':
      return new ReaderError('INCOMING_TLS_FAILED', `TLS failed: ${message}`, reply);
    case 'SMTP_CONNECT_FAILED':
      return new ReaderError('INCOMING_CONNECT_FAILED', `Could not connect: ${message}`, reply);
    default:
      return new ReaderError('INCOMING_PROTOCOL_ERROR', reply ? `${message}: ${reply}` : message, reply);
  }
}

// -------------------------------------------------------------------- challenge-response login

/** The parts of imapflow's connection the challenge-response login uses (ADR 007). */
interface ImapConnection {
  capabilities: Map<string, unknown>;
  authCapabilities: Map<string, unknown>;
  exec(
    command: string,
    attributes: { type: 'ATOM'; value: string }[],
    options: { onPlusTag(response: { attributes?: { type?: string; value?: unknown }[] }): Promise<void> },
  ): Promise<{ next(): void }>;
  write(chunk: string): void;
}

type CommandHandler = (connection: ImapConnection, ...args: unknown[]) => Promise<unknown>;

/** One side of a SASL exchange: answers each challenge (base64 text), then checks the outcome. */
interface SaslExchange {
  answer(challenge: string): Promise<string>;
  /** Throws when the server said OK without proving what the mechanism makes it prove. */
  finish(): void;
}

function cramMd5Exchange(user: string, pass: string): SaslExchange {
  return { answer: async (challenge) => cramMd5Response(user, pass, challenge), finish: () => undefined };
}

function scramExchange(user: string, pass: string): SaslExchange {
  const first = scramClientFirst(user);
  let final: ScramClientFinal | null = null;
  let verified = false;
  const decode = (challenge: string) => Buffer.from(challenge, 'base64').toString('utf8');
  const serverUnproven = (what: string) =>
    new ReaderError(
      'INCOMING_AUTH_FAILED',
      `The server ${what} (SCRAM-SHA-256): it may not be the server it claims to be`,
    );
  return {
    async answer(challenge) {
      if (!final && challenge === '') return Buffer.from(first.message).toString('base64');
      if (!final) {
        final = await scramClientFinal(first, pass, decode(challenge));
        return Buffer.from(final.message).toString('base64');
      }
      let proven: boolean;
      try {
        proven = scramServerVerified(final, decode(challenge));
      } catch (error) {
        // "e=…": the server refused the proof, which is how SCRAM says "wrong password"
        throw new ReaderError('INCOMING_AUTH_FAILED', (error as Error).message);
      }
      if (!proven) throw serverUnproven('sent a wrong signature');
      verified = true;
      return '';
    },
    finish() {
      if (!verified) throw serverUnproven('accepted the login without proving it knows the password');
    },
  };
}

function spaLogin(user: string, pass: string, log: ReaderLogger): CommandHandler {
  return async (connection) => {
    const offered = [...connection.capabilities.keys()]
      .filter((capability) => /^AUTH=/i.test(capability))
      .map((capability) => capability.slice(5).toUpperCase());
    const mechanism: SpaMechanism | null = chooseSpaMechanism(offered);
    if (!mechanism) {
      throw new ReaderError(
        'SPA_UNAVAILABLE',
        'The server offers no challenge-response login (SCRAM-SHA-256 or CRAM-MD5); it offers: ' +
          (offered.length > 0 ? offered.join(', ') : 'no SASL mechanism'),
      );
    }
    const exchange = mechanism === 'SCRAM-SHA-256' ? scramExchange(user, pass) : cramMd5Exchange(user, pass);
    let failure: unknown = null;
    try {
      const response = await connection.exec('AUTHENTICATE', [{ type: 'ATOM', value: mechanism }], {
        onPlusTag: async (continuation) => {
          const text = continuation.attributes?.[0]?.value;
          try {
            connection.write(await exchange.answer(typeof text === 'string' ? text.trim() : ''));
          } catch (error) {
            failure ??= error;
            // RFC 9051 6.2.2: "*" cancels the exchange, and the server fails the command
            connection.write('*');
          }
        },
      });
      response.next();
    } catch (error) {
      if (failure) throw failure;
      const e = error as ImapFlowError;
      if (e.responseStatus === 'NO' || e.responseStatus === 'BAD') e.authenticationFailed = true;
      throw e;
    }
    if (failure) throw failure;
    exchange.finish();
    connection.authCapabilities.set(`AUTH=${mechanism}`, true);
    log.debug({ mechanism }, 'imap: logged in by challenge-response');
    return user;
  };
}

/**
 * Routes this client's login through `spaLogin`. imapflow is given a placeholder access token
 * instead of the password, so that authenticate() calls AUTHENTICATE whatever the server
 * advertises (also LOGINDISABLED) and no code path in it could send the password.
 */
function useSpaLogin(client: ImapFlow, handler: CommandHandler): void {
  const internals = client as unknown as { commands?: unknown };
  const commands = internals.commands;
  if (!(commands instanceof Map) || !commands.has('AUTHENTICATE') || !commands.has('LOGIN')) {
    throw new ReaderError(
      'INCOMING_PROTOCOL_ERROR',
      'This imapflow version dispatches commands differently: challenge-response login is unavailable (see ADR 007)',
    );
  }
  internals.commands = new Map(commands as Map<string, CommandHandler>)
    .set('AUTHENTICATE', handler)
    .set('LOGIN', handler);
}

// ------------------------------------------------------------------------------------ connections

type Purpose = 'fetch' | 'watch';

interface Connection {
  client: ImapFlow;
  closed: boolean;
  /** The error the connection reported (a socket timeout, say), which ends it. */
  error: unknown;
}

async function connect(
  config: ReaderConfig,
  purpose: Purpose,
  log: ReaderLogger,
  secrets: readonly string[],
): Promise<Connection> {
  // imapflow connects with net/tls.connect and passes `tls` on to it: the policy's lookup checks
  // the addresses of a name as the socket opens; an IP literal skips lookup, so it is checked here.
  try {
    checkLiteral(config.host, config.hostPolicy);
  } catch (error) {
    throw toReaderError(error, secrets);
  }
  const lookup = lookupFor(config.hostPolicy);
  const options: ImapFlowOptions = {
    host: config.host,
    port: config.port,
    secure: config.security === 'tls',
    ...(config.security === 'tls' ? {} : { doSTARTTLS: config.security === 'starttls' }),
    tls: { ...sharedTlsOptionsFor(config.host, config.ca), ...(lookup ? { lookup } : {}) },
    auth: config.spa
      ? { user: config.user, accessToken: 'challenge-response' }
      : { user: config.user, pass: config.pass },
    // imapflow's own logger would see every command; ours sees what this file chooses to say
    logger: false,
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout:
      purpose === 'watch' ? Math.max(config.timeoutMs, WATCH_SOCKET_TIMEOUT_MS) : config.timeoutMs,
    // The fetch connection never idles between a caller's commands; the watch one idles at once.
    disableAutoIdle: purpose === 'fetch',
    ...(purpose === 'watch' ? { autoIdleDelay: 0, disableCompression: true } : {}),
  };
  const client = new ImapFlow(options);
  const connection: Connection = { client, closed: false, error: null };
  // Without a listener an 'error' event would end the process; failures reach callers through
  // the promises, with this as their reason when it came first.
  client.on('error', (error: unknown) => {
    connection.error ??= error;
  });
  client.on('close', () => {
    connection.closed = true;
    log.debug({ purpose, reason: (connection.error as Error | null)?.message }, 'imap: connection closed');
  });
  if (config.spa) useSpaLogin(client, spaLogin(config.user, config.pass, log));
  try {
    await client.connect();
  } catch (error) {
    client.close();
    throw toReaderError(error, secrets, connection.error);
  }
  log.debug(
    { host: config.host, port: config.port, security: config.security, purpose },
    'imap: connected and logged in',
  );
  return connection;
}

/** LOGOUT, but never longer than `timeoutMs`; the socket is closed either way. */
async function logOut(connection: Connection, timeoutMs: number): Promise<void> {
  const { client } = connection;
  if (!connection.closed) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([client.logout().catch(() => undefined), deadline]);
    clearTimeout(timer);
  }
  client.close();
}

// ---------------------------------------------------------------------------------------- cursor

interface FolderCursor {
  uidValidity: string;
  /** The last UID returned; 0 before any. */
  lastUid: number;
  /** Present while the first read (or a re-read) of the folder is unfinished. */
  pending?: {
    /** The start of the UTC day of `since` (ISO), or null for the whole folder. */
    since: string | null;
    /** A re-read after UIDVALIDITY changed: its messages may be stored already. */
    resync: boolean;
  };
}

interface Cursor {
  v: 1;
  folders: Record<string, FolderCursor>;
}

function parseCursor(text: string | null): Cursor {
  if (text === null) return { v: 1, folders: {} };
  try {
    const cursor = JSON.parse(text) as Cursor;
    if (cursor?.v === 1 && typeof cursor.folders === 'object' && cursor.folders !== null) return cursor;
  } catch {
    // reported below
  }
  throw new ReaderError('INCOMING_PROTOCOL_ERROR', 'The sync cursor is not one the IMAP reader wrote');
}

/** SEARCH SINCE has date granularity: the bound is the start of the day, UTC. */
const dayStart = (date: Date) =>
  new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));

/** What `delete` needs to find a message again: folder, UIDVALIDITY and UID. */
type ServerId = [folder: string, uidValidity: string, uid: number];

function parseServerId(id: string): ServerId | null {
  try {
    const value: unknown = JSON.parse(id);
    if (
      Array.isArray(value) &&
      value.length === 3 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      Number.isInteger(value[2]) &&
      value[2] > 0
    ) {
      return value as ServerId;
    }
  } catch {
    // not one of ours: ignored, as unknown ids are
  }
  return null;
}

/** Ascending UIDs as IMAP sets ("1:5,7,9:12"), split so that no set gets too long for a line. */
export function uidSets(uids: readonly number[], maxChars = MAX_UID_SET_CHARS): string[] {
  const sets: string[] = [];
  let current = '';
  for (let i = 0; i < uids.length;) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    const run = j > i ? `${uids[i]}:${uids[j]}` : `${uids[i]}`;
    if (current && current.length + run.length + 1 > maxChars) {
      sets.push(current);
      current = '';
    }
    current = current ? `${current},${run}` : run;
    i = j + 1;
  }
  if (current) sets.push(current);
  return sets;
}

// ---------------------------------------------------------------------------------------- reader

export async function openImapReader(config: ReaderConfig, options: ReaderOptions = {}): Promise<MailReader> {
  const log = options.logger ?? silentReaderLogger;
  const secrets = secretForms(config.user, config.pass);
  let main: Connection | null = await connect(config, 'fetch', log, secrets);
  const canIdle = main.client.capabilities.has('IDLE') || main.client.capabilities.has('IMAP4rev2');
  const watches = new Set<() => Promise<void>>();
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  /**
   * Runs `work` on the fetch connection, one call at a time (imapflow has one selected folder per
   * connection), reconnecting first when the server or an idle timeout has ended the connection.
   */
  function serialized<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
    return queued(async () => {
      if (closed) throw new Error('The IMAP reader is closed');
      if (!main || main.closed) main = await connect(config, 'fetch', log, secrets);
      const connection = main;
      try {
        return await work(connection.client);
      } catch (error) {
        throw toReaderError(error, secrets, connection.error);
      }
    });
  }

  /** Runs `run` after every call queued on the fetch connection before it, whatever their outcome. */
  function queued<T>(run: () => Promise<T>): Promise<T> {
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  }

  async function openFolder(client: ImapFlow, folder: string, readOnly: boolean): Promise<MailboxObject> {
    try {
      return await client.mailboxOpen(folder, { readOnly });
    } catch (error) {
      const e = error as ImapFlowError;
      if (e.mailboxMissing) {
        throw new ReaderError(
          'INCOMING_FOLDER_NOT_FOUND',
          `No folder ${JSON.stringify(folder)} on the server`,
          serverReply(e),
        );
      }
      throw error;
    }
  }

  /**
   * EXAMINE, or, when the folder is open read-only already (one folder, read in batches), a NOOP
   * for news: a round trip less. Its UIDNEXT is then as of the EXAMINE (`fresh` false).
   */
  async function examine(client: ImapFlow, folder: string): Promise<{ box: MailboxObject; fresh: boolean }> {
    if (client.mailbox && client.mailbox.readOnly && client.mailbox.path === folder) {
      await client.noop();
      const box = client.mailbox as MailboxObject | false;
      if (box && box.path === folder) return { box, fresh: false };
    }
    return { box: await openFolder(client, folder, true), fresh: true };
  }

  async function search(client: ImapFlow, query: Parameters<ImapFlow['search']>[0]): Promise<number[]> {
    const found = await client.search(query, { uid: true });
    if (!Array.isArray(found))
      throw new ReaderError('INCOMING_PROTOCOL_ERROR', 'The server refused a UID SEARCH');
    return found;
  }

  /** The messages of `uids` (ascending) in the open folder, in one UID FETCH for whole messages. */
  async function fetchUids(
    client: ImapFlow,
    folder: string,
    uidValidity: string,
    uids: number[],
    maxRawBytes: number,
  ): Promise<FetchedMessage[]> {
    const wanted = new Set(uids);
    const large =
      maxRawBytes >= MAX_IMAP_NUMBER
        ? new Set<number>()
        : new Set(await search(client, { uid: `${uids[0]}:${uids.at(-1)}`, larger: maxRawBytes }));
    const messages: ReturnType<typeof fetched>[] = [];
    const read = async (list: number[], truncated: boolean) => {
      for (const set of uidSets(list)) {
        const query = {
          uid: true,
          size: true,
          internalDate: true,
          ...(truncated ? { headers: true } : { source: true }),
        };
        for await (const message of client.fetch(set, query, { uid: true })) {
          if (wanted.has(message.uid)) messages.push(fetched(folder, uidValidity, message, truncated));
        }
      }
    };
    await read(
      uids.filter((uid) => !large.has(uid)),
      false,
    );
    await read(
      uids.filter((uid) => large.has(uid)),
      true,
    );
    return messages.sort((a, b) => a.uid - b.uid).map(({ message }) => message);
  }

  function fetched(folder: string, uidValidity: string, message: FetchMessageObject, truncated: boolean) {
    const raw = (truncated ? message.headers : message.source) ?? Buffer.alloc(0);
    const date = message.internalDate ? new Date(message.internalDate) : null;
    return {
      uid: message.uid,
      message: {
        serverId: JSON.stringify([folder, uidValidity, message.uid] satisfies ServerId),
        folder,
        raw,
        truncated,
        size: message.size ?? raw.length,
        receivedAt: date && !Number.isNaN(date.getTime()) ? date : null,
      } satisfies FetchedMessage,
    };
  }

  const fetchNew = (cursorText: string | null, { limit, since, maxRawBytes }: FetchOptions) =>
    serialized(async (client): Promise<FetchResult> => {
      const cursor = parseCursor(cursorText);
      const messages: FetchedMessage[] = [];
      const resynced: string[] = [];
      let more = false;
      for (const folder of config.folders) {
        const { box, fresh } = await examine(client, folder);
        const uidValidity = String(box.uidValidity);
        let entry = cursor.folders[folder];
        if (entry?.uidValidity !== uidValidity) {
          // A first read, or the server renumbered the folder: read it from the start again.
          const resync = entry !== undefined && (entry.lastUid > 0 || entry.pending?.resync === true);
          const bound = since ? dayStart(since).toISOString() : null;
          entry = { uidValidity, lastUid: 0, pending: { since: bound, resync } };
        }
        if (entry.pending?.resync) resynced.push(folder);
        const from = entry.lastUid + 1;
        const nothingNew = box.exists === 0 || (fresh && box.uidNext > 0 && box.uidNext <= from);
        const pendingSince = entry.pending?.since;
        const uids = nothingNew
          ? []
          : (
              await search(client, {
                uid: `${from}:*`,
                ...(pendingSince ? { since: new Date(pendingSince) } : {}),
              })
            )
              // "n:*" always matches the last message, even when its UID is below n
              .filter((uid) => uid >= from)
              .sort((a, b) => a - b);
        const taken = uids.slice(0, Math.max(0, limit - messages.length));
        if (taken.length < uids.length) more = true;
        if (taken.length > 0) {
          for (const message of await fetchUids(client, folder, uidValidity, taken, maxRawBytes)) {
            messages.push(message);
          }
          entry.lastUid = taken.at(-1)!;
        }
        if (taken.length === uids.length) delete entry.pending;
        cursor.folders[folder] = entry;
      }
      log.debug({ messages: messages.length, more, resynced }, 'imap: fetched');
      return { messages, cursor: JSON.stringify(cursor), more, resynced };
    });

  const deleteMessages = (serverIds: readonly string[]) =>
    serialized(async (client) => {
      const byFolder = new Map<string, ServerId[]>();
      for (const id of serverIds) {
        const parsed = parseServerId(id);
        if (!parsed) continue;
        const ids = byFolder.get(parsed[0]) ?? [];
        ids.push(parsed);
        byFolder.set(parsed[0], ids);
      }
      for (const [folder, ids] of byFolder) {
        let box: MailboxObject;
        try {
          box = await openFolder(client, folder, false);
        } catch (error) {
          if (error instanceof ReaderError && error.code === 'INCOMING_FOLDER_NOT_FOUND') continue;
          throw error;
        }
        const uids = ids
          .filter(([, uidValidity]) => uidValidity === String(box.uidValidity))
          .map(([, , uid]) => uid)
          .sort((a, b) => a - b);
        for (const set of uidSets([...new Set(uids)])) {
          if (!(await client.messageDelete(set, { uid: true }))) {
            throw new ReaderError(
              'INCOMING_PROTOCOL_ERROR',
              `The server refused to delete messages in ${folder}`,
            );
          }
        }
      }
    });

  const appendSent = (raw: Buffer) =>
    serialized(async (client) => {
      const folders = await client.list();
      const named = (name: string) => name.toLowerCase() === 'sent';
      const sent =
        folders.find((folder) => folder.specialUse === '\\Sent' && folder.specialUseSource !== 'name') ??
        folders.find((folder) => named(folder.path)) ??
        folders.find((folder) => folder.specialUse === '\\Sent') ??
        folders.find((folder) => named(folder.name));
      const path = sent?.path ?? (await client.mailboxCreate('Sent')).path;
      if (!(await client.append(path, raw, ['\\Seen']))) {
        throw new ReaderError('INCOMING_PROTOCOL_ERROR', `The server refused to file the message in ${path}`);
      }
    });

  async function watch(
    onNew: () => void,
    onError: (error: Error) => void,
    readUpTo?: string | null,
  ): Promise<() => Promise<void>> {
    if (closed) throw new Error('The IMAP reader is closed');
    const connection = await connect(config, 'watch', log, secrets);
    const { client } = connection;
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      watches.delete(stop);
      await logOut(connection, config.timeoutMs);
    };
    watches.add(stop); // from here on close() ends it too
    let inbox: MailboxObject;
    try {
      if (closed) throw new Error('The IMAP reader is closed');
      inbox = await openFolder(client, 'INBOX', true);
    } catch (error) {
      await stop();
      throw closed ? new Error('The IMAP reader is closed') : toReaderError(error, secrets, connection.error);
    }
    const fail = (error: unknown) => {
      if (stopped) return;
      stopped = true;
      watches.delete(stop);
      client.close();
      const readerError = toReaderError(error, secrets, connection.error);
      log.warn({ code: readerError.code, err: readerError.message }, 'imap: the watch connection failed');
      onError(readerError);
    };
    const notify = () => {
      try {
        onNew();
      } catch (error) {
        log.warn({ err: error }, 'imap: the onNew callback of a watch threw');
      }
    };
    client.on('exists', (event: { count: number; prevCount: number }) => {
      if (stopped || event.count <= event.prevCount) return;
      notify();
    });
    client.on('error', fail);
    client.on('close', () =>
      fail(
        connection.error ??
          new ReaderError('INCOMING_PROTOCOL_ERROR', 'The server closed the watch connection'),
      ),
    );
    if (readUpTo !== undefined && hasMailPast(inbox, readUpTo)) notify();
    await letFetchConnectionGo();
    return stop;
  }

  /**
   * Logs the fetch connection out once the calls queued on it are done; the next call opens it
   * again. A watch needs only its own connection: a reader kept to watch an account would otherwise
   * hold two sessions on the server for as long as it watches (and a server counts them).
   */
  function letFetchConnectionGo(): Promise<void> {
    return queued(async () => {
      const connection = main;
      main = null;
      if (connection && !connection.closed) await logOut(connection, config.timeoutMs);
    }).catch(() => undefined);
  }

  /** Whether INBOX, as the watch connection found it, has mail the cursor's reader has not read. */
  function hasMailPast(inbox: MailboxObject, readUpTo: string | null): boolean {
    if (!config.folders.includes('INBOX')) return false;
    const read = parseCursor(readUpTo).folders.INBOX;
    if (read?.uidValidity !== String(inbox.uidValidity)) return inbox.exists > 0;
    return inbox.exists > 0 && inbox.uidNext > read.lastUid + 1;
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await Promise.all([...watches].map((stop) => stop()));
    await queue;
    if (main) await logOut(main, config.timeoutMs);
    main = null;
  }

  return {
    fetchNew,
    delete: deleteMessages,
    appendSent,
    ...(canIdle ? { watch } : {}),
    close,
  };
}
