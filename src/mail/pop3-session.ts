/**
 * A POP3 session up to the transaction state, written once for the "test settings" probe and the
 * reader: the greeting (with its APOP timestamp), STLS (RFC 2595), CAPA (RFC 2449) and the login.
 *
 * - Without `spa`: USER/PASS (RFC 1939).
 * - With `spa`: APOP when the greeting carries a timestamp, else SASL CRAM-MD5 (RFC 5034) when
 *   CAPA's SASL line lists it, else SPA_UNAVAILABLE. Never a fallback that sends the password.
 *
 * It speaks over whatever line connection the caller has (the probe's line socket, the reader's
 * byte-exact one) and fails with ReaderErrors whose message and reply carry no secret.
 */
import { createHash } from 'node:crypto';
import { hostNotAllowedIn } from '../net/address-policy.ts';
import { socketErrorCode } from './errors.ts';
import { LineSocketError } from './line-socket.ts';
import { ReaderError, type ReaderErrorCode } from './reader.ts';
import { cramMd5Response } from './sasl.ts';

/** What the session needs from a connection. */
export interface Pop3Wire {
  /** Sends one command line (the CRLF is added here). */
  send(line: string): void;
  /** The next line the server sends, without its line break, by `deadline` (ms since the epoch). */
  readLine(deadline: number): Promise<string>;
  timeoutMs: number;
}

export interface Pop3Credentials {
  user: string;
  pass: string;
  spa: boolean;
}

export type Pop3LoginMethod = 'USER' | 'APOP' | 'CRAM-MD5';

export interface Pop3SessionOptions {
  /** Told of each value derived from the password (an APOP digest, a CRAM-MD5 response). */
  onSecret?: (value: string) => void;
}

const MAX_CAPA_LINES = 200;
const REDACTED = '[redacted]';

export const isOk = (line: string): boolean => /^\+OK\b/i.test(line);

/** A line break (or NUL) in a credential would end the command early and start another. */
export function assertSafeCredential(value: string, what: string): void {
  if (/[\r\n\0]/.test(value)) {
    throw new ReaderError('INCOMING_PROTOCOL_ERROR', `${what} contains a line break or NUL`);
  }
}

/**
 * Where a failure happened, for the errors that carry no POP3 reply: while connecting, during the
 * TLS handshake (or the greeting that follows it), or later in the session.
 */
export type Pop3Stage = 'connect' | 'tls' | 'session';

/**
 * Any failure (a socket error, a timeout of the line reader, a ReaderError already) as a
 * ReaderError. Socket errors keep Node's words as the message; a connection that breaks during
 * the TLS handshake is the handshake's failure, whatever Node calls it.
 */
export function toReaderError(error: unknown, stage: Pop3Stage): ReaderError {
  if (error instanceof ReaderError) return error;
  const refused = hostNotAllowedIn(error);
  if (refused) return new ReaderError('HOST_NOT_ALLOWED', refused.message);
  if (error instanceof LineSocketError) {
    return new ReaderError(
      error.kind === 'timeout' ? 'INCOMING_TIMEOUT' : 'INCOMING_PROTOCOL_ERROR',
      error.message,
    );
  }
  const e = error as Error & { code?: string };
  const message = e.message ?? String(error);
  if (stage === 'tls') return new ReaderError('INCOMING_TLS_FAILED', message);
  const codes: Record<string, ReaderErrorCode> = {
    SMTP_TLS_FAILED: 'INCOMING_TLS_FAILED',
    SMTP_CONNECT_FAILED: 'INCOMING_CONNECT_FAILED',
    SMTP_TIMEOUT: 'INCOMING_TIMEOUT',
  };
  const fallback = stage === 'connect' ? 'INCOMING_CONNECT_FAILED' : 'INCOMING_PROTOCOL_ERROR';
  return new ReaderError(codes[socketErrorCode(e)] ?? fallback, message);
}

/** The session of one connection; each step checks the server's answer and says what it said. */
export function createPop3Session(
  wire: Pop3Wire,
  credentials: Pop3Credentials,
  options: Pop3SessionOptions = {},
) {
  const { user, pass, spa } = credentials;
  /** The password as it could come back in a reply echoing a command, and what was derived from it. */
  const secrets: string[] =
    pass === ''
      ? []
      : [
          pass,
          Buffer.from(pass, 'utf8').toString('base64'),
          Buffer.from(`\u0000${user}\u0000${pass}`, 'utf8').toString('base64'),
        ];
  let timestamp: string | null = null;
  let capabilities: Set<string> | null = null;
  let sasl = new Set<string>();
  let capaRead = false;

  const secret = (value: string) => {
    secrets.push(value);
    options.onSecret?.(value);
  };

  /** Takes every secret out of text meant for people, the longest first so none survives in part. */
  function redact(text: string): string {
    let clean = text;
    for (const value of [...secrets].sort((a, b) => b.length - a.length)) {
      if (value) clean = clean.split(value).join(REDACTED);
    }
    return clean;
  }

  /** A failure with the server's line as its reply, both redacted. */
  const refusal = (code: ReaderErrorCode, what: string, reply: string) =>
    new ReaderError(code, redact(`${what}: ${reply}`), redact(reply));

  const deadline = () => Date.now() + wire.timeoutMs;

  async function command(line: string): Promise<string> {
    wire.send(line);
    return wire.readLine(deadline());
  }

  /** A single-line command that must answer +OK; anything else fails with the server's words. */
  async function expectOk(line: string, code: ReaderErrorCode, what: string): Promise<string> {
    const reply = await command(line);
    if (!isOk(reply)) throw refusal(code, what, reply);
    return reply;
  }

  /** The rest of a multi-line reply after its +OK line, dot-unstuffed, as text lines. */
  async function readLines(maxLines: number, what: string): Promise<string[]> {
    const until = deadline();
    const lines: string[] = [];
    for (;;) {
      const line = await wire.readLine(until);
      if (line === '.') return lines;
      if (lines.length >= maxLines) {
        throw new ReaderError('INCOMING_PROTOCOL_ERROR', `${what} longer than ${maxLines} lines`);
      }
      lines.push(line.startsWith('.') ? line.slice(1) : line);
    }
  }

  async function greet(): Promise<string> {
    const greeting = await wire.readLine(deadline());
    if (/^-ERR\b/i.test(greeting))
      throw refusal('INCOMING_CONNECT_FAILED', 'The server refused the connection', greeting);
    if (!isOk(greeting)) {
      throw new ReaderError(
        'INCOMING_PROTOCOL_ERROR',
        redact(`Not a POP3 greeting: ${greeting}`),
        redact(greeting),
      );
    }
    timestamp = /<[^<>\s]+>/.exec(greeting)?.[0] ?? null;
    return greeting;
  }

  /** STLS; the caller then starts TLS, greets nothing (there is no second greeting) and asks CAPA again. */
  async function startTls(): Promise<string> {
    const reply = await expectOk('STLS', 'INCOMING_TLS_FAILED', 'The server refused STLS');
    // What was said in plain text is not trusted once TLS is up (RFC 2595 §4).
    capabilities = null;
    sasl = new Set();
    capaRead = false;
    return reply;
  }

  /**
   * CAPA: the reply's lines, joined. A server without CAPA (it is an extension) answers -ERR, which
   * is no failure: USER/PASS and APOP work without it; then `has` knows nothing.
   */
  async function readCapabilities(): Promise<string> {
    const first = await command('CAPA');
    capaRead = true;
    capabilities = null;
    sasl = new Set();
    if (!isOk(first)) return first;
    const lines = await readLines(MAX_CAPA_LINES, 'A CAPA reply');
    capabilities = new Set(lines.map((line) => line.trim().split(/\s+/)[0]!.toUpperCase()));
    const mechanisms = lines.find((line) => /^SASL\b/i.test(line));
    if (mechanisms) sasl = new Set(mechanisms.trim().toUpperCase().split(/\s+/).slice(1));
    return [first, ...lines].join('\n');
  }

  async function apop(stamp: string): Promise<string> {
    const digest = createHash('md5').update(`${stamp}${pass}`, 'utf8').digest('hex');
    secret(digest);
    return expectOk(`APOP ${user} ${digest}`, 'INCOMING_AUTH_FAILED', 'The server refused the login');
  }

  async function cramMd5(): Promise<string> {
    const challenge = await command('AUTH CRAM-MD5');
    if (!/^\+( |$)/.test(challenge))
      throw refusal('INCOMING_AUTH_FAILED', 'The server refused the login', challenge);
    const response = cramMd5Response(user, pass, challenge.slice(1).trim());
    secret(response);
    const outcome = await command(response);
    if (/^\+( |$)/.test(outcome)) {
      // A second challenge is not CRAM-MD5: cancel the exchange (RFC 5034 §4), the server says -ERR.
      const cancelled = await command('*');
      throw refusal('INCOMING_AUTH_FAILED', 'The server refused the login', cancelled);
    }
    if (!isOk(outcome)) throw refusal('INCOMING_AUTH_FAILED', 'The server refused the login', outcome);
    return outcome;
  }

  /** Logs in as `credentials` say; the reply is the server's +OK line. */
  async function logIn(): Promise<{ reply: string; method: Pop3LoginMethod }> {
    assertSafeCredential(user, 'The user name');
    assertSafeCredential(pass, 'The password');
    if (spa) {
      if (timestamp) return { reply: await apop(timestamp), method: 'APOP' };
      if (!capaRead) await readCapabilities();
      if (!sasl.has('CRAM-MD5')) {
        const offered = [...sasl].join(' ') || 'none';
        throw new ReaderError(
          'SPA_UNAVAILABLE',
          `The server offers no challenge-response login (APOP or SASL CRAM-MD5); it offers SASL: ${offered}`,
        );
      }
      return { reply: await cramMd5(), method: 'CRAM-MD5' };
    }
    await expectOk(`USER ${user}`, 'INCOMING_AUTH_FAILED', 'The server refused the user name');
    return {
      reply: await expectOk(`PASS ${pass}`, 'INCOMING_AUTH_FAILED', 'The server refused the login'),
      method: 'USER',
    };
  }

  return {
    greet,
    startTls,
    readCapabilities,
    logIn,
    expectOk,
    redact,
    /** Whether the last CAPA listed this capability (false when there was no CAPA). */
    has: (capability: string) => capabilities?.has(capability.toUpperCase()) ?? false,
  };
}

export type Pop3Session = ReturnType<typeof createPop3Session>;
