/**
 * RFC 5322 addr-spec, with RFC 6531's UTF-8 in both parts (internationalised addresses). Written
 * here rather than taken from a validator library because those either accept only ASCII or accept
 * display names and comments, which must never reach a header we write. Every pattern is linear.
 */
/** UTF-8 beyond ASCII, less the C1 controls (NEL among them) and U+2028/U+2029: they break header lines. */
const utf8NonAscii = '\\u{a0}-\\u{2027}\\u{202a}-\\u{10FFFF}';
const atext = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~" + utf8NonAscii + ']';
const dotAtom = `${atext}+(?:\\.${atext}+)*`;
const quotedString = '"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e' + utf8NonAscii + ']|\\\\[\\x20-\\x7e])*"';
const label = '[\\p{L}\\p{N}](?:[\\p{L}\\p{N}\\p{M}-]{0,61}[\\p{L}\\p{N}\\p{M}])?';
const domainName = `${label}(?:\\.${label})*`;
const domainLiteral = '\\[(?:\\d{1,3}(?:\\.\\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]{2,45})\\]';

const addrSpec = new RegExp(`^(?:${dotAtom}|${quotedString})@(?:${domainName}|${domainLiteral})$`, 'u');

const MAX_LOCAL_OCTETS = 64;
const MAX_ADDRESS_OCTETS = 254;

export function isMailboxAddress(value: string): boolean {
  if (!addrSpec.test(value)) return false;
  const at = value.lastIndexOf('@');
  return (
    Buffer.byteLength(value.slice(0, at)) <= MAX_LOCAL_OCTETS &&
    Buffer.byteLength(value) <= MAX_ADDRESS_OCTETS
  );
}

/**
 * No CR, LF or other control characters, nor Unicode line separators: a value that ends up in a
 * header could otherwise add headers of its own (header injection). One definition for the whole
 * program, in src/mail/header-value.ts.
 */
export { headerSafePattern, isHeaderSafe } from '../../mail/header-value.ts';
