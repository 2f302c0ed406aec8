/** The shapes shared by the SMTP sender, the probe and their callers. No database, no nodemailer. */

import type { HostPolicy } from '../net/address-policy.ts';

export type Security = 'none' | 'starttls' | 'tls';

export interface ProxyConfig {
  type: 'socks5' | 'http';
  host: string;
  port: number;
  username: string | null;
  password: string | null;
}

export interface SmtpServerConfig {
  host: string;
  port: number;
  security: Security;
  /** spa: challenge-response only (CRAM-MD5); the password never crosses the wire. */
  auth: null | { user: string; pass: string; spa: boolean };
  proxy: null | ProxyConfig;
  /** Connection, greeting and socket timeouts. */
  timeoutMs: number;
  /** Extra CA certificates (PEM) to trust besides the system's and NODE_EXTRA_CA_CERTS; tests pass their CA here. */
  ca?: string | Buffer;
  /** EHLO name. */
  clientName?: string;
  /**
   * Which addresses the server and the proxy may resolve to, checked at every connection
   * (HOST_NOT_ALLOWED otherwise): public ones only for servers a user names.
   */
  hostPolicy: HostPolicy;
}

/** The SMTP server's own words, as evidence for people and for the bounce classifier. */
export interface SmtpReply {
  code: number | null;
  /** The enhanced status code (RFC 3463) the reply starts with, e.g. "5.1.1". */
  enhanced: string | null;
  /** The reply text without the code and the enhanced status; the lines of a multi-line reply joined by "\n". */
  text: string;
  /** The command the reply answers ("MAIL FROM", "RCPT TO", "DATA", "AUTH CRAM-MD5", "CONN" for the greeting…). */
  command: string | null;
}

export interface RecipientResult {
  address: string;
  accepted: boolean;
  /** The reply to RCPT TO for a rejected recipient; null for an accepted one (nodemailer keeps no 250s). */
  reply: SmtpReply | null;
}

export interface SendResult {
  messageId: string;
  /** The reply to the end of DATA. */
  reply: SmtpReply;
  recipients: RecipientResult[];
}

export type SmtpErrorCode =
  | 'SMTP_AUTH_FAILED'
  | 'SPA_UNAVAILABLE'
  | 'SMTP_CONNECT_FAILED'
  | 'SMTP_TLS_FAILED'
  | 'SMTP_TIMEOUT'
  | 'SMTP_CONNECTION_LOST'
  | 'SMTP_REJECTED'
  | 'SMTP_ALL_RECIPIENTS_REJECTED'
  | 'SMTP_PROXY_FAILED'
  | 'SMTP_PROTOCOL_ERROR'
  /** The server's (or the proxy's) address is one the host policy refuses (src/net/address-policy.ts). */
  | 'HOST_NOT_ALLOWED';

export interface OutgoingMessage {
  /** MAIL FROM is the account address (RFC 5321 §4.5.5: delivery reports go there). */
  envelope: { from: string; to: string[] };
  /**
   * RFC 3461 ENVID, sent where the server offers DSN (with RET=HDRS, so a bounce returns the
   * headers only): a DSN quotes it back, which ties the bounce to this message.
   */
  envelopeId?: string;
  /** The complete RFC 5322 message (from compose.ts). */
  raw: Buffer;
  messageId: string;
}

export interface SmtpSenderPool {
  /**
   * Sends through a pooled connection for `poolKey` (an account id), at most `maxConnections` per
   * key. `onDataStart` is awaited after the server's 354 and before the first byte of the message
   * goes out, so the caller can durably record that delivery may happen. Partial RCPT rejection:
   * the accepted recipients still get the message; each recipient's result is reported.
   */
  send(
    poolKey: string,
    config: SmtpServerConfig,
    message: OutgoingMessage,
    onDataStart?: () => Promise<void>,
  ): Promise<SendResult>;
  /** Drops the pool of one key (settings or password changed) or all. */
  close(poolKey?: string): Promise<void>;
}

export type ProbeStepName = 'connect' | 'tls' | 'ehlo' | 'auth' | 'mail_from' | 'rcpt_to' | 'data';

export interface ProbeStep {
  step: ProbeStepName;
  ok: boolean;
  ms: number;
  /** The server's reply as it sent it (code included), or what went wrong when it did not answer. Never a secret. */
  reply: string | null;
}

export interface ProbeResult {
  ok: boolean;
  steps: ProbeStep[];
  error?: { code: SmtpErrorCode; reply: SmtpReply | null };
}
