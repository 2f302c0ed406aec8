/*
 * Address extraction. Labels are separated by dots that the label class excludes, so the repetition
 * below is unambiguous and each attempt is bounded by the {m,n} limits: matching stays linear.
 */
const LOCAL = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,128}";
const DOMAIN = '[A-Za-z0-9_-]{1,63}(?:\\.[A-Za-z0-9_-]{1,63}){1,10}';
const QUOTED_LOCAL = '"[^"\\r\\n]{1,128}"';

/** An addr-spec, for composing patterns elsewhere; it has no capturing groups. */
export const ADDRESS_PATTERN = `(?:${QUOTED_LOCAL}|${LOCAL})@${DOMAIN}`;

const ADDRESS = new RegExp(`(?:${QUOTED_LOCAL}|${LOCAL})@${DOMAIN}`);
const ADDRESS_GLOBAL = new RegExp(`(?:${QUOTED_LOCAL}|${LOCAL})@${DOMAIN}`, 'g');
const BRACKETED = new RegExp(`<((?:${QUOTED_LOCAL}|${LOCAL})@${DOMAIN})>`);

/** Lowercases the domain and drops the dots that end sentences; the local part keeps its case. */
export function normaliseAddress(address: string): string {
  const trimmed = address.replace(/^[.]{1,128}/, '').replace(/[.]{1,128}$/, '');
  const at = trimmed.lastIndexOf('@');
  if (at === -1) return trimmed;
  return trimmed.slice(0, at) + '@' + trimmed.slice(at + 1).toLowerCase();
}

/** The first address in a header value or a line of text, preferring one written in angle brackets. */
export function extractAddress(text: string | null): string | null {
  if (!text) return null;
  const match = BRACKETED.exec(text)?.[1] ?? ADDRESS.exec(text)?.[0];
  return match ? normaliseAddress(match) : null;
}

const LOCAL_HOST = new RegExp(`^<?(${LOCAL}@[A-Za-z0-9_-]{1,63})>?$`);

/**
 * The address of an RFC 3464 recipient field, which may name a host without a domain
 * ("rfc822; user@mailhub") since it is the address the reporting MTA itself used.
 */
export function extractFieldAddress(text: string): string | null {
  return extractAddress(text) ?? LOCAL_HOST.exec(text.trim())?.[1] ?? null;
}

/** Every address in a text, in order, without repeats. */
export function extractAddresses(text: string, limit: number): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(ADDRESS_GLOBAL)) {
    const address = normaliseAddress(match[0]);
    if (!found.includes(address)) found.push(address);
    if (found.length >= limit) break;
  }
  return found;
}

/** Sender and system mailboxes that report a failure and are never the failed recipient. */
export function isSystemAddress(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
  return /^(?:mailer-daemon|postmaster|post_master|mail\.delivery\.system|maildelivery|no-?reply|do-?not-?reply|root|mdaemon|double-bounce)$/.test(
    local,
  );
}
