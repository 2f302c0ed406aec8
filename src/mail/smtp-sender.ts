import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type MailMessage from 'nodemailer/lib/mailer/mail-message';
import MimeNode from 'nodemailer/lib/mime-node';
import SMTPPool from 'nodemailer/lib/smtp-pool';
import { SmtpError, isTransientCode, isTransientReply, parseReply, socketErrorCode } from './errors.ts';
import { hostNotAllowedIn } from '../net/address-policy.ts';
import { openTcp } from './line-socket.ts';
import { sharedTlsOptionsFor } from './net-connect.ts';
import { chooseAuthMethod, runSasl } from './smtp-auth.ts';
import type {
  OutgoingMessage,
  RecipientResult,
  SendResult,
  SmtpReply,
  SmtpSenderPool,
  SmtpServerConfig,
} from './smtp-types.ts';

export type * from './smtp-types.ts';
export { SmtpError } from './errors.ts';

interface Logger {
  debug(...a: unknown[]): void;
  warn(...a: unknown[]): void;
}

/** What nodemailer hangs on its errors (see nodemailer's errors.js and smtp-connection). */
interface NodemailerError extends Error {
  code?: string;
  originalCode?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  recipient?: string;
  rejectedErrors?: NodemailerError[];
  [spaUnavailable]?: true;
}

/** Marks our own "CRAM-MD5 not offered" error, which nodemailer wraps as a plain EAUTH. */
const spaUnavailable = Symbol('spaUnavailable');

/** Per send: whether DATA began, and the caller's hook for that moment. */
interface SendState {
  onDataStart: (() => Promise<void>) | undefined;
  dataStarted: boolean;
  hookFailed: boolean;
  hookError: unknown;
}

/**
 * The message as nodemailer's pool reads it, for the complete raw message we already composed:
 * going through `Mailer.sendMail` would compile that message a second time (a MailComposer, a
 * MIME tree and a pipeline of streams per send, a fifth of the worker's time in the bench).
 */
interface PoolMail {
  data: { dsn?: { envid: string; ret: 'HDRS' } };
  message: {
    getEnvelope(): { from: string | false; to: string[] };
    messageId(): string;
    getHeader(key: string): string | undefined;
    createReadStream(): Readable;
  };
}

/**
 * A stream that nobody reads before the server's 354: the pool pipes the message into the socket
 * only once DATA is accepted, so the first read here is the moment delivery becomes possible. The
 * caller's hook runs then, before a byte of the message goes out.
 */
function gateUntilDataStart(raw: Buffer, state: SendState): Readable {
  let started = false;
  const stream = new Readable({
    read() {
      if (started) return;
      started = true;
      state.dataStarted = true;
      if (!state.onDataStart) {
        stream.push(raw);
        stream.push(null);
        return;
      }
      state.onDataStart().then(
        () => {
          stream.push(raw);
          stream.push(null);
        },
        (error: unknown) => {
          state.hookFailed = true;
          state.hookError = error;
          // nodemailer rewrites the code of the error it is handed; keep the caller's intact.
          stream.destroy(new Error('onDataStart failed'));
        },
      );
    },
  });
  return stream;
}

/** nodemailer's own reading of envelope addresses (IDN domains to punycode, stray characters out). */
const envelopeReader = new MimeNode();
function normalisedEnvelope(from: string, to: string[]): { from: string | false; to: string[] } {
  const envelope = envelopeReader.setEnvelope({ from, to }).getEnvelope();
  return { from: envelope.from, to: [...envelope.to] };
}

/** Login through nodemailer's customAuth, so that we, not nodemailer, choose the mechanism. */
function customAuthHandler(auth: NonNullable<SmtpServerConfig['auth']>) {
  return async (ctx: {
    authMethods: string[];
    sendCommand: (command: string) => Promise<{ response: string }>;
  }): Promise<void> => {
    const method = chooseAuthMethod(ctx.authMethods, auth.spa);
    if (!method) {
      const offered = ctx.authMethods.length > 0 ? ctx.authMethods.join(' ') : 'none';
      const error: NodemailerError = new Error(
        auth.spa
          ? `The server offers no challenge-response login (CRAM-MD5); it offers: ${offered}`
          : `The server offers no login method we support; it offers: ${offered}`,
      );
      if (auth.spa) error[spaUnavailable] = true;
      throw error;
    }
    const outcome = await runSasl(method, auth.user, auth.pass, async (command) => {
      return (await ctx.sendCommand(command)).response;
    });
    if (!outcome.ok) throw new Error(`Authentication with ${method} failed`);
  };
}

function transportOptions(config: SmtpServerConfig, maxConnections: number): SMTPPool.Options {
  const { auth } = config;
  const handler = auth ? customAuthHandler(auth) : undefined;
  return {
    pool: true,
    maxConnections,
    host: config.host,
    port: config.port,
    secure: config.security === 'tls',
    requireTLS: config.security === 'starttls',
    ignoreTLS: config.security === 'none',
    tls: sharedTlsOptionsFor(config.host, config.ca),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    dnsTimeout: config.timeoutMs,
    ...(config.clientName ? { name: config.clientName } : {}),
    ...(auth && handler
      ? {
          // The method names only label nodemailer's errors: every one of them runs our handler,
          // which picks the mechanism from what the server offers (CRAM-MD5 alone with spa).
          auth: {
            type: 'custom',
            user: auth.user,
            pass: auth.pass,
            ...(auth.spa ? { method: 'CRAM-MD5' } : {}),
          },
          customAuth: { PLAIN: handler, LOGIN: handler, 'CRAM-MD5': handler },
          // Log in even when EHLO offers no AUTH: the handler then fails clearly instead of
          // the message going out unauthenticated.
          forceAuth: true,
        }
      : {}),
    // Every connection's socket is ours, direct or through the proxy: nodemailer resolves names
    // itself with no hook for the address policy, so it is handed a socket opened to addresses
    // that were checked (HOST_NOT_ALLOWED otherwise), and only adds TLS and SMTP on top.
    getSocket: (_options, callback) => {
      openTcp(config).then(
        (socket) => callback(null, { connection: socket }),
        (error: Error & { code?: string }) => {
          if (hostNotAllowedIn(error) || error.code === 'EPROXY') return callback(error);
          // as nodemailer reports a socket that would not connect: ECONNECTION, Node's code kept
          callback(
            Object.assign(new Error(error.message), { code: 'ECONNECTION', originalCode: error.code }),
          );
        },
      );
    },
    logger: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  } as SMTPPool.Options;
}

/** Settings and password in one digest, so a changed account never reuses a stale pool. Memory only. */
function fingerprint(config: SmtpServerConfig): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...config, ca: config.ca?.toString() ?? null }))
    .digest('hex');
}

function sameAddress(a: unknown, b: string): boolean {
  const address = typeof a === 'string' ? a : (a as { address?: string } | null)?.address;
  return typeof address === 'string' && address.toLowerCase() === b.toLowerCase();
}

function recipientResults(
  to: string[],
  rejected: unknown[],
  rejectedErrors: NodemailerError[],
): RecipientResult[] {
  return to.map((address) => {
    const error = rejectedErrors.find((e) => sameAddress(e.recipient, address));
    if (error) {
      return {
        address,
        accepted: false,
        reply:
          typeof error.response === 'string' ? parseReply(error.response, error.command ?? 'RCPT TO') : null,
      };
    }
    return { address, accepted: !rejected.some((r) => sameAddress(r, address)), reply: null };
  });
}

/** Maps nodemailer's error into ours; `dataStarted` comes from our own gate, not from guessing. */
export function toSmtpError(err: unknown, dataStarted: boolean, to: string[]): SmtpError {
  if (err instanceof SmtpError) return err;
  const refused = hostNotAllowedIn(err);
  if (refused) return new SmtpError('HOST_NOT_ALLOWED', refused.message, { transient: true, dataStarted });
  const e = (err instanceof Error ? err : new Error(String(err))) as NodemailerError;
  const reply: SmtpReply | null =
    typeof e.response === 'string' && e.response.length > 0
      ? parseReply(e.response, e.command ?? null)
      : null;
  // Whether the server gave its verdict on the message itself: then it is certainly not delivered.
  const answeredMessage = reply?.command === 'DATA' && e.code === 'EMESSAGE';
  const base = { reply, dataStarted, uncertain: dataStarted && !answeredMessage };
  const make = (code: SmtpError['code'], transient: boolean, recipients?: RecipientResult[]) =>
    new SmtpError(code, e.message, { ...base, transient, ...(recipients ? { recipients } : {}) });
  if (e[spaUnavailable]) return make('SPA_UNAVAILABLE', false);
  switch (e.code) {
    case 'EAUTH':
      // A 454 "temporary authentication failure" is the server's trouble, not the password's.
      return make('SMTP_AUTH_FAILED', isTransientReply(reply));
    case 'EENVELOPE':
      if (e.command === 'RCPT TO' && Array.isArray(e.rejectedErrors)) {
        // nodemailer puts a 4xx first when any recipient was only deferred: retry then.
        return make(
          'SMTP_ALL_RECIPIENTS_REJECTED',
          isTransientReply(reply),
          recipientResults(to, to, e.rejectedErrors),
        );
      }
      return reply?.code != null
        ? make('SMTP_REJECTED', isTransientReply(reply))
        : make('SMTP_PROTOCOL_ERROR', false);
    case 'EMESSAGE':
    case 'EPROTOCOL':
      return reply?.code != null
        ? make('SMTP_REJECTED', isTransientReply(reply))
        : make('SMTP_PROTOCOL_ERROR', false);
    case 'ETLS':
      // A refused STARTTLS or an untrusted certificate will not fix itself, unless the server said 4xx.
      return make('SMTP_TLS_FAILED', isTransientReply(reply));
    case 'EPROXY':
      return make('SMTP_PROXY_FAILED', true);
    case 'ETIMEDOUT':
      return make('SMTP_TIMEOUT', true);
    case 'ECONNECTION':
    case 'ESOCKET':
    case 'EDNS': {
      if (reply?.code != null) return make('SMTP_REJECTED', isTransientReply(reply));
      const code = socketErrorCode(e);
      return make(code, isTransientCode(code));
    }
    case undefined:
      // "Connection pool was closed" (close() with sends still queued) and other bare errors.
      return make('SMTP_CONNECTION_LOST', true);
    default:
      return make('SMTP_PROTOCOL_ERROR', false);
  }
}

export function createSmtpSenderPool(options?: {
  maxConnectionsPerKey?: number;
  logger?: Logger;
}): SmtpSenderPool {
  const maxConnections = options?.maxConnectionsPerKey ?? 2;
  const logger = options?.logger;
  const pools = new Map<string, { fingerprint: string; transporter: SMTPPool }>();

  function drop(poolKey: string): void {
    const entry = pools.get(poolKey);
    if (!entry) return;
    pools.delete(poolKey);
    // Deliveries in flight finish; sends still queued fail with SMTP_CONNECTION_LOST (transient).
    entry.transporter.close();
    logger?.debug({ poolKey }, 'SMTP pool closed');
  }

  function poolFor(poolKey: string, config: SmtpServerConfig): SMTPPool {
    const print = fingerprint(config);
    const existing = pools.get(poolKey);
    if (existing?.fingerprint === print) return existing.transporter;
    if (existing) drop(poolKey);
    const transporter = new SMTPPool(transportOptions(config, maxConnections));
    transporter.on('error', (error: Error) => {
      // Without a listener an 'error' event would end the process; the send callbacks carry the real outcome.
      logger?.warn(
        { poolKey, err: { code: (error as NodemailerError).code, message: error.message } },
        'SMTP pool error',
      );
    });
    pools.set(poolKey, { fingerprint: print, transporter });
    logger?.debug({ poolKey, host: config.host, port: config.port, maxConnections }, 'SMTP pool created');
    return transporter;
  }

  /** Straight to the pool: the message is composed already, and nodemailer need not compile it again. */
  function deliver(transporter: SMTPPool, mail: PoolMail): Promise<SMTPPool.SentMessageInfo> {
    return new Promise((resolve, reject) => {
      transporter.send(mail as unknown as MailMessage<SMTPPool.SentMessageInfo>, (error, info) =>
        error ? reject(error) : resolve(info!),
      );
    });
  }

  return {
    async send(poolKey, config, message: OutgoingMessage, onDataStart) {
      const to = [...new Map(message.envelope.to.map((a) => [a.toLowerCase(), a])).values()];
      const state: SendState = { onDataStart, dataStarted: false, hookFailed: false, hookError: undefined };
      const transporter = poolFor(poolKey, config);
      const envelope = normalisedEnvelope(message.envelope.from, to);
      try {
        const info = await deliver(transporter, {
          data: message.envelopeId ? { dsn: { envid: message.envelopeId, ret: 'HDRS' } } : {},
          message: {
            getEnvelope: () => envelope,
            messageId: () => message.messageId,
            getHeader: (key) => (key.toLowerCase() === 'message-id' ? message.messageId : undefined),
            createReadStream: () => gateUntilDataStart(message.raw, state),
          },
        });
        const rejected = (info.rejected ?? []) as unknown[];
        const rejectedErrors = ((info as { rejectedErrors?: NodemailerError[] }).rejectedErrors ??
          []) as NodemailerError[];
        const result: SendResult = {
          messageId: message.messageId,
          reply: parseReply(String(info.response ?? ''), 'DATA'),
          recipients: recipientResults(to, rejected, rejectedErrors),
        };
        return result;
      } catch (error) {
        // The caller's own failure to record the start: nothing was sent after 354 and the
        // connection was dropped without the final dot, so the message is certainly not delivered.
        if (state.hookFailed) throw state.hookError;
        throw toSmtpError(error, state.dataStarted, to);
      }
    },
    async close(poolKey) {
      if (poolKey !== undefined) return drop(poolKey);
      for (const key of [...pools.keys()]) drop(key);
    },
  };
}
