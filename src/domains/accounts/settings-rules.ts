import type { FieldErrors } from '../../errors.ts';
import type { AccountType, EffectiveSettings, StoredSettings } from './accounts.ts';

const pop3Ports = [110, 995];
const imapPorts = [143, 993];
const smtpPorts = [25, 465, 587];
const implicitTlsPorts = [465, 993, 995];
const plainOrStarttlsPorts = [25, 587, 110, 143];

function portProblem(
  port: number,
  security: string,
  own: number[],
  others: [string, number[]][],
): string | null {
  for (const [protocol, ports] of others) {
    if (ports.includes(port) && !own.includes(port)) return `${port} is a ${protocol} port`;
  }
  if (implicitTlsPorts.includes(port) && security !== 'tls') {
    return `port ${port} expects TLS on connect; set security to "tls" or pick another port`;
  }
  if (plainOrStarttlsPorts.includes(port) && security === 'tls') {
    return `port ${port} does not speak TLS on connect; use "starttls" there, or port ${own.find((p) => implicitTlsPorts.includes(p))}`;
  }
  return null;
}

/**
 * The combinations no server could work with, checked on the settings in effect (defaults applied),
 * each named by its field path. Field-by-field checks (types, ranges, formats) are the schema's.
 */
export function settingsProblems(
  type: AccountType,
  stored: StoredSettings,
  settings: EffectiveSettings,
): FieldErrors {
  const fields: FieldErrors = {};
  const { smtp, incoming } = settings;

  if (type === 'marketing' && stored.smtp) {
    fields.smtp = 'must be left out: a marketing account sends through the platform relay';
  }
  if (type === 'own' && !smtp) fields.smtp = 'is required: an own account sends through its SMTP server';

  if (smtp && type === 'own') {
    if (!stored.smtp?.host) fields['smtp.host'] = 'is required';
    const problem = portProblem(smtp.port, smtp.security, smtpPorts, [
      ['POP3', pop3Ports],
      ['IMAP', imapPorts],
    ]);
    if (problem) fields[stored.smtp?.port ? 'smtp.port' : 'smtp.security'] = problem;
    if (smtp.requiresAuth && smtp.useIncomingCredentials) {
      if (incoming.protocol === 'none' || !incoming.username) {
        fields['smtp.useIncomingCredentials'] = 'needs an incoming server with a user name to borrow from';
      }
    } else if (smtp.requiresAuth && !smtp.username) {
      fields['smtp.username'] = 'is required when the outgoing server requires authentication';
    }
  }

  if (incoming.protocol === 'pop3' || incoming.protocol === 'imap') {
    const protocol = incoming.protocol;
    if (!incoming.host) fields['incoming.host'] = `is required for ${protocol.toUpperCase()}`;
    if (!incoming.username) fields['incoming.username'] = `is required for ${protocol.toUpperCase()}`;
    if (incoming.url) fields['incoming.url'] = 'is for JMAP only; POP3 and IMAP take a host and port';
    const problem = portProblem(
      incoming.port!,
      incoming.security,
      protocol === 'pop3' ? pop3Ports : imapPorts,
      [['SMTP', smtpPorts], protocol === 'pop3' ? ['IMAP', imapPorts] : ['POP3', pop3Ports]],
    );
    if (problem) fields[stored.incoming?.port ? 'incoming.port' : 'incoming.security'] = problem;
    if (protocol === 'pop3' && stored.incoming?.folders?.length) {
      fields['incoming.folders'] = 'POP3 has only the inbox; folders are for IMAP and JMAP';
    }
  }

  if (incoming.protocol === 'jmap') {
    if (!incoming.url && !incoming.host)
      fields['incoming.url'] =
        'is required for JMAP: the session URL, such as https://mail.example.com/jmap, or a host to find it at https://host/.well-known/jmap';
    if (incoming.url && (incoming.host || stored.incoming?.port))
      fields['incoming.host'] = 'give JMAP a url or a host, not both';
    if (!incoming.username && incoming.authMethod === 'password')
      fields['incoming.username'] = 'is required for JMAP with a password';
    if (incoming.security === 'starttls')
      fields['incoming.security'] = 'JMAP runs over HTTPS ("tls") or plain HTTP ("none")';
    else if (incoming.url && incoming.url.startsWith('https:') !== (incoming.security === 'tls')) {
      fields['incoming.security'] = 'must match the url: "tls" for https, "none" for http';
    }
  }

  if (incoming.authMethod === 'token' && incoming.protocol !== 'jmap') {
    fields['incoming.authMethod'] = 'an access token is for JMAP; IMAP and POP3 log in with a password';
  }

  if (incoming.protocol !== 'none') {
    if (incoming.protocol !== 'pop3' && !incoming.leaveOnServer) {
      fields['incoming.leaveOnServer'] =
        'IMAP and JMAP always leave mail on the server; use removeAfterDays or removeWhenDeleted to remove it';
    }
    if (!incoming.leaveOnServer && (incoming.removeAfterDays !== null || incoming.removeWhenDeleted)) {
      fields[incoming.removeAfterDays !== null ? 'incoming.removeAfterDays' : 'incoming.removeWhenDeleted'] =
        'only applies when a copy is left on the server';
    }
  }
  return fields;
}
