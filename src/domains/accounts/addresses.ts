/**
 * RFC 5322 addr-spec, with RFC 6531's UTF-8 in both parts (internationalised addresses). Written
 * here rather than taken from a validator library because those either accept only ASCII or accept
 * display names and comments, which must never reach a header we write. Every pattern is linear.
 */
const atext = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u{80}-\\u{10FFFF}]";
const dotAtom = `${atext}+(?:\\.${atext}+)*`;
const quotedString = '"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e\\u{80}-\\u{10FFFF}]|\\\\[\\x20-\\x7e])*"';
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
 * No CR, LF or other control characters: a value that ends up in a header could otherwise add
 * headers of its own (header injection).
 */
export const headerSafePattern = '^[^\\u0000-\\u001f\\u007f]*$';
// eslint-disable-next-line no-control-regex -- control characters are what this pattern exists to find
export const controlCharacters = /[\u0000-\u001f\u007f]+/gu;

export function isHeaderSafe(value: string): boolean {
  return value.search(controlCharacters) === -1;
}
