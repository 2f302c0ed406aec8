import { decodeBytes, decodeQuotedPrintable } from './charset.ts';

// Bounded classes and no nested repetition: each match attempt scans a fixed number of characters.
const ENCODED_WORD = /=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]{0,2048})\?=/g;
const BETWEEN_WORDS = /\?=[ \t]{1,64}=\?/g;
const HIGH_BYTE = /[\x80-\xff]/;

function decodeWord(_match: string, charset: string, encoding: string, text: string): string {
  const label = charset.split('*')[0];
  const bytes =
    encoding === 'b' || encoding === 'B'
      ? Buffer.from(text, 'base64')
      : decodeQuotedPrintable(text.replaceAll('_', ' '));
  return decodeBytes(bytes, label);
}

/** Decodes a raw (latin1) header value: 8-bit bytes as UTF-8 where they are, and RFC 2047 encoded words. */
export function decodeHeaderValue(value: string): string {
  let text = HIGH_BYTE.test(value) ? decodeBytes(Buffer.from(value, 'latin1'), null) : value;
  if (text.includes('=?')) text = text.replace(BETWEEN_WORDS, '?==?').replace(ENCODED_WORD, decodeWord);
  return text;
}
