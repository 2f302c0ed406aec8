import type { AccountSender } from './domains/accounts/accounts.service.ts';
import type { HealthState } from './domains/accounts/accounts.ts';
import type { IncomingErrorCode } from './mail/incoming-probe.ts';
import type { ReaderConfig, ReaderErrorCode } from './mail/reader.ts';
import type { SmtpErrorCode, SmtpServerConfig } from './mail/smtp-types.ts';
import { anyHost, type HostPolicy } from './net/address-policy.ts';

/** The part of an account the protocol adapters need, whether saved or being tried out. */
export type ServerSettings = Pick<AccountSender, 'settings' | 'passwords'>;

export type MissingPassword = { missingPassword: true };

/**
 * Maps an account's outgoing settings to the SMTP adapter's configuration: the wiring between a
 * domain that knows no SMTP and an adapter that knows no accounts. `hostPolicy` is the
 * configuration's (MAILROOM_ALLOW_PRIVATE_HOSTS): the server and the proxy are the user's to name.
 */
export function smtpConfigFor(
  { settings, passwords }: ServerSettings,
  hostPolicy: HostPolicy,
): SmtpServerConfig | MissingPassword {
  const smtp = settings.smtp!;
  let auth: SmtpServerConfig['auth'] = null;
  if (smtp.requiresAuth) {
    const user = smtp.useIncomingCredentials ? settings.incoming.username : smtp.username;
    const pass = smtp.useIncomingCredentials ? passwords.incoming : passwords.smtp;
    if (!user || !pass) return { missingPassword: true };
    auth = { user, pass, spa: smtp.spa };
  }
  return {
    host: smtp.host,
    port: smtp.port,
    security: smtp.security,
    auth,
    proxy: smtp.proxy && { ...smtp.proxy, password: passwords.proxy },
    timeoutMs: smtp.timeoutMs,
    hostPolicy,
  };
}

const healthForError: Partial<Record<SmtpErrorCode, HealthState>> = {
  SMTP_AUTH_FAILED: 'auth_error',
  SPA_UNAVAILABLE: 'auth_error',
  SMTP_CONNECT_FAILED: 'connect_error',
  SMTP_PROXY_FAILED: 'connect_error',
  SMTP_CONNECTION_LOST: 'connect_error',
  SMTP_TLS_FAILED: 'tls_error',
  SMTP_TIMEOUT: 'timeout',
  HOST_NOT_ALLOWED: 'connect_error',
};

/** How an SMTP failure shows on the account's outgoing health; a refused message says nothing of it. */
export function outgoingHealthFor(code: SmtpErrorCode): HealthState | undefined {
  return healthForError[code];
}

/**
 * Maps an account's incoming settings to a reader's configuration (IMAP today; POP3 and JMAP
 * next), or says the password is not at hand.
 */
export function readerConfigFor(
  { settings, passwords }: ServerSettings,
  hostPolicy: HostPolicy,
): ReaderConfig | MissingPassword {
  const incoming = settings.incoming;
  const bearer = incoming.authMethod === 'token';
  if ((!incoming.username && !bearer) || !passwords.incoming) return { missingPassword: true };
  return {
    host: incoming.host ?? '',
    port: incoming.port ?? 0,
    security: incoming.security,
    user: incoming.username ?? '',
    authScheme: bearer ? 'bearer' : 'basic',
    pass: passwords.incoming,
    spa: incoming.spa,
    timeoutMs: incoming.timeoutMs,
    folders: incoming.folders,
    url: incoming.url,
    hostPolicy,
  };
}

const incomingHealthForError: Record<ReaderErrorCode | IncomingErrorCode, HealthState> = {
  INCOMING_AUTH_FAILED: 'auth_error',
  SPA_UNAVAILABLE: 'auth_error',
  INCOMING_CONNECT_FAILED: 'connect_error',
  INCOMING_PROXY_FAILED: 'connect_error',
  INCOMING_TLS_FAILED: 'tls_error',
  INCOMING_TIMEOUT: 'timeout',
  INCOMING_FOLDER_NOT_FOUND: 'connect_error',
  INCOMING_PROTOCOL_ERROR: 'connect_error',
  HOST_NOT_ALLOWED: 'connect_error',
};

/** How a reader's (or the test settings probe's) failure shows on the account's incoming health. */
export function incomingHealthFor(code: ReaderErrorCode | IncomingErrorCode): HealthState {
  return incomingHealthForError[code];
}

/**
 * The platform relay (MAILROOM_RELAY_URL) as the SMTP adapter's configuration: smtps:// is TLS on
 * connect, smtp:// requires STARTTLS; the credentials come from the URL. The operator names it,
 * not a user, so it may be on the internal network: no address policy.
 */
export function relayConfigFrom(relayUrl: string): SmtpServerConfig {
  const url = new URL(relayUrl);
  const tlsOnConnect = url.protocol === 'smtps:';
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : tlsOnConnect ? 465 : 587,
    security: tlsOnConnect ? 'tls' : 'starttls',
    auth: url.username
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password), spa: false }
      : null,
    proxy: null,
    timeoutMs: 30_000,
    hostPolicy: anyHost,
  };
}
