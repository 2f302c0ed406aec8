/**
 * "Test settings" for an incoming server, IMAP or POP3: connect, TLS, capabilities, login, and a
 * look at the mailbox (IMAP: the folder list; POP3: STAT), then LOGOUT/QUIT.
 *
 * It reads and never writes: no SELECT (which could clear \Recent and, with some servers, start
 * flag updates), no FETCH or RETR (which set \Seen), no STORE, EXPUNGE or DELE. LIST and STAT
 * look at the mailbox without opening it for change.
 *
 * A small client of its own over the shared line socket (rather than imapflow) because it has to
 * report each step with the server's own words and choose the login method itself, so that `spa`
 * can never fall back to sending the password. Its POP3 steps are the POP3 reader's session
 * (pop3-session.ts), so both log in the same way.
 */
import type net from 'node:net';
import { closeSocket, createLineReader, openTcp, startTls, type LineReader } from './line-socket.ts';
import { ProxyConnectError } from './net-connect.ts';
import { assertSafeCredential, createPop3Session, toReaderError } from './pop3-session.ts';
import { recordStep } from './probe-step.ts';
import { cramMd5Response } from './smtp-auth.ts';
import type { IncomingConnection } from './reader.ts';
import type { ProxyConfig } from './smtp-types.ts';

/**
 * The connection fields are the readers' (reader.ts). Under `spa` the probe logs in with IMAP
 * AUTHENTICATE CRAM-MD5, or POP3 APOP, else AUTH CRAM-MD5.
 */
export interface IncomingServerConfig extends IncomingConnection {
  protocol: 'imap' | 'pop3';
  proxy: null | ProxyConfig;
}

export type IncomingProbeStepName = 'connect' | 'tls' | 'capabilities' | 'login' | 'list';

export interface IncomingProbeStep {
  step: IncomingProbeStepName;
  ok: boolean;
  ms: number;
  /**
   * The server's own words (a tagged IMAP line, a POP3 +OK/-ERR line; for capabilities the
   * capability lines too), or what went wrong when it did not answer. Never a secret.
   */
  reply: string | null;
}

export type IncomingErrorCode =
  | 'INCOMING_AUTH_FAILED'
  | 'SPA_UNAVAILABLE'
  | 'INCOMING_CONNECT_FAILED'
  | 'INCOMING_TLS_FAILED'
  | 'INCOMING_TIMEOUT'
  | 'INCOMING_PROXY_FAILED'
  | 'INCOMING_PROTOCOL_ERROR'
  /** The server's (or the proxy's) address is one the host policy refuses. */
  | 'HOST_NOT_ALLOWED';

export interface IncomingProbeResult {
  ok: boolean;
  steps: IncomingProbeStep[];
  /** IMAP: every folder name LIST returned, decoded from modified UTF-7, in the server's order. */
  folders?: string[];
  /** POP3: the number of messages STAT reported. */
  messageCount?: number;
  /** `reply` is the failed step's reply: the server's words when it answered, else what went wrong. */
  error?: { code: IncomingErrorCode; reply: string | null };
}

/** A failure with its code; the message is the server's words when it said something. */
class IncomingError extends Error {
  readonly code: IncomingErrorCode;
  constructor(code: IncomingErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Generous for a capability line, tiny for memory; folder names and literals fit well within. */
const MAX_LINE_BYTES = 16_384;
const MAX_FOLDERS = 10_000;
const MAX_LITERALS_PER_LINE = 8;
const REDACTED = '[redacted]';

/** The line the server sent, plus the IMAP literals it announced with {n} (in order). */
interface Response {
  text: string;
  literals: Buffer[];
}

/** What the probe gives a protocol: the current socket and the reader, and where secrets go. */
interface Io {
  write(data: string | Buffer): void;
  reader: LineReader;
  timeoutMs: number;
  /** Registers a value derived from the password (a CRAM or APOP digest) to keep out of the result. */
  secret(value: string): void;
}

/** One protocol's side of each step; each returns the words to record. */
interface Dialect {
  greet(): Promise<string>;
  startTls(): Promise<string>;
  capabilities(): Promise<string>;
  login(): Promise<string>;
  list(): Promise<{ reply: string; folders?: string[]; messageCount?: number }>;
  farewell(): string;
}

export interface IncomingProbeOptions {
  /**
   * Stop after this step: `capabilities` tries no login (server discovery without a password),
   * `login` lists nothing.
   */
  stopAfter?: 'capabilities' | 'login';
}

export async function probeIncoming(
  config: IncomingServerConfig,
  options: IncomingProbeOptions = {},
): Promise<IncomingProbeResult> {
  const steps: IncomingProbeStep[] = [];
  const secrets = new Set<string>(secretForms(config.user, config.pass));
  const redact = (text: string | null) => (text === null ? null : redactSecrets(text, secrets));
  const reader = createLineReader({ timeoutMs: config.timeoutMs, maxLineBytes: MAX_LINE_BYTES });
  let socket: net.Socket | null = null;
  /** True while a session is up on the current socket: then LOGOUT/QUIT makes sense. */
  let talking = false;
  const io: Io = {
    write: (data) => socket?.write(data),
    reader,
    timeoutMs: config.timeoutMs,
    secret: (value) => secrets.add(value),
  };
  const dialect = config.protocol === 'imap' ? imapDialect(io, config) : pop3Dialect(io, config);

  /** Runs one step; a failure records the step, then ends the probe with the error's code. */
  const step = <T>(name: IncomingProbeStepName, run: () => Promise<{ value: T; reply: string | null }>) =>
    recordStep(steps, name, (error) => asIncomingError(error, name), run, redact);

  try {
    assertSafeCredential(config.user, 'The user name');
    assertSafeCredential(config.pass, 'The password');

    const tcp = await step('connect', async () => {
      const opened = await openTcp(config);
      socket = opened;
      if (config.security === 'tls') return { value: opened, reply: null };
      reader.attach(opened);
      const greeting = await dialect.greet();
      talking = true;
      return { value: opened, reply: greeting };
    });

    if (config.security === 'tls') {
      await step('tls', async () => {
        const secure = await startTls(tcp, config);
        reader.attach(secure);
        socket = secure;
        const greeting = await dialect.greet();
        talking = true;
        return { value: undefined, reply: greeting };
      });
    } else if (config.security === 'starttls') {
      await step('tls', async () => {
        const reply = await dialect.startTls();
        talking = false;
        reader.detach();
        const secure = await startTls(tcp, config);
        // Whatever the server sent in plain text after its go-ahead is dropped here, unread.
        reader.attach(secure);
        socket = secure;
        talking = true;
        return { value: undefined, reply };
      });
    }

    // After STARTTLS the capabilities are asked again: what was said in plain text is not trusted.
    await step('capabilities', async () => ({ value: undefined, reply: await dialect.capabilities() }));
    if (options.stopAfter === 'capabilities') return { ok: true, steps };
    await step('login', async () => ({ value: undefined, reply: await dialect.login() }));
    if (options.stopAfter === 'login') return { ok: true, steps };
    const listed = await step('list', async () => {
      const outcome = await dialect.list();
      return { value: outcome, reply: outcome.reply };
    });
    return {
      ok: true,
      steps,
      ...(listed.folders ? { folders: listed.folders } : {}),
      ...(listed.messageCount !== undefined ? { messageCount: listed.messageCount } : {}),
    };
  } catch (error) {
    const failure = asIncomingError(error, 'list');
    return { ok: false, steps, error: { code: failure.code, reply: redact(failure.message) } };
  } finally {
    closeSocket(socket, talking ? dialect.farewell() : null);
  }
}

// ------------------------------------------------------------------------------------------ IMAP

function imapDialect(io: Io, config: IncomingServerConfig): Dialect {
  let tags = 0;
  let capabilities = new Set<string>();
  let preauth = false;

  async function readResponse(deadline: number): Promise<Response> {
    let text = '';
    const literals: Buffer[] = [];
    for (;;) {
      const line = await io.reader.readLine(deadline);
      text += line;
      // Only untagged data carries literals; a tagged line ending in "{5}" is human text.
      const literal = text.startsWith('* ') ? /\{(\d+)\+?\}$/.exec(line) : null;
      if (!literal) return { text, literals };
      if (literals.length >= MAX_LITERALS_PER_LINE) {
        throw new IncomingError('INCOMING_PROTOCOL_ERROR', 'The server sent too many literals in one line');
      }
      literals.push(await io.reader.readBytes(Number(literal[1]), deadline));
    }
  }

  /**
   * Reads up to the tagged completion of `tag` (or, with `continuation`, a "+" request), handing
   * each untagged response to `onUntagged`.
   */
  async function readUntilTagged(
    tag: string,
    deadline: number,
    onUntagged: (response: Response) => void = () => undefined,
    continuation = false,
  ): Promise<{ tagged: string } | { continuation: string }> {
    for (;;) {
      const response = await readResponse(deadline);
      const { text } = response;
      if (text.startsWith(`${tag} `)) return { tagged: text };
      if (text.startsWith('+')) {
        if (continuation) return { continuation: text };
        throw new IncomingError('INCOMING_PROTOCOL_ERROR', `Unexpected continuation request: ${text}`);
      }
      if (/^\* BYE\b/i.test(text)) throw new IncomingError('INCOMING_PROTOCOL_ERROR', text);
      const offered = /^\* CAPABILITY (.*)$/i.exec(text);
      if (offered?.[1]) capabilities = parseCapabilities(offered[1]);
      onUntagged(response);
    }
  }

  /**
   * Sends a command whose arguments are already-encoded strings or literals (sent as synchronising
   * literals: the server says "+" before each). Returns the tagged completion line.
   */
  async function command(
    name: string,
    args: (string | Buffer)[] = [],
    onUntagged?: (response: Response) => void,
  ): Promise<string> {
    const tag = `a${++tags}`;
    const deadline = Date.now() + io.timeoutMs;
    let line = `${tag} ${name}`;
    for (const arg of args) {
      if (typeof arg === 'string') {
        line += ` ${arg}`;
        continue;
      }
      io.write(`${line} {${arg.length}}\r\n`);
      const answer = await readUntilTagged(tag, deadline, onUntagged, true);
      if ('tagged' in answer) return answer.tagged;
      io.write(arg);
      line = '';
    }
    io.write(`${line}\r\n`);
    const answer = await readUntilTagged(tag, deadline, onUntagged);
    return 'tagged' in answer ? answer.tagged : '';
  }

  const isOk = (tagged: string) => /^\S+ OK\b/i.test(tagged);

  async function authenticateCramMd5(): Promise<string> {
    const tag = `a${++tags}`;
    const deadline = Date.now() + io.timeoutMs;
    io.write(`${tag} AUTHENTICATE CRAM-MD5\r\n`);
    const challenge = await readUntilTagged(tag, deadline, undefined, true);
    if ('tagged' in challenge) throw new IncomingError('INCOMING_AUTH_FAILED', challenge.tagged);
    const response = cramMd5Response(config.user, config.pass, challenge.continuation.replace(/^\+ ?/, ''));
    io.secret(response);
    io.write(`${response}\r\n`);
    const outcome = await readUntilTagged(tag, deadline, undefined, true);
    if ('continuation' in outcome) {
      // A second challenge is not CRAM-MD5: cancel the exchange (RFC 3501 §6.2.2).
      io.write('*\r\n');
      const cancelled = await readUntilTagged(tag, deadline);
      throw new IncomingError(
        'INCOMING_AUTH_FAILED',
        'tagged' in cancelled ? cancelled.tagged : outcome.continuation,
      );
    }
    if (!isOk(outcome.tagged)) throw new IncomingError('INCOMING_AUTH_FAILED', outcome.tagged);
    return outcome.tagged;
  }

  return {
    async greet() {
      const { text } = await readResponse(Date.now() + io.timeoutMs);
      const status = /^\* (OK|PREAUTH|BYE)\b/i.exec(text)?.[1]?.toUpperCase();
      if (status === 'BYE') throw new IncomingError('INCOMING_CONNECT_FAILED', text);
      if (!status) throw new IncomingError('INCOMING_PROTOCOL_ERROR', `Not an IMAP greeting: ${text}`);
      preauth = status === 'PREAUTH';
      const offered = /\[CAPABILITY ([^\]]*)\]/i.exec(text);
      if (offered?.[1]) capabilities = parseCapabilities(offered[1]);
      return text;
    },
    async startTls() {
      // Already authenticated in plain text: STARTTLS is not allowed, and going on would be a downgrade.
      if (preauth) {
        throw new IncomingError(
          'INCOMING_TLS_FAILED',
          'The server greeted with PREAUTH, so STARTTLS is impossible on this connection',
        );
      }
      const tagged = await command('STARTTLS');
      if (!isOk(tagged)) throw new IncomingError('INCOMING_TLS_FAILED', tagged);
      return tagged;
    },
    async capabilities() {
      let line = '';
      const tagged = await command('CAPABILITY', [], ({ text }) => {
        if (/^\* CAPABILITY /i.test(text)) line = text;
      });
      if (!isOk(tagged)) throw new IncomingError('INCOMING_PROTOCOL_ERROR', tagged);
      return line ? `${line}\n${tagged}` : tagged;
    },
    async login() {
      if (preauth) return 'PREAUTH: the server logged the connection in already';
      if (config.spa) {
        if (!capabilities.has('AUTH=CRAM-MD5')) {
          const offered = [...capabilities].filter((c) => c.startsWith('AUTH=')).join(' ') || 'none';
          throw new IncomingError(
            'SPA_UNAVAILABLE',
            `The server offers no challenge-response login (AUTH=CRAM-MD5); it offers: ${offered}`,
          );
        }
        return authenticateCramMd5();
      }
      if (capabilities.has('LOGINDISABLED')) {
        throw new IncomingError(
          'INCOMING_AUTH_FAILED',
          'The server refuses LOGIN on this connection (LOGINDISABLED): use STARTTLS or TLS',
        );
      }
      const tagged = await command('LOGIN', [imapString(config.user), imapString(config.pass)]);
      if (!isOk(tagged)) throw new IncomingError('INCOMING_AUTH_FAILED', tagged);
      return tagged;
    },
    async list() {
      const folders: string[] = [];
      const tagged = await command('LIST', ['""', '"*"'], (response) => {
        const name = listedName(response);
        if (name !== null && folders.length < MAX_FOLDERS) folders.push(name);
      });
      if (!isOk(tagged)) throw new IncomingError('INCOMING_PROTOCOL_ERROR', tagged);
      return { reply: tagged, folders };
    },
    farewell: () => `a${++tags} LOGOUT\r\n`,
  };
}

function parseCapabilities(list: string): Set<string> {
  return new Set(list.trim().toUpperCase().split(/\s+/));
}

/**
 * An IMAP string argument: quoted when it is 7-bit (RFC 3501 QUOTED-CHAR, with `\` and `"`
 * escaped), else a literal of its UTF-8 bytes, which carries any octet but NUL, CR and LF.
 */
export function imapString(value: string): string | Buffer {
  // eslint-disable-next-line no-control-regex
  if (/^[\x01-\x7f]*$/.test(value)) return `"${value.replace(/[\\"]/g, '\\$&')}"`;
  return Buffer.from(value, 'utf8');
}

/** The mailbox name of an untagged LIST response, or null for any other response. */
export function listedName({ text, literals }: Response): string | null {
  const match = /^\* LIST \([^)]*\) (?:NIL|"(?:\\.|[^"\\])*") (.*)$/i.exec(text);
  if (!match) return null;
  const raw = match[1] ?? '';
  let name: string;
  if (/^\{\d+\+?\}$/.test(raw)) name = literals.at(-1)?.toString('utf8') ?? '';
  else if (raw.startsWith('"')) name = raw.slice(1, raw.lastIndexOf('"')).replace(/\\(.)/g, '$1');
  else name = raw;
  return decodeModifiedUtf7(name);
}

/** RFC 3501 §5.1.3: "&" + modified base64 of UTF-16BE + "-"; "&-" is a plain "&". */
export function decodeModifiedUtf7(name: string): string {
  return name.replace(/&([A-Za-z0-9+,]*)-/g, (_whole, encoded: string) => {
    if (encoded === '') return '&';
    const bytes = Buffer.from(encoded.replace(/,/g, '/'), 'base64');
    const even = bytes.subarray(0, bytes.length - (bytes.length % 2));
    return Buffer.from(even).swap16().toString('utf16le');
  });
}

// ------------------------------------------------------------------------------------------ POP3

/** The POP3 steps are the reader's own session (pop3-session.ts), plus STAT. */
function pop3Dialect(io: Io, config: IncomingServerConfig): Dialect {
  const wire = {
    send: (line: string) => io.write(`${line}\r\n`),
    readLine: (deadline: number) => io.reader.readLine(deadline),
    timeoutMs: io.timeoutMs,
  };
  const session = createPop3Session(wire, config, { onSecret: io.secret });
  return {
    greet: session.greet,
    startTls: session.startTls,
    capabilities: session.readCapabilities,
    login: async () => (await session.logIn()).reply,
    async list() {
      const reply = await session.expectOk('STAT', 'INCOMING_PROTOCOL_ERROR', 'The server refused STAT');
      const count = /^\+OK (\d+) \d+/i.exec(reply)?.[1];
      if (count === undefined)
        throw new IncomingError('INCOMING_PROTOCOL_ERROR', `Not a STAT reply: ${reply}`);
      return { reply, messageCount: Number(count) };
    },
    farewell: () => 'QUIT\r\n',
  };
}

// ---------------------------------------------------------------------------------------- shared

/** The password as it could appear in a reply that echoes a command: raw, quoted, base64. */
function secretForms(user: string, pass: string): string[] {
  if (pass === '') return [];
  const quoted = imapString(pass);
  return [
    pass,
    ...(typeof quoted === 'string' ? [quoted.slice(1, -1)] : []),
    Buffer.from(pass, 'utf8').toString('base64'),
    Buffer.from(`\u0000${user}\u0000${pass}`, 'utf8').toString('base64'),
  ];
}

/** Takes every secret out of text meant for people, the longest first so none survives in part. */
function redactSecrets(text: string, secrets: Set<string>): string {
  let clean = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret) clean = clean.split(secret).join(REDACTED);
  }
  return clean;
}

/** Any failure as the probe's error; the reply is the server's words when it said something. */
function asIncomingError(error: unknown, step: IncomingProbeStepName): IncomingError {
  if (error instanceof IncomingError) return error;
  if (error instanceof ProxyConnectError) return new IncomingError('INCOMING_PROXY_FAILED', error.message);
  const stage = step === 'connect' || step === 'tls' ? step : 'session';
  const failure = toReaderError(error, stage);
  const code = failure.code === 'INCOMING_FOLDER_NOT_FOUND' ? 'INCOMING_PROTOCOL_ERROR' : failure.code;
  return new IncomingError(code, failure.reply ?? failure.message);
}
