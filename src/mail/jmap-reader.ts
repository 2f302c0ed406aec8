/**
 * The JMAP reader (see reader.ts; RFC 8620 for the core, RFC 8621 for mail): Node's own fetch, one
 * HTTP request per step and no connection to keep (docs/adr/010-jmap-reader.md).
 *
 * - The session comes from `config.url`, else https://host[:port]/.well-known/jmap; its apiUrl,
 *   downloadUrl and uploadUrl may be relative (Cyrus's are) and are resolved against it. Plain
 *   http:// anywhere only under security `none`. The account is the session's primary mail account.
 * - Folders are mailbox names ("Parent/Child" for nested ones); INBOX also finds the mailbox whose
 *   role is `inbox` (Cyrus calls it "Inbox").
 * - The cursor is JSON: the Email state that the next Email/changes starts from, the mailbox id of
 *   each folder read so far, and, while a first read of some folders is unfinished, that query's
 *   folders, the receivedAt it has reached and the ids returned at that instant
 *   (`{"v":1,"state":"42","mailboxes":{"INBOX":"m1"},"query":{…}}`). A query page starts at that
 *   instant rather than at a position, so deleting what a page returned skips nothing.
 * - A message over maxRawBytes is downloaded only until its header block ends (the rest of the
 *   response is not read), so `raw` is exactly the server's header bytes, blank line included.
 * - No `watch`: JMAP push (EventSource) would be its way, and is a later improvement.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { checkLiteral, hostNotAllowedIn, lookupFor, type HostPolicy } from '../net/address-policy.ts';
import { socketErrorCode } from './errors.ts';
import { sharedTlsOptionsFor } from './net-connect.ts';
import { ReaderError, silentReaderLogger } from './reader.ts';
import type {
  FetchedMessage,
  FetchOptions,
  FetchResult,
  MailReader,
  MessageLocation,
  ReaderConfig,
  ReaderOptions,
} from './reader.ts';

const CORE = 'urn:ietf:params:jmap:core';
const MAIL = 'urn:ietf:params:jmap:mail';
const MAX_REDIRECTS = 5;
/** A header block larger than this is cut: no real one comes near it. */
const MAX_HEADER_BYTES = 1024 * 1024;
/** Downloads in flight at once (Cyrus allows 5 concurrent requests by default). */
const DOWNLOADS_IN_FLIGHT = 4;
const EMAIL_PROPERTIES = ['id', 'blobId', 'size', 'receivedAt', 'mailboxIds'];
/** RFC 8620 1.2: what a JMAP Id may be. Anything else (an IMAP server id, say) is nobody's. */
const JMAP_ID = /^[A-Za-z0-9_-]{1,255}$/;

// ------------------------------------------------------------------------------------------ errors

/** The codes of Node's fetch (undici) that mean the server took too long. */
const undiciTimeouts = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Every `code` on the error and its causes: fetch wraps the socket's error in "fetch failed". */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (
    let e = error as { code?: unknown; cause?: unknown; errors?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.code === 'string') codes.push(e.code);
    // connecting to every address of a name: an AggregateError of each attempt
    if (Array.isArray(e.errors)) codes.push(...e.errors.flatMap((inner) => errorCodes(inner)));
    e = e.cause as typeof e;
  }
  return codes;
}

function deepestMessage(error: unknown): string {
  let e = error as { message?: unknown; cause?: unknown } | undefined;
  let message = String((e as Error | undefined)?.message ?? error);
  for (let depth = 0; e?.cause && depth < 5; depth++) {
    e = e.cause as typeof e;
    if (typeof e?.message === 'string' && e.message) message = `${message}: ${e.message}`;
  }
  return message;
}

/** Maps what fetch threw to a ReaderError; `timedOut` says whether our own deadline fired. */
function transportError(error: unknown, timedOut: boolean, timeoutMs: number, what: string): ReaderError {
  if (error instanceof ReaderError) return error;
  const refused = hostNotAllowedIn(error);
  if (refused) return new ReaderError('HOST_NOT_ALLOWED', refused.message);
  if (timedOut) {
    return new ReaderError('INCOMING_TIMEOUT', `The server did not answer ${what} within ${timeoutMs} ms`);
  }
  const codes = errorCodes(error);
  const message = deepestMessage(error);
  if (codes.some((code) => undiciTimeouts.has(code))) {
    return new ReaderError('INCOMING_TIMEOUT', `The server did not answer ${what} in time: ${message}`);
  }
  const kinds = new Set(codes.map((code) => socketErrorCode({ code })));
  if (kinds.has('SMTP_TLS_FAILED')) {
    return new ReaderError('INCOMING_TLS_FAILED', `TLS failed (${what}): ${message}`);
  }
  if (kinds.has('SMTP_CONNECT_FAILED')) {
    return new ReaderError('INCOMING_CONNECT_FAILED', `Could not connect (${what}): ${message}`);
  }
  if (kinds.has('SMTP_TIMEOUT')) {
    return new ReaderError('INCOMING_TIMEOUT', `The server did not answer ${what} in time: ${message}`);
  }
  if (codes.includes('UND_ERR_SOCKET')) {
    return new ReaderError(
      'INCOMING_CONNECT_FAILED',
      `The server closed the connection (${what}): ${message}`,
    );
  }
  return new ReaderError('INCOMING_PROTOCOL_ERROR', `${what} failed: ${message}`);
}

/** "HTTP 400 Bad Request: urn:ietf:params:jmap:error:notJSON (…)": a status and its problem details. */
async function statusReply(response: Response): Promise<string> {
  const line = `HTTP ${response.status} ${response.statusText}`.trim();
  if (!/json/i.test(response.headers.get('content-type') ?? '')) {
    await response.body?.cancel().catch(() => undefined);
    return line;
  }
  try {
    const problem = (await response.json()) as { type?: unknown; detail?: unknown; title?: unknown };
    const detail = [problem.type, problem.detail ?? problem.title].filter((p) => typeof p === 'string');
    return detail.length > 0 ? `${line}: ${detail.join(' ')}` : line;
  } catch {
    return line;
  }
}

/** A method's error response (RFC 8620 3.6.2), with the server's type and description. */
class MethodError extends ReaderError {
  constructor(
    readonly method: string,
    readonly type: string,
    description: string | null,
  ) {
    const reply = description ? `${type}: ${description}` : type;
    super('INCOMING_PROTOCOL_ERROR', `The server refused ${method}: ${reply}`, reply);
  }
}

// ------------------------------------------------------------------------------------------ HTTP

type Dispatcher = NonNullable<RequestInit['dispatcher']>;
type AgentClass = new (options: { connect: tls.ConnectionOptions }) => Dispatcher;

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/**
 * The Agent class of the undici that Node's fetch is built on, which Node does not export: the
 * global dispatcher is one, installed when fetch first loads (a data: URL loads it without a
 * request). Null when something else replaced it (a proxy agent, a mock).
 */
async function bundledAgentClass(): Promise<AgentClass | null> {
  const current = () => (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] as object | undefined;
  if (!current()) await fetch('data:,').catch(() => undefined);
  const agent = current()?.constructor;
  return typeof agent === 'function' && agent.name === 'Agent' ? (agent as AgentClass) : null;
}

/**
 * One Agent per extra CA and host policy, its connections sharing that CA's secure context (see
 * net-connect.ts) and resolving names through the policy's lookup. Policies are few (the
 * container makes one), so they key a WeakMap.
 */
const agentsByPolicy = new WeakMap<HostPolicy, Map<string, Dispatcher>>();
const MAX_AGENTS = 32;

async function dispatcherFor(config: ReaderConfig): Promise<Dispatcher | undefined> {
  const lookup = lookupFor(config.hostPolicy);
  if (!config.ca && !lookup) return undefined;
  let agents = agentsByPolicy.get(config.hostPolicy);
  if (!agents) agentsByPolicy.set(config.hostPolicy, (agents = new Map()));
  const key = config.ca?.toString() ?? '';
  const cached = agents.get(key);
  if (cached) return cached;
  const Agent = await bundledAgentClass();
  if (!Agent) {
    throw new ReaderError(
      config.ca ? 'INCOMING_TLS_FAILED' : 'HOST_NOT_ALLOWED',
      config.ca
        ? 'This Node.js gives fetch no way to trust an extra CA; trust it through NODE_EXTRA_CA_CERTS instead'
        : 'This Node.js gives fetch no way to check the addresses it connects to, so JMAP is refused',
    );
  }
  // the roots and NODE_EXTRA_CA_CERTS plus this CA; the server name comes from each URL
  const { rejectUnauthorized, secureContext } = sharedTlsOptionsFor(config.host, config.ca);
  const agent = new Agent({
    connect: {
      ...(config.ca ? { rejectUnauthorized, secureContext } : {}),
      // every connection, to the session URL and to wherever it leads, resolves through the policy
      ...(lookup ? { lookup } : {}),
    },
  });
  if (agents.size >= MAX_AGENTS) agents.delete(agents.keys().next().value!);
  agents.set(key, agent);
  return agent;
}

/** JMAP over HTTP never needs plain text but where the configuration says so. */
function checkScheme(url: URL, config: ReaderConfig, what: string): URL {
  if (url.protocol === 'https:' || (url.protocol === 'http:' && config.security === 'none')) return url;
  if (url.protocol === 'http:') {
    throw new ReaderError(
      'INCOMING_TLS_FAILED',
      `Refusing plain HTTP for the ${what} (${url.origin}): http:// is only for security "none"`,
    );
  }
  throw new ReaderError('INCOMING_PROTOCOL_ERROR', `The ${what} is not an HTTP URL: ${url.href}`);
}

/** `config.url`, else https://host[:port]/.well-known/jmap (http:// under security `none`). */
export function sessionUrlOf(config: ReaderConfig): URL {
  let text = config.url;
  if (!text) {
    const scheme = config.security === 'none' ? 'http' : 'https';
    const host = net.isIPv6(config.host) ? `[${config.host}]` : config.host;
    const port = config.port && config.port !== (scheme === 'https' ? 443 : 80) ? `:${config.port}` : '';
    text = `${scheme}://${host}${port}/.well-known/jmap`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ReaderError('INCOMING_PROTOCOL_ERROR', `The JMAP session URL is not a URL: ${text}`);
  }
  return checkScheme(url, config, 'JMAP session');
}

/** RFC 6570 level 1, as RFC 8620 uses it for downloadUrl and uploadUrl. */
function expand(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? encodeURIComponent(values[name]!) : whole,
  );
}

// ---------------------------------------------------------------------------------------- session

interface Session {
  url: URL;
  apiUrl: URL;
  downloadUrl: string;
  uploadUrl: string;
  accountId: string;
  state: string;
  maxObjectsInGet: number;
  maxObjectsInSet: number;
}

interface SessionResource {
  apiUrl?: unknown;
  downloadUrl?: unknown;
  uploadUrl?: unknown;
  state?: unknown;
  capabilities?: Record<string, { maxObjectsInGet?: unknown; maxObjectsInSet?: unknown }>;
  primaryAccounts?: Record<string, unknown>;
}

function parseSession(resource: SessionResource, url: URL, config: ReaderConfig): Session {
  const fail = (what: string) =>
    new ReaderError('INCOMING_PROTOCOL_ERROR', `The JMAP session at ${url.href} ${what}`);
  if (!resource.capabilities?.[MAIL]) throw fail('offers no mail (urn:ietf:params:jmap:mail)');
  const accountId = resource.primaryAccounts?.[MAIL];
  if (typeof accountId !== 'string') throw fail('names no primary mail account');
  const resolved = (name: 'apiUrl' | 'downloadUrl' | 'uploadUrl') => {
    const value = resource[name];
    if (typeof value !== 'string') throw fail(`has no ${name}`);
    // relative URLs (Cyrus: "/jmap/") are relative to the session resource; URL escapes a
    // template's braces, which are put back
    const absolute = checkScheme(new URL(value, url), config, name).href;
    return absolute.replace(/%7B/gi, '{').replace(/%7D/gi, '}');
  };
  const core = resource.capabilities[CORE] ?? {};
  const positive = (value: unknown, otherwise: number) =>
    typeof value === 'number' && value > 0 ? value : otherwise;
  return {
    url,
    apiUrl: new URL(resolved('apiUrl')),
    downloadUrl: resolved('downloadUrl'),
    uploadUrl: resolved('uploadUrl'),
    accountId,
    state: typeof resource.state === 'string' ? resource.state : '',
    // RFC 8620 asks for at least 500 of each
    maxObjectsInGet: positive(core.maxObjectsInGet, 500),
    maxObjectsInSet: positive(core.maxObjectsInSet, 500),
  };
}

// ---------------------------------------------------------------------------------------- cursor

interface QueryCursor {
  /** folder → mailbox id, the folders this query reads */
  mailboxes: Record<string, string>;
  /** The receivedAt (JMAP UTCDate) the next page starts at, inclusive; null for the beginning. */
  after: string | null;
  /** Ids already returned whose receivedAt is `after` exactly. */
  seen: string[];
  /** These folders' messages may be stored already (a re-read). */
  resync: boolean;
}

interface Cursor {
  v: 1;
  /** The Email state Email/changes continues from; null before the first query page. */
  state: string | null;
  /** folder → mailbox id, for the folders whose first read is done (read by Email/changes since) */
  mailboxes: Record<string, string>;
  query?: QueryCursor;
}

function parseCursor(text: string | null): Cursor {
  if (text === null) return { v: 1, state: null, mailboxes: {} };
  try {
    const cursor = JSON.parse(text) as Cursor;
    if (
      cursor?.v === 1 &&
      (cursor.state === null || typeof cursor.state === 'string') &&
      typeof cursor.mailboxes === 'object' &&
      cursor.mailboxes !== null
    ) {
      return cursor;
    }
  } catch {
    // reported below
  }
  throw new ReaderError('INCOMING_PROTOCOL_ERROR', 'The sync cursor is not one the JMAP reader wrote');
}

/** JMAP's UTCDate has no fractional seconds when they are zero (RFC 8620 1.4); we keep none. */
const utcDate = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---------------------------------------------------------------------------------------- reader

type Invocation = [name: string, args: Record<string, unknown>, callId: string];

interface MailboxInfo {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
}

interface EmailInfo {
  id: string;
  blobId: string;
  size: number;
  receivedAt: string | null;
  mailboxIds: Record<string, boolean>;
}

/** A message chosen for this fetch: the email and the folder it was found in. */
interface Chosen {
  email: EmailInfo;
  folder: string;
}

export async function openJmapReader(config: ReaderConfig, options: ReaderOptions = {}): Promise<MailReader> {
  const log = options.logger ?? silentReaderLogger;
  const bearer = config.authScheme === 'bearer';
  // HTTP Basic sends the password (inside TLS) with every request, and no challenge-response
  // scheme exists for JMAP in practice (RFC 8620 names none; Cyrus, Fastmail and Stalwart offer
  // Basic or bearer tokens). So `spa` with Basic is refused before any request is made; a bearer
  // token is not the password, so `spa` with a token is fine.
  if (config.spa && !bearer) {
    throw new ReaderError(
      'SPA_UNAVAILABLE',
      'JMAP has no challenge-response login: HTTP Basic would send the password; use a bearer token',
    );
  }
  const authorization = bearer
    ? `Bearer ${config.pass}`
    : `Basic ${Buffer.from(`${config.user}:${config.pass}`).toString('base64')}`;
  const secrets = [config.pass, authorization.slice(authorization.indexOf(' ') + 1)].filter(
    (s) => s.length >= 4,
  );
  const scrub = (text: string) =>
    secrets.reduce((clean, secret) => clean.split(secret).join('[redacted]'), text);
  const dispatcher = await dispatcherFor(config);
  const closer = new AbortController();
  let closed = false;

  /**
   * One HTTP request within `timeoutMs` (reading the answer included), authenticated; `read` gets
   * the response unless the server refused the credentials.
   */
  async function send<T>(
    url: URL,
    init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string | Uint8Array },
    what: string,
    read: (response: Response) => Promise<T>,
  ): Promise<T> {
    if (closed) throw new Error('The JMAP reader is closed');
    const deadline = AbortSignal.timeout(config.timeoutMs);
    try {
      // a name is checked by the dispatcher's lookup; an IP literal skips lookup, so here. Every
      // URL is: the session's, a redirect's, and the apiUrl and downloadUrl the server gives.
      checkLiteral(url.hostname, config.hostPolicy);
      const response = await fetch(url, {
        ...init,
        headers: { ...init.headers, authorization },
        redirect: 'manual',
        signal: AbortSignal.any([deadline, closer.signal]),
        ...(dispatcher ? { dispatcher } : {}),
      });
      if (response.status === 401 || response.status === 403) {
        const reply = scrub(await statusReply(response));
        throw new ReaderError('INCOMING_AUTH_FAILED', `The server refused the login: ${reply}`, reply);
      }
      return await read(response);
    } catch (error) {
      if (error instanceof ReaderError) throw error; // ours: scrubbed already
      if (closed) throw new Error('The JMAP reader is closed');
      const readerError = transportError(error, deadline.aborted, config.timeoutMs, what);
      throw new ReaderError(
        readerError.code,
        scrub(readerError.message),
        readerError.reply && scrub(readerError.reply),
      );
    }
  }

  const unexpected = async (response: Response, what: string) => {
    const reply = scrub(await statusReply(response));
    return new ReaderError('INCOMING_PROTOCOL_ERROR', `The server answered ${what} with ${reply}`, reply);
  };

  async function discover(): Promise<Session> {
    let url = sessionUrlOf(config);
    for (let hops = 0; ; hops++) {
      const init = { method: 'GET' as const, headers: { accept: 'application/json' } };
      const next = await send(url, init, 'the JMAP session request', async (response) => {
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location && hops < MAX_REDIRECTS) {
          await response.body?.cancel().catch(() => undefined);
          return checkScheme(new URL(location, url), config, 'JMAP session');
        }
        if (response.status !== 200) throw await unexpected(response, 'the JMAP session request');
        return parseSession((await response.json()) as SessionResource, url, config);
      });
      if (!(next instanceof URL)) return next;
      url = next;
    }
  }

  let session = await discover();
  let sessionStale = false;
  log.debug({ session: session.url.href, api: session.apiUrl.href }, 'jmap: session');

  async function currentSession(): Promise<Session> {
    if (sessionStale) {
      session = await discover();
      sessionStale = false;
    }
    return session;
  }

  /** One API request; the method responses by call id (an error response stays an "error"). */
  async function api(calls: Invocation[]): Promise<Map<string, [string, Record<string, unknown>]>> {
    const { apiUrl, state } = await currentSession();
    const body = JSON.stringify({ using: [CORE, MAIL], methodCalls: calls });
    const methods = calls.map(([name]) => name).join(', ');
    const reply = await send(
      apiUrl,
      { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body },
      methods,
      async (response) => {
        if (response.status !== 200) throw await unexpected(response, methods);
        return (await response.json()) as { methodResponses?: Invocation[]; sessionState?: unknown };
      },
    );
    if (!Array.isArray(reply.methodResponses)) {
      throw new ReaderError(
        'INCOMING_PROTOCOL_ERROR',
        `The server's answer to ${methods} has no methodResponses`,
      );
    }
    if (typeof reply.sessionState === 'string' && reply.sessionState !== state) sessionStale = true;
    return new Map(reply.methodResponses.map(([name, args, id]) => [id, [name, args ?? {}]]));
  }

  /** The arguments of call `id`'s response, or its error as a MethodError. */
  function resultOf(responses: Map<string, [string, Record<string, unknown>]>, id: string, method: string) {
    const response = responses.get(id);
    if (!response) throw new ReaderError('INCOMING_PROTOCOL_ERROR', `The server did not answer ${method}`);
    const [name, args] = response;
    if (name === 'error') {
      const type = typeof args.type === 'string' ? args.type : 'serverFail';
      throw new MethodError(method, type, typeof args.description === 'string' ? args.description : null);
    }
    return args;
  }

  const mailboxesCall = (accountId: string): Invocation => [
    'Mailbox/get',
    { accountId, ids: null, properties: ['id', 'name', 'parentId', 'role'] },
    'mailboxes',
  ];

  /** Each folder's mailbox id: by its path of names, and INBOX by the role `inbox` too. */
  function resolveFolders(list: MailboxInfo[]): Record<string, string> {
    const byId = new Map(list.map((mailbox) => [mailbox.id, mailbox]));
    const pathOf = (mailbox: MailboxInfo): string => {
      const names = [mailbox.name];
      for (let parent = byId.get(mailbox.parentId ?? ''), depth = 0; parent && depth < 64; depth++) {
        names.unshift(parent.name);
        parent = byId.get(parent.parentId ?? '');
      }
      return names.join('/');
    };
    const ids: Record<string, string> = {};
    for (const folder of config.folders) {
      const found =
        list.find((mailbox) => pathOf(mailbox) === folder) ??
        (folder.toUpperCase() === 'INBOX' ? list.find((mailbox) => mailbox.role === 'inbox') : undefined);
      if (!found) {
        throw new ReaderError(
          'INCOMING_FOLDER_NOT_FOUND',
          `No mailbox ${JSON.stringify(folder)} on the server; it has: ${list.map(pathOf).sort().join(', ')}`,
        );
      }
      ids[folder] = found.id;
    }
    return ids;
  }

  /** The first configured folder (of those in `mailboxes`) that the email is in. */
  function folderOf(email: EmailInfo, mailboxes: Record<string, string>): string | null {
    for (const folder of config.folders) {
      const id = mailboxes[folder];
      if (id !== undefined && email.mailboxIds?.[id]) return folder;
    }
    return null;
  }

  /** The emails that are in a read folder (of those in `mailboxes`), each with that folder. */
  function inReadFolders(emails: EmailInfo[], mailboxes: Record<string, string>): Chosen[] {
    return emails.flatMap((email) => {
      const folder = folderOf(email, mailboxes);
      return folder ? [{ email, folder }] : [];
    });
  }

  /** Downloads the message: whole, or its header block only when it is over `maxRawBytes`. */
  async function download({ email, folder }: Chosen, maxRawBytes: number): Promise<FetchedMessage | null> {
    const { downloadUrl, accountId } = await currentSession();
    const url = new URL(
      expand(downloadUrl, {
        accountId,
        blobId: email.blobId,
        name: `${email.id}.eml`,
        type: 'message/rfc822',
      }),
    );
    const truncated = email.size > maxRawBytes;
    const raw = await send(url, { method: 'GET' }, `the download of ${email.id}`, async (response) => {
      // gone since Email/get said it was there: nothing to read
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return null;
      }
      if (response.status !== 200) throw await unexpected(response, `the download of ${email.id}`);
      return truncated ? headerBlock(response) : Buffer.from(await response.arrayBuffer());
    });
    if (raw === null) return null;
    const receivedAt = email.receivedAt ? new Date(email.receivedAt) : null;
    return {
      serverId: email.id,
      folder,
      raw,
      truncated,
      size: email.size,
      receivedAt: receivedAt && !Number.isNaN(receivedAt.getTime()) ? receivedAt : null,
    };
  }

  async function downloadAll(chosen: Chosen[], maxRawBytes: number): Promise<FetchedMessage[]> {
    const results: (FetchedMessage | null)[] = new Array(chosen.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < chosen.length) {
        const at = next++;
        results[at] = await download(chosen[at]!, maxRawBytes);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DOWNLOADS_IN_FLIGHT, chosen.length) }, worker));
    return results.filter((message): message is FetchedMessage => message !== null);
  }

  const byReceivedAt = (a: Chosen, b: Chosen) =>
    (a.email.receivedAt ?? '').localeCompare(b.email.receivedAt ?? '') ||
    a.email.id.localeCompare(b.email.id);

  /** One page of a query: up to `room` messages from where it stands; the query moves on. */
  async function queryPage(query: QueryCursor, room: number) {
    const { accountId, maxObjectsInGet } = await currentSession();
    const conditions = Object.values(query.mailboxes).map((inMailbox) => ({
      inMailbox,
      ...(query.after ? { after: query.after } : {}),
    }));
    const take = Math.max(1, Math.min(room, maxObjectsInGet - query.seen.length));
    // the ids returned already at `after` come first again: room for them and `take` more
    const requested = take + query.seen.length;
    const responses = await api([
      [
        'Email/query',
        {
          accountId,
          filter: conditions.length === 1 ? conditions[0] : { operator: 'OR', conditions },
          sort: [{ property: 'receivedAt', isAscending: true }],
          position: 0,
          limit: requested,
          calculateTotal: true,
        },
        'query',
      ],
      [
        'Email/get',
        {
          accountId,
          '#ids': { resultOf: 'query', name: 'Email/query', path: '/ids' },
          properties: EMAIL_PROPERTIES,
        },
        'emails',
      ],
    ]);
    const found = resultOf(responses, 'query', 'Email/query') as { ids: string[]; total?: number };
    const got = resultOf(responses, 'emails', 'Email/get') as { list: EmailInfo[]; state: string };
    const emails = new Map(got.list.map((email) => [email.id, email]));
    const seen = new Set(query.seen);
    const fresh = found.ids.filter((id) => !seen.has(id));
    const taken = fresh.slice(0, take);
    const chosen: Chosen[] = [];
    for (const id of taken) {
      const email = emails.get(id);
      const folder = email && folderOf(email, query.mailboxes);
      if (email && folder) chosen.push({ email, folder });
    }
    const last = chosen.at(-1)?.email.receivedAt;
    if (last) {
      const atLast = chosen.filter(({ email }) => email.receivedAt === last).map(({ email }) => email.id);
      query.seen = last === query.after ? [...query.seen, ...atLast] : atLast;
      query.after = last;
    }
    // without a total (a server may not count), a short page is the last one
    const total = found.total ?? (found.ids.length < requested ? found.ids.length : Infinity);
    const done = taken.length === fresh.length && found.ids.length >= total;
    return { chosen, done, state: got.state };
  }

  /**
   * Of the emails whose mailboxes changed and that are now in a read folder, those the caller has
   * not stored (moved in from elsewhere, to download) and where the stored ones are now (flagged,
   * read, or moved between read folders).
   */
  async function sortUpdated(
    updated: EmailInfo[],
    mailboxes: Record<string, string>,
    storedAmong: FetchOptions['storedAmong'],
  ): Promise<{ movedIn: Chosen[]; storedAt: MessageLocation[] }> {
    const read = inReadFolders(updated, mailboxes);
    if (read.length === 0 || !storedAmong) return { movedIn: read, storedAt: [] };
    const stored = await storedAmong(read.map(({ email }) => email.id));
    return {
      movedIn: read.filter(({ email }) => !stored.has(email.id)),
      storedAt: read
        .filter(({ email }) => stored.has(email.id))
        .map(({ email, folder }) => ({ serverId: email.id, folder })),
    };
  }

  const fetchNew = async (
    cursorText: string | null,
    { limit, since, maxRawBytes, storedAmong }: FetchOptions,
  ): Promise<FetchResult> => {
    const cursor = parseCursor(cursorText);
    const { accountId, maxObjectsInGet } = await currentSession();
    // a folder no longer configured is forgotten: configured again, it is read as a new one
    const configured = (mailboxes: Record<string, string>) =>
      Object.fromEntries(Object.entries(mailboxes).filter(([folder]) => config.folders.includes(folder)));
    cursor.mailboxes = configured(cursor.mailboxes);
    if (cursor.query) {
      cursor.query.mailboxes = configured(cursor.query.mailboxes);
      if (Object.keys(cursor.query.mailboxes).length === 0) delete cursor.query;
    }
    const chosen: Chosen[] = [];
    const nowIn: MessageLocation[] = [];
    let more = false;

    // One request when nothing changed: the mailboxes, and what changed since the state.
    const known = Object.keys(cursor.mailboxes);
    const useChanges = cursor.state !== null && known.length > 0 && limit > 0;
    const responses = await api([
      mailboxesCall(accountId),
      ...(useChanges
        ? ([
            [
              'Email/changes',
              { accountId, sinceState: cursor.state, maxChanges: Math.min(limit, maxObjectsInGet) },
              'changes',
            ],
            [
              'Email/get',
              {
                accountId,
                '#ids': { resultOf: 'changes', name: 'Email/changes', path: '/created' },
                properties: EMAIL_PROPERTIES,
              },
              'created',
            ],
            // a message moved into a read folder is an update: its id stays, its mailboxes change
            [
              'Email/get',
              {
                accountId,
                '#ids': { resultOf: 'changes', name: 'Email/changes', path: '/updated' },
                properties: EMAIL_PROPERTIES,
              },
              'updated',
            ],
          ] satisfies Invocation[])
        : []),
    ]);
    const ids = resolveFolders(
      (resultOf(responses, 'mailboxes', 'Mailbox/get') as { list: MailboxInfo[] }).list,
    );

    // Folders to read by a query: new ones, and read ones whose mailbox is not the same any more.
    const toQuery: Record<string, string> = {};
    let resync = false;
    for (const folder of config.folders) {
      const readAs = cursor.mailboxes[folder];
      if (readAs === ids[folder]) continue;
      if (readAs !== undefined) resync = true;
      delete cursor.mailboxes[folder];
      if (cursor.query?.mailboxes[folder] !== ids[folder]) toQuery[folder] = ids[folder]!;
    }
    if (useChanges) {
      try {
        const changes = resultOf(responses, 'changes', 'Email/changes') as {
          newState: string;
          hasMoreChanges: boolean;
        };
        const created = resultOf(responses, 'created', 'Email/get') as { list: EmailInfo[] };
        const updated = resultOf(responses, 'updated', 'Email/get') as { list: EmailInfo[] };
        chosen.push(...inReadFolders(created.list, cursor.mailboxes));
        const { movedIn, storedAt } = await sortUpdated(updated.list, cursor.mailboxes, storedAmong);
        chosen.push(...movedIn);
        nowIn.push(...storedAt);
        chosen.sort(byReceivedAt);
        cursor.state = changes.newState;
        more ||= changes.hasMoreChanges;
      } catch (error) {
        // The state is too old for the server (or not one of its states): read everything again.
        if (!(
          error instanceof MethodError && ['cannotCalculateChanges', 'invalidArguments'].includes(error.type)
        )) {
          throw error;
        }
        log.warn(
          { type: error.type },
          'jmap: the server cannot tell the changes since the cursor; reading again',
        );
        for (const folder of Object.keys(cursor.mailboxes)) toQuery[folder] = cursor.mailboxes[folder]!;
        cursor.mailboxes = {};
        cursor.state = null;
        resync = true;
      }
    }
    if (Object.keys(toQuery).length > 0) {
      // a query under way starts again with the folders added: its own may be partly stored
      const running = cursor.query;
      cursor.query = {
        mailboxes: { ...(running?.mailboxes ?? {}), ...toQuery },
        after: since ? utcDate(since) : null,
        seen: [],
        resync: resync || running !== undefined,
      };
    }
    const query = cursor.query;
    const resynced = query?.resync ? Object.keys(query.mailboxes) : [];
    if (query && chosen.length < limit) {
      const page = await queryPage(query, limit - chosen.length);
      // the state before the first page: what arrives meanwhile comes by Email/changes too
      cursor.state ??= page.state;
      chosen.push(...page.chosen);
      if (page.done) {
        Object.assign(cursor.mailboxes, query.mailboxes);
        delete cursor.query;
      } else {
        more = true;
      }
    } else if (query) {
      more = true;
    }
    const messages = await downloadAll(chosen, maxRawBytes);
    log.debug({ messages: messages.length, more, resynced }, 'jmap: fetched');
    return { messages, cursor: JSON.stringify(cursor), more, resynced, nowIn };
  };

  async function deleteMessages(serverIds: readonly string[]): Promise<void> {
    const { accountId, maxObjectsInSet } = await currentSession();
    const ids = [...new Set(serverIds.filter((id) => JMAP_ID.test(id)))];
    for (let at = 0; at < ids.length; at += maxObjectsInSet) {
      const destroy = ids.slice(at, at + maxObjectsInSet);
      const responses = await api([['Email/set', { accountId, destroy }, 'destroy']]);
      const result = resultOf(responses, 'destroy', 'Email/set') as {
        notDestroyed?: Record<string, { type?: string; description?: string }> | null;
      };
      const failed = Object.entries(result.notDestroyed ?? {}).filter(
        ([, error]) => error.type !== 'notFound',
      );
      if (failed.length > 0) {
        const reply = failed
          .map(([id, error]) => `${id}: ${error.type ?? 'error'} ${error.description ?? ''}`.trim())
          .join('; ');
        throw new ReaderError(
          'INCOMING_PROTOCOL_ERROR',
          `The server refused to delete messages: ${reply}`,
          reply,
        );
      }
    }
  }

  async function upload(raw: Buffer): Promise<string> {
    const { uploadUrl, accountId } = await currentSession();
    const url = new URL(expand(uploadUrl, { accountId }));
    const init = {
      method: 'POST' as const,
      headers: { 'content-type': 'message/rfc822' },
      body: new Uint8Array(raw),
    };
    return send(url, init, 'the upload', async (response) => {
      if (response.status !== 200 && response.status !== 201) throw await unexpected(response, 'the upload');
      const { blobId } = (await response.json()) as { blobId?: unknown };
      if (typeof blobId !== 'string')
        throw new ReaderError('INCOMING_PROTOCOL_ERROR', 'The upload returned no blobId');
      return blobId;
    });
  }

  async function appendSent(raw: Buffer): Promise<void> {
    const { accountId } = await currentSession();
    const [blobId, responses] = await Promise.all([upload(raw), api([mailboxesCall(accountId)])]);
    const { list } = resultOf(responses, 'mailboxes', 'Mailbox/get') as { list: MailboxInfo[] };
    const sent = list.find((mailbox) => mailbox.role === 'sent');
    if (!sent)
      throw new ReaderError('INCOMING_FOLDER_NOT_FOUND', 'The account has no mailbox with the role "sent"');
    const imported = await api([
      [
        'Email/import',
        {
          accountId,
          emails: { sent: { blobId, mailboxIds: { [sent.id]: true }, keywords: { $seen: true } } },
        },
        'import',
      ],
    ]);
    const result = resultOf(imported, 'import', 'Email/import') as {
      created?: Record<string, unknown> | null;
      notCreated?: Record<string, { type?: string; description?: string }> | null;
    };
    const refused = result.notCreated?.sent;
    // alreadyExists: a server that keeps one copy of a message has it filed already
    if (!result.created?.sent && refused?.type !== 'alreadyExists') {
      const reply = `${refused?.type ?? 'no answer'}${refused?.description ? `: ${refused.description}` : ''}`;
      throw new ReaderError(
        'INCOMING_PROTOCOL_ERROR',
        `The server refused to file the message in ${sent.name}: ${reply}`,
        reply,
      );
    }
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    closer.abort();
  }

  return { fetchNew, delete: deleteMessages, appendSent, close };
}

/** The response's bytes up to and including the blank line after the header; the rest unread. */
async function headerBlock(response: Response): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  const reader = response.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // look again from a little before the new chunk: the blank line may straddle two chunks
      const from = Math.max(0, length - 3);
      chunks.push(Buffer.from(value));
      length += value.length;
      const all = Buffer.concat(chunks);
      const end = blankLineEnd(all, from);
      if (end >= 0) return all.subarray(0, end);
      if (length >= MAX_HEADER_BYTES) return all.subarray(0, MAX_HEADER_BYTES);
      chunks.splice(0, chunks.length, all);
    }
    return Buffer.concat(chunks);
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Where the header block ends (after CRLF CRLF, or LF LF), searching from `from`; -1 if not yet. */
function blankLineEnd(buffer: Buffer, from: number): number {
  const crlf = buffer.indexOf('\r\n\r\n', from);
  const lf = buffer.indexOf('\n\n', from);
  const end = Math.min(crlf < 0 ? Infinity : crlf + 4, lf < 0 ? Infinity : lf + 2);
  return end === Infinity ? -1 : end;
}
