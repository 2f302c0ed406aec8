import { providerReason } from './provider.ts';
import { isOwnUserUnknown, normaliseDiagnostic, reasonFromText } from './reason-text.ts';
import { exactReasonForStatus, generalReasonForStatus } from './status-code.ts';
import type { SmtpCommand } from './smtp-command.ts';
import type { BounceType, Reason } from './types.ts';

export interface ReasonEvidence {
  action: string | null;
  status: string | null;
  replyCode: string | null;
  diagnostic: string | null;
  /** The RFC 3464 diagnostic type ("smtp", "x-unix", ...), lowercased. */
  diagnosticType: string | null;
  command: SmtpCommand | null;
  /** The remote MTA, the recipient's domain and the notice sender's domain, lowercased, for provider rules. */
  hosts?: readonly string[];
}

/** Wording that explains a "bad mailbox" status better than the status does. */
const OVERRIDES_USER_UNKNOWN: ReadonlySet<Reason> = new Set([
  'norelaying',
  'blocked',
  'mailboxfull',
  'hasmoved',
  'rejected',
  'notaccept',
  'mailererror',
  'suspend',
  'requireptr',
  'authfailure',
  'spamdetected',
  'virusdetected',
  'filtered',
  'speeding',
  'toomanyconn',
]);

/**
 * Standards first: a status code with one exact meaning decides. Then the wording of the diagnostic,
 * which says more than the generic codes most servers send, weighed against the status class and
 * the SMTP stage; then what the kind of notice implies.
 *
 * "User unknown" is only trusted as such when the server said it to RCPT TO or with an address
 * status (x.1.x). Said after DATA, or in a bare SMTP reply of unknown stage, the address had already
 * been accepted, so it is a filter's answer: `filtered`, soft.
 */
export function decideReason(evidence: ReasonEvidence): Reason {
  const { action, status, replyCode, diagnostic, diagnosticType, command } = evidence;
  if (action === 'delivered' || action === 'relayed' || action === 'expanded' || status?.startsWith('2.')) {
    return 'delivered';
  }
  const exact = exactReasonForStatus(status);
  if (exact) return exact;
  const text = diagnostic ? normaliseDiagnostic(diagnostic) : '';
  const provider = providerReason({ hosts: evidence.hosts ?? [], text, status, replyCode, command });
  if (provider) return provider;
  const worded = reasonFromText(text);
  const general = status && !status.endsWith('.0.0') ? generalReasonForStatus(status) : null;
  // Refused at MAIL FROM, "unknown" and "does not exist" speak of the sender's address.
  if (
    command === 'MAIL' &&
    (worded === 'userunknown' || worded === 'hostunknown' || general === 'userunknown')
  ) {
    return 'rejected';
  }
  if (general === 'userunknown') return worded && OVERRIDES_USER_UNKNOWN.has(worded) ? worded : general;
  // "User unknown" is trusted when it answered RCPT TO, came with an address status (x.1.x), or is
  // an MTA's own directory wording. Otherwise (after DATA, or at a stage the notice does not name)
  // the address may well have been accepted and the message refused by a filter behind it.
  const addressStatus = status !== null && /^[45]\.1\./.test(status);
  if (worded === 'userunknown' && command !== 'RCPT' && command !== 'MAIL' && !addressStatus) {
    if (!isOwnUserUnknown(text)) return 'filtered';
  }
  const transient =
    action === 'delayed' || status?.startsWith('4.') === true || replyCode?.startsWith('4') === true;
  // A name lookup that failed for now is a network problem, not a dead domain.
  if (worded === 'hostunknown' && transient) return 'networkerror';
  // "Expired" wording is often the queue's boilerplate after the real error, which the code names.
  if (worded === 'expired' && general && general !== 'expired') return general;
  if (worded) return worded;
  if (diagnosticType === 'x-unix' || diagnosticType === 'x-postfix') return 'mailererror';
  if (general) return general;
  if (action === 'delayed') return 'expired';
  if (command === 'CONN' || command === 'HELO') return 'blocked';
  if (replyCode && /^50[0-4]$/.test(replyCode)) return 'syntaxerror';
  return text ? 'onhold' : 'undefined';
}

const HARD: ReadonlySet<Reason> = new Set(['userunknown', 'hostunknown', 'hasmoved']);

/**
 * Hard means the address is dead: user or host unknown, or moved, or a domain that accepts no mail
 * (notaccept) unless the server said so only for now (4xx). A delay notice is never hard: the
 * message is still being retried.
 */
export function decideBounceType(
  reason: Reason,
  action: string | null,
  status: string | null,
  replyCode: string | null,
): BounceType | null {
  if (reason === 'delivered' || reason === 'feedback' || reason === 'vacation') return null;
  if (action === 'delayed') return 'soft';
  if (HARD.has(reason)) return 'hard';
  const transient = status?.startsWith('4.') === true || replyCode?.startsWith('4') === true;
  return reason === 'notaccept' && !transient ? 'hard' : 'soft';
}
