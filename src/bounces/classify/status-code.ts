import type { Reason } from './types.ts';

// Lookarounds keep IP addresses and version numbers ("10.4.5.6", "2.5.5.1") from passing for codes.
const ENHANCED = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/;
const ENHANCED_ALL = new RegExp(ENHANCED.source, 'g');
const REPLY = /(?<![\d.:-])([245][0-5]\d)(?=[ -]|$)/m;
const REPLY_AT_START = /^[ \t]{0,16}[(#]?([245][0-5]\d)(?![\d.])/;

/** The first RFC 3463 enhanced status code in a text, e.g. "5.1.1". */
export function findStatus(text: string | null): string | null {
  if (!text) return null;
  const match = ENHANCED.exec(text);
  return match ? `${match[1]}.${Number(match[2])}.${Number(match[3])}` : null;
}

/**
 * The last enhanced status code in a diagnostic. A relay that gives up quotes the reply it got last,
 * so the innermost code ("554 4.4.7 Message expired <421 4.4.2 Connection timed out>") comes last.
 */
export function findLastStatus(text: string | null): string | null {
  if (!text) return null;
  let last: RegExpMatchArray | null = null;
  for (const match of text.matchAll(ENHANCED_ALL)) last = match;
  return last ? `${last[1]}.${Number(last[2])}.${Number(last[3])}` : null;
}

/** The SMTP reply code a diagnostic starts with, or else the first one it quotes. */
export function findReplyCode(text: string | null): string | null {
  if (!text) return null;
  return (REPLY_AT_START.exec(text) ?? REPLY.exec(text))?.[1] ?? null;
}

/**
 * Codes whose meaning is exact (RFC 3463, RFC 7372, RFC 7505, RFC 8601) and wins over any wording.
 * Keyed by "subject.detail"; the class digit (4 or 5) only decides hard or soft.
 */
const EXACT: Record<string, Reason> = {
  '1.6': 'hasmoved',
  '1.7': 'rejected',
  '1.8': 'rejected',
  '2.2': 'mailboxfull',
  '2.3': 'exceedlimit',
  '3.4': 'mesgtoobig',
  '7.13': 'suspend',
  '7.17': 'hasmoved',
  '7.18': 'hasmoved',
  '7.20': 'authfailure',
  '7.21': 'authfailure',
  '7.22': 'authfailure',
  '7.23': 'authfailure',
  '7.24': 'authfailure',
  '7.25': 'requireptr',
  '7.26': 'authfailure',
  '7.27': 'notaccept',
};

/** Codes that name a reason but whose wording, when it says more, is trusted over them. */
const GENERAL: Record<string, Reason> = {
  '1.0': 'userunknown',
  '1.1': 'userunknown',
  '1.2': 'hostunknown',
  '1.3': 'userunknown',
  '1.4': 'filtered',
  '1.9': 'systemerror',
  '1.10': 'notaccept',
  '2.0': 'filtered',
  '2.1': 'filtered',
  '2.4': 'filtered',
  '3.0': 'systemerror',
  '3.1': 'systemfull',
  '3.2': 'notaccept',
  '3.3': 'systemerror',
  '3.5': 'systemerror',
  '4.0': 'networkerror',
  '4.1': 'expired',
  '4.2': 'networkerror',
  '4.3': 'systemerror',
  '4.4': 'networkerror',
  '4.5': 'systemfull',
  '4.6': 'networkerror',
  '4.7': 'expired',
  '5.1': 'syntaxerror',
  '5.2': 'syntaxerror',
  '5.3': 'toomanyconn',
  '5.4': 'syntaxerror',
  '5.5': 'systemerror',
  '5.6': 'securityerror',
  '6.0': 'contenterror',
  '6.1': 'contenterror',
  '6.2': 'contenterror',
  '6.3': 'contenterror',
  '6.5': 'contenterror',
  '6.6': 'contenterror',
  '6.7': 'contenterror',
  '6.8': 'contenterror',
  '6.9': 'contenterror',
  '7.0': 'securityerror',
  '7.1': 'securityerror',
  '7.2': 'securityerror',
  '7.3': 'securityerror',
  '7.4': 'securityerror',
  '7.5': 'securityerror',
  '7.6': 'securityerror',
  '7.7': 'securityerror',
  '7.8': 'securityerror',
  '7.9': 'securityerror',
  '7.10': 'securityerror',
  '7.11': 'securityerror',
  '7.12': 'securityerror',
  '7.14': 'securityerror',
  '7.15': 'securityerror',
  '7.16': 'mesgtoobig',
  '7.19': 'securityerror',
};

function subjectDetail(status: string): string {
  return status.slice(status.indexOf('.') + 1);
}

export function exactReasonForStatus(status: string | null): Reason | null {
  if (!status || status.startsWith('2.')) return null;
  return EXACT[subjectDetail(status)] ?? null;
}

export function generalReasonForStatus(status: string | null): Reason | null {
  if (!status) return null;
  if (status.startsWith('2.')) return 'delivered';
  const key = subjectDetail(status);
  // "Unable to route" is a dead domain when permanent and a network hiccup when transient.
  if (key === '4.4') return status.startsWith('5.') ? 'hostunknown' : 'networkerror';
  return GENERAL[key] ?? null;
}
