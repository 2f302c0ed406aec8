import type { SmtpCommand } from './smtp-command.ts';
import type { Reason } from './types.ts';

/**
 * What a provider-specific rule may look at. `hosts` are the remote MTA, the recipient's domain and
 * the domain that sent the notice, lowercased; `text` is the normalised diagnostic.
 */
export interface ProviderEvidence {
  hosts: readonly string[];
  text: string;
  status: string | null;
  replyCode: string | null;
  command: SmtpCommand | null;
}

function onDomain(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

function anyHostOn(evidence: ProviderEvidence, domains: readonly string[]): boolean {
  return evidence.hosts.some((host) => domains.some((domain) => onDomain(host, domain)));
}

/*
 * Orange / Wanadoo / La Poste (France Télécom) end every refusal with a private code, "LPN007_416",
 * "OFR_999", "OUK_102-104": the last three digits name the cause. The code is self-identifying, so
 * it is read wherever it appears.
 */
const ORANGE_CODE = /\b(?:lpnaaa|lpn|ofr|ouk)(?:_\d{3}|\d{3}[-_]\d{3})\b/;
const ORANGE: Record<string, Reason> = {
  '101': 'blocked',
  '102': 'blocked',
  '103': 'blocked',
  '104': 'toomanyconn',
  '305': 'securityerror',
  '401': 'blocked',
  '402': 'securityerror',
  '403': 'rejected',
  '405': 'rejected',
  '415': 'rejected',
  '416': 'userunknown',
  '417': 'mailboxfull',
  '418': 'userunknown',
  '420': 'suspend',
  '421': 'rejected',
  '426': 'suspend',
  '505': 'systemerror',
  '506': 'spamdetected',
  '510': 'blocked',
  '514': 'mesgtoobig',
  '517': 'policyviolation',
  '630': 'policyviolation',
  '999': 'blocked',
};

/** A rule that finds a provider's private code in the text and looks its cause up in a table. */
function codeRule(
  pattern: RegExp,
  table: Record<string, Reason>,
  key: (match: RegExpExecArray) => string,
): (evidence: ProviderEvidence) => Reason | null {
  return (evidence) => {
    const match = pattern.exec(evidence.text);
    return match ? (table[key(match)] ?? null) : null;
  };
}

const orange = codeRule(ORANGE_CODE, ORANGE, (match) => match[0].slice(-3));

/* Spectrum (Charter) points to its error page with "AUP#In-1310": the number names the cause. */
const SPECTRUM_CODE = /\baup#[a-z-]{0,16}(\d{4})\b/;
const SPECTRUM: ReadonlyArray<[number, number, Reason]> = [
  [1000, 1000, 'blocked'],
  [1010, 1080, 'rejected'],
  [1090, 1090, 'systemerror'],
  [1100, 1150, 'blocked'],
  [1160, 1190, 'policyviolation'],
  [1200, 1250, 'blocked'],
  [1260, 1260, 'networkerror'],
  [1300, 1490, 'toomanyconn'],
  [1500, 1520, 'rejected'],
  [1530, 1530, 'mesgtoobig'],
  [1540, 1550, 'toomanyconn'],
  [1560, 1560, 'policyviolation'],
];

function spectrum(evidence: ProviderEvidence): Reason | null {
  const digits = SPECTRUM_CODE.exec(evidence.text)?.[1];
  if (!digits) return null;
  const code = Number(digits);
  return SPECTRUM.find(([low, high]) => code >= low && code <= high)?.[2] ?? null;
}

/*
 * Exchange Online's private x.4.3xx codes name why a message it queued finally expired; the text
 * ("Message expired, DNS query failed") starts with the generic part, the code says which.
 */
const MICROSOFT_ROUTING: Record<string, Reason> = {
  '4.300': 'expired',
  '4.310': 'hostunknown',
  '4.311': 'networkerror',
  '4.312': 'networkerror',
  '4.316': 'expired',
  '4.318': 'expired',
};

function microsoft(evidence: ProviderEvidence): Reason | null {
  const status = evidence.status;
  if (!status) return null;
  return MICROSOFT_ROUTING[status.slice(status.indexOf('.') + 1)] ?? null;
}

/* Exchange 2000/2003 name the error by a hex code: "MSEXCH:IMS:... 0 (000C05A6) Unknown Recipient". */
const EXCHANGE_CODE = /\bmsexch:[^()]{1,255}\(([0-9a-f]{8})\)/;
const EXCHANGE: Record<string, Reason> = {
  '000c05a6': 'userunknown',
  '000c0595': 'filtered',
  '00010256': 'systemerror',
  '000d06b5': 'systemerror',
  '00120270': 'networkerror',
  '00050311': 'contenterror',
  '000502cc': 'contenterror',
  '000b0981': 'securityerror',
};

const exchange2003 = codeRule(EXCHANGE_CODE, EXCHANGE, (match) => match[1] ?? '');

/*
 * au (KDDI, ezweb.ne.jp): "550 <address>: User unknown" is its answer for a mailbox that does not
 * exist; "550 : User unknown", with no address, is what its filters answer.
 */
function kddi(evidence: ProviderEvidence): Reason | null {
  if (!anyHostOn(evidence, ['ezweb.ne.jp', 'au.com'])) return null;
  if (/>:? user unknown/.test(evidence.text)) return 'userunknown';
  if (/\b550 ?: user unknown/.test(evidence.text)) return 'filtered';
  return null;
}

/* NTT docomo answers RCPT TO for unknown users, and refuses at DATA what its filters catch. */
function docomo(evidence: ProviderEvidence): Reason | null {
  if (!anyHostOn(evidence, ['docomo.ne.jp'])) return null;
  const { status, text, command } = evidence;
  if (status?.endsWith('.1.1')) return 'userunknown';
  if (status === '5.2.0') return 'filtered';
  if (text.includes('552 too much mail data')) return 'mailboxfull';
  if (text.includes('552 too many recipients')) return 'toomanyconn';
  if (
    text.includes('503 bad sequence of commands') ||
    text.includes('504 command parameter not implemented')
  ) {
    return 'syntaxerror';
  }
  if (status === null || status.endsWith('.0.0')) {
    if (command === 'RCPT') return 'userunknown';
    if (command === 'DATA') return 'rejected';
  }
  return null;
}

/* Symantec MessageLabs relays the recipient server's refusal of an address as "542 ... Rejected". */
function messageLabs(evidence: ProviderEvidence): Reason | null {
  if (!anyHostOn(evidence, ['messagelabs.com'])) return null;
  if (/\b542 [^ ]{1,255} rejected\b/.test(evidence.text) || evidence.text.includes('no such user')) {
    return 'userunknown';
  }
  return null;
}

/* Mimecast's replies, each with its reply code (from its published list of rejection codes). */
const MIMECAST: ReadonlyArray<[string, string, Reason]> = [
  ['421', 'sender address blocked', 'blocked'],
  ['451', 'ip temporarily blacklisted', 'blocked'],
  ['550', 'local ct ip reputation', 'blocked'],
  ['550', 'sender invalid - envelope rejected', 'blocked'],
  ['554', 'maximum email size exceeded', 'mesgtoobig'],
  ['554', 'mail loop detected', 'networkerror'],
  ['451', 'open relay not allowed', 'norelaying'],
  ['451', 'account inbounds disabled', 'notaccept'],
  ['550', 'anti-spoofing policy', 'policyviolation'],
  ['550', 'content examination policy', 'policyviolation'],
  ['554', 'host network not allowed', 'policyviolation'],
  ['550', 'administrative prohibition envelope blocked', 'rejected'],
  ['550', 'block policy for', 'rejected'],
  ['535', 'incorrect authentication data', 'securityerror'],
  ['553', 'this route requires', 'securityerror'],
  ['452', 'too many recipients', 'toomanyconn'],
  ['501', 'invalid address', 'userunknown'],
  ['503', 'user unknown', 'userunknown'],
  ['550', 'invalid recipient', 'userunknown'],
  ['554', 'email rejected due to security policies', 'virusdetected'],
];

function mimecast(evidence: ProviderEvidence): Reason | null {
  if (!anyHostOn(evidence, ['mimecast.com'])) return null;
  const hit = MIMECAST.find(
    ([code, phrase]) => code === evidence.replyCode && evidence.text.includes(phrase),
  );
  return hit?.[2] ?? null;
}

const PROVIDERS: ReadonlyArray<(evidence: ProviderEvidence) => Reason | null> = [
  orange,
  spectrum,
  exchange2003,
  microsoft,
  kddi,
  docomo,
  messageLabs,
  mimecast,
];

/** The reason a provider's private code or known reply names, or null when no provider rule applies. */
export function providerReason(evidence: ProviderEvidence): Reason | null {
  for (const rule of PROVIDERS) {
    const reason = rule(evidence);
    if (reason) return reason;
  }
  return null;
}
