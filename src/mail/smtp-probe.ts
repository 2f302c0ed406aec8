/**
 * "Test settings" for an outgoing server: connect, TLS, EHLO, auth, MAIL FROM, RCPT TO, DATA, and on
 * the 354 the connection is closed without the terminating dot, so nothing is delivered.
 *
 * This is a small client of its own over net/tls (and the shared proxy connector) rather than
 * nodemailer, because nodemailer neither reports each step's reply nor can stop after 354: it pipes
 * the message and the final dot as soon as DATA is accepted.
 */
import net from 'node:net';
import tls from 'node:tls';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SmtpError, parseReply, socketErrorCode } from './errors.ts';
import { ProxyConnectError, connectThroughProxy, tlsOptionsFor } from './net-connect.ts';
import { chooseAuthMethod, offeredAuthMethods, runSasl } from './smtp-auth.ts';
import type { ProbeResult, ProbeStep, ProbeStepName, SmtpErrorCode, SmtpServerConfig } from './smtp-types.ts';

export type { ProbeResult, ProbeStep } from './smtp-types.ts';

/** Reads complete SMTP replies (multi-line ones joined by "\n") from whichever socket is current. */
function createReplyReader(timeoutMs: number) {
  let socket: net.Socket | null = null;
  let buffer = '';
  let lines: string[] = [];
  const replies: string[] = [];
  let failure: Error | null = null;
  let waiter: { resolve: (reply: string) => void; reject: (error: Error) => void } | null = null;

  const settle = () => {
    if (!waiter) return;
    const current = waiter;
    if (replies.length > 0) {
      waiter = null;
      current.resolve(replies.shift() as string);
    } else if (failure) {
      waiter = null;
      current.reject(failure);
    }
  };
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      if (!/^\d{3}-/.test(line)) {
        replies.push(lines.join('\n'));
        lines = [];
      }
    }
    settle();
  };
  const onError = (error: Error) => {
    failure ??= error;
    settle();
  };
  const onClose = () => {
    failure ??= Object.assign(new Error('The server closed the connection'), { code: 'ECONNRESET' });
    settle();
  };

  return {
    /** Switches to a new socket (after STARTTLS), dropping anything read in plain text (RFC 3207 §6). */
    attach(next: net.Socket) {
      if (socket) {
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
      }
      socket = next;
      buffer = '';
      lines = [];
      replies.length = 0;
      failure = null;
      next.on('data', onData);
      next.on('error', onError);
      next.on('close', onClose);
    },
    /** Stops listening to the plain socket while the TLS layer takes it over. */
    detach() {
      if (!socket) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket = null;
    },
    read(): Promise<string> {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = null;
          reject(timeoutError('Waiting for the reply', timeoutMs));
        }, timeoutMs);
        waiter = {
          resolve: (reply) => {
            clearTimeout(timer);
            resolve(reply);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        settle();
      });
    },
  };
}

function timeoutError(what: string, timeoutMs: number): SmtpError {
  return new SmtpError('SMTP_TIMEOUT', `${what} timed out after ${timeoutMs} ms`, { transient: true });
}

/** Resolves with the socket once `event` fires; destroys it on timeout. */
function ready<T extends net.Socket>(
  socket: T,
  event: 'connect' | 'secureConnect',
  timeoutMs: number,
  what: string,
) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(what, timeoutMs));
    }, timeoutMs);
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
    socket.once(event, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function openTcp(config: SmtpServerConfig): Promise<net.Socket> {
  // The proxy connectors time their own handshakes out.
  if (config.proxy) return connectThroughProxy(config.proxy, config.host, config.port, config.timeoutMs);
  return ready(
    net.connect({ host: config.host, port: config.port }),
    'connect',
    config.timeoutMs,
    'Connecting',
  );
}

function startTls(socket: net.Socket, config: SmtpServerConfig): Promise<tls.TLSSocket> {
  const secure = tls.connect({ socket, host: config.host, ...tlsOptionsFor(config.host, config.ca) });
  return ready(secure, 'secureConnect', config.timeoutMs, 'The TLS handshake');
}

/** Refuses what would let an address or a name smuggle a second command into the session. */
function assertSafeArgument(value: string, what: string): void {
  if (/[\r\n<>]/.test(value)) {
    throw new SmtpError('SMTP_PROTOCOL_ERROR', `${what} contains a line break or angle bracket`, {
      transient: false,
    });
  }
}

const codeOf = (reply: string) => Number(reply.slice(0, 3));

export async function probeSmtp(config: SmtpServerConfig, from: string, to: string): Promise<ProbeResult> {
  const steps: ProbeStep[] = [];
  const reader = createReplyReader(config.timeoutMs);
  let socket: net.Socket | null = null;
  /** True while a session is up on the current socket and not in DATA: then QUIT makes sense. */
  let talking = false;

  /** Runs one step; a failure records the step, then ends the probe with the error's code. */
  async function step<T>(
    name: ProbeStepName,
    failCode: SmtpErrorCode,
    run: () => Promise<{ value: T; reply: string | null }>,
  ): Promise<T> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    try {
      const { value, reply } = await run();
      steps.push({ step: name, ok: true, ms: ms(), reply });
      return value;
    } catch (error) {
      const smtpError = asStepError(error, failCode);
      steps.push({ step: name, ok: false, ms: ms(), reply: describe(smtpError) });
      throw smtpError;
    }
  }

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
    const last = socket;
    if (last && !last.destroyed) {
      if (talking && last.writable) {
        last.end('QUIT\r\n', () => last.destroy());
        setTimeout(() => last.destroy(), 1000).unref();
      } else {
        last.destroy();
      }
    }
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
  if (error instanceof ProxyConnectError)
    return new SmtpError('SMTP_PROXY_FAILED', error.message, { transient: true });
  const e = error as Error & { code?: string };
  const code = failCode === 'SMTP_TLS_FAILED' ? 'SMTP_TLS_FAILED' : socketErrorCode(e);
  return new SmtpError(code, e.message ?? String(error), { transient: code !== 'SMTP_TLS_FAILED' });
}

/** The step's words: the server's reply when it gave one, else what went wrong (never a secret). */
function describe(error: SmtpError): string {
  return error.message;
}
