/**
 * "Test settings" for an outgoing server: connect, TLS, EHLO, auth, MAIL FROM, RCPT TO, DATA, and on
 * the 354 the connection is closed without the terminating dot, so nothing is delivered.
 *
 * This is a small client of its own over net/tls (and the shared proxy connector) rather than
 * nodemailer, because nodemailer neither reports each step's reply nor can stop after 354: it pipes
 * the message and the final dot as soon as DATA is accepted.
 */
import type net from 'node:net';
import { hostname } from 'node:os';
import { hostNotAllowedIn } from '../net/address-policy.ts';
import { SmtpError, parseReply, socketErrorCode } from './errors.ts';
import { LineSocketError, closeSocket, createLineReader, openTcp, startTls } from './line-socket.ts';
import { ProxyConnectError } from './net-connect.ts';
import { recordStep } from './probe-step.ts';
import { chooseAuthMethod, offeredAuthMethods, runSasl } from './smtp-auth.ts';
import type { ProbeResult, ProbeStep, ProbeStepName, SmtpErrorCode, SmtpServerConfig } from './smtp-types.ts';

export type { ProbeResult, ProbeStep } from './smtp-types.ts';

/** Reads complete SMTP replies (multi-line ones joined by "\n"), the whole reply by one deadline. */
function createReplyReader(timeoutMs: number) {
  const lines = createLineReader({ timeoutMs, maxLineBytes: MAX_REPLY_LINE_BYTES });
  return {
    attach: lines.attach,
    detach: lines.detach,
    async read(): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      const reply: string[] = [];
      for (;;) {
        const line = await lines.readLine(deadline);
        reply.push(line);
        if (!/^\d{3}-/.test(line)) return reply.join('\n');
        if (reply.length >= MAX_REPLY_LINES) {
          throw new SmtpError('SMTP_PROTOCOL_ERROR', `A reply longer than ${MAX_REPLY_LINES} lines`, {
            transient: false,
          });
        }
      }
    },
  };
}

/** RFC 5321 §4.5.3.1.5 allows 512 bytes a reply line; servers that exceed it a little still pass. */
const MAX_REPLY_LINE_BYTES = 4096;
const MAX_REPLY_LINES = 200;

/** Refuses what would let an address or a name smuggle a second command into the session. */
function assertSafeArgument(value: string, what: string): void {
  if (/[\r\n<>]/.test(value)) {
    throw new SmtpError('SMTP_PROTOCOL_ERROR', `${what} contains a line break or angle bracket`, {
      transient: false,
    });
  }
}

const codeOf = (reply: string) => Number(reply.slice(0, 3));

export interface SmtpProbeOptions {
  /** Stop once logged in (or, with no login, after EHLO): server discovery needs no MAIL FROM. */
  stopAfterAuth?: boolean;
}

export async function probeSmtp(
  config: SmtpServerConfig,
  from: string,
  to: string,
  options: SmtpProbeOptions = {},
): Promise<ProbeResult> {
  const steps: ProbeStep[] = [];
  const reader = createReplyReader(config.timeoutMs);
  let socket: net.Socket | null = null;
  /** True while a session is up on the current socket and not in DATA: then QUIT makes sense. */
  let talking = false;

  /** Runs one step; a failure records the step, then ends the probe with the error's code. */
  const step = <T>(
    name: ProbeStepName,
    failCode: SmtpErrorCode,
    run: () => Promise<{ value: T; reply: string | null }>,
  ) => recordStep(steps, name, (error) => asStepError(error, failCode), run);

  /** A command whose reply must start with `expected`; any other reply fails the step with it. */
  async function command(
    line: string,
    name: string,
    expected: RegExp,
    failCode: SmtpErrorCode = 'SMTP_REJECTED',
  ) {
    socket?.write(`${line}\r\n`);
    const reply = await reader.read();
    if (!expected.test(reply)) {
      const parsed = parseReply(reply, name);
      throw new SmtpError(failCode, reply, {
        reply: parsed,
        transient: codeOf(reply) >= 400 && codeOf(reply) < 500,
      });
    }
    return { value: reply, reply };
  }

  try {
    const name = config.clientName ?? hostname();
    assertSafeArgument(name, 'The client name');
    assertSafeArgument(from, 'The sender address');
    assertSafeArgument(to, 'The recipient address');

    socket = await step('connect', 'SMTP_CONNECT_FAILED', async () => {
      const tcp = await openTcp(config);
      if (config.security === 'tls') return { value: tcp, reply: null };
      reader.attach(tcp);
      socket = tcp;
      const greeting = await reader.read();
      if (codeOf(greeting) !== 220) throw replyError(greeting, 'CONN');
      talking = true;
      return { value: tcp, reply: greeting };
    });

    if (config.security === 'tls') {
      const plain: net.Socket = socket;
      socket = await step('tls', 'SMTP_TLS_FAILED', async () => {
        const secure = await startTls(plain, config);
        reader.attach(secure);
        socket = secure;
        const greeting = await reader.read();
        if (codeOf(greeting) !== 220) throw replyError(greeting, 'CONN');
        talking = true;
        return { value: secure, reply: greeting };
      });
    }

    let ehlo = await step('ehlo', 'SMTP_PROTOCOL_ERROR', () => command(`EHLO ${name}`, 'EHLO', /^250/));

    if (config.security === 'starttls') {
      const plain: net.Socket = socket;
      socket = await step('tls', 'SMTP_TLS_FAILED', async () => {
        const { reply } = await command('STARTTLS', 'STARTTLS', /^220/, 'SMTP_TLS_FAILED');
        talking = false;
        reader.detach();
        const secure = await startTls(plain, config);
        reader.attach(secure);
        talking = true;
        return { value: secure, reply };
      });
      // RFC 3207: what the server said before TLS is forgotten; its offer is asked again.
      ehlo = await step('ehlo', 'SMTP_PROTOCOL_ERROR', () => command(`EHLO ${name}`, 'EHLO', /^250/));
    }

    const auth = config.auth;
    if (auth) {
      await step('auth', 'SMTP_AUTH_FAILED', async () => {
        const offered = offeredAuthMethods(ehlo);
        const method = chooseAuthMethod(offered, auth.spa);
        const offeredText = offered.length > 0 ? offered.join(' ') : 'none';
        if (!method && auth.spa) {
          throw new SmtpError(
            'SPA_UNAVAILABLE',
            `The server offers no challenge-response login (CRAM-MD5); it offers: ${offeredText}`,
            { transient: false },
          );
        }
        if (!method) {
          throw new SmtpError(
            'SMTP_AUTH_FAILED',
            `The server offers no login method we support; it offers: ${offeredText}`,
            {
              transient: false,
            },
          );
        }
        // Only the server's replies are kept: the commands carry the credentials.
        const outcome = await runSasl(method, auth.user, auth.pass, async (line) => {
          socket?.write(`${line}\r\n`);
          return reader.read();
        });
        if (!outcome.ok) {
          const reply = parseReply(outcome.reply, `AUTH ${method}`);
          throw new SmtpError('SMTP_AUTH_FAILED', outcome.reply, {
            reply,
            transient: reply.code != null && reply.code >= 400 && reply.code < 500,
          });
        }
        return { value: undefined, reply: outcome.reply };
      });
    }

    if (options.stopAfterAuth) return { ok: true, steps };
    await step('mail_from', 'SMTP_PROTOCOL_ERROR', () => command(`MAIL FROM:<${from}>`, 'MAIL FROM', /^250/));
    await step('rcpt_to', 'SMTP_PROTOCOL_ERROR', () => command(`RCPT TO:<${to}>`, 'RCPT TO', /^25[01]/));
    await step('data', 'SMTP_PROTOCOL_ERROR', async () => {
      talking = false;
      const result = await command('DATA', 'DATA', /^354/);
      return result;
    });
    return { ok: true, steps };
  } catch (error) {
    const smtpError = asStepError(error, 'SMTP_PROTOCOL_ERROR');
    return { ok: false, steps, error: { code: smtpError.code, reply: smtpError.reply } };
  } finally {
    // After 354 every byte would be message data: dropping the connection is the only way to stop,
    // and without the final dot the server delivers nothing. Before it, say goodbye politely.
    closeSocket(socket, talking ? 'QUIT\r\n' : null);
  }
}

function replyError(reply: string, command: string): SmtpError {
  const parsed = parseReply(reply, command);
  return new SmtpError('SMTP_REJECTED', reply, {
    reply: parsed,
    transient: parsed.code != null && parsed.code >= 400 && parsed.code < 500,
  });
}

function asStepError(error: unknown, failCode: SmtpErrorCode): SmtpError {
  if (error instanceof SmtpError) return error;
  const refused = hostNotAllowedIn(error);
  if (refused) return new SmtpError('HOST_NOT_ALLOWED', refused.message, { transient: true });
  if (error instanceof LineSocketError) {
    return error.kind === 'timeout'
      ? new SmtpError('SMTP_TIMEOUT', error.message, { transient: true })
      : new SmtpError('SMTP_PROTOCOL_ERROR', error.message, { transient: false });
  }
  if (error instanceof ProxyConnectError)
    return new SmtpError('SMTP_PROXY_FAILED', error.message, { transient: true });
  const e = error as Error & { code?: string };
  const code = failCode === 'SMTP_TLS_FAILED' ? 'SMTP_TLS_FAILED' : socketErrorCode(e);
  return new SmtpError(code, e.message ?? String(error), { transient: code !== 'SMTP_TLS_FAILED' });
}
