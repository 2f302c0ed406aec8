import type { RecipientResult, SmtpErrorCode, SmtpReply } from './smtp-types.ts';

export type { SmtpErrorCode, SmtpReply } from './smtp-types.ts';

export class SmtpError extends Error {
  override name = 'SmtpError';
  code: SmtpErrorCode;
  reply: SmtpReply | null;
  /** 4xx, timeouts, refused/dropped connections: retry later. 5xx: don't. Auth failures: neither (the caller pauses the account). */
  transient: boolean;
  /** True once the server had answered DATA with 354, i.e. the message may have been delivered. */
  dataStarted: boolean;
  /**
   * dataStarted and no verdict from the server on the message (the connection ended or timed out
   * after 354): it may or may not have been delivered, so it must not be retried automatically.
   * False when the server answered the end of DATA with a 4xx/5xx: then it certainly was not.
   */
  uncertain: boolean;
  /** For SMTP_ALL_RECIPIENTS_REJECTED: each recipient's RCPT TO reply. */
  recipients?: RecipientResult[];

  constructor(
    code: SmtpErrorCode,
    message: string,
    details: {
      reply?: SmtpReply | null;
      transient: boolean;
      dataStarted?: boolean;
      uncertain?: boolean;
      recipients?: RecipientResult[];
    },
  ) {
    super(message);
    this.code = code;
    this.reply = details.reply ?? null;
    this.transient = details.transient;
    this.dataStarted = details.dataStarted ?? false;
    this.uncertain = details.uncertain ?? false;
    if (details.recipients) this.recipients = details.recipients;
  }
}

const replyLine = /^(\d{3})(?:[ -]|$)(?:(\d\.\d{1,3}\.\d{1,3})(?:\s+|$))?/;

/**
 * Splits a raw reply ("550-5.1.1 first line\n550 5.1.1 second") into code, enhanced status and
 * text, so people see the words and the bounce classifier gets the codes without re-parsing.
 */
export function parseReply(raw: string, command: string | null): SmtpReply {
  const lines = raw
    .replace(/\r/g, '')
    .split('\n')
    .filter((line) => line.length > 0);
  const first = replyLine.exec(lines[0] ?? '');
  if (!first) return { code: null, enhanced: null, text: raw.trim(), command };
  const text = lines.map((line) => line.replace(replyLine, '')).join('\n');
  return { code: Number(first[1]), enhanced: first[2] ?? null, text, command };
}

/** 4xx asks to come back later; 5xx says don't. 421 (service closing) is a 4xx too. */
export function isTransientReply(reply: SmtpReply | null): boolean {
  return reply?.code != null && reply.code >= 400 && reply.code < 500;
}

/** Node's own codes for a certificate the client refused to trust. */
const certificateErrorCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

const connectErrorCodes = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'EDNS',
]);

/** Classifies a socket-level error (no SMTP reply) the same way for the sender and the probe. */
export function socketErrorCode(err: {
  code?: unknown;
  originalCode?: unknown;
  message?: unknown;
}): SmtpErrorCode {
  const codes = [err.originalCode, err.code].filter((c): c is string => typeof c === 'string');
  if (codes.includes('HOST_NOT_ALLOWED')) return 'HOST_NOT_ALLOWED';
  if (codes.some((c) => certificateErrorCodes.has(c) || c.startsWith('ERR_SSL') || c === 'ETLS'))
    return 'SMTP_TLS_FAILED';
  if (codes.some((c) => connectErrorCodes.has(c))) return 'SMTP_CONNECT_FAILED';
  if (codes.some((c) => c === 'ETIMEDOUT')) return 'SMTP_TIMEOUT';
  return 'SMTP_CONNECTION_LOST';
}

/** Errors that are about the connection rather than the message: retry later, whatever they are. */
export function isTransientCode(code: SmtpErrorCode): boolean {
  return (
    code === 'SMTP_CONNECT_FAILED' ||
    code === 'SMTP_TIMEOUT' ||
    code === 'SMTP_CONNECTION_LOST' ||
    code === 'SMTP_PROXY_FAILED' ||
    // like a refused connection: retried with backoff (the settings or DNS may be fixed meanwhile)
    // while the account's health says why
    code === 'HOST_NOT_ALLOWED'
  );
}
