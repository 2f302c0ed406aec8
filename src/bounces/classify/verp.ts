import { extractAddress } from './address.ts';
import { firstHeader } from './mime.ts';
import type { Headers } from './mime.ts';

/*
 * The VERP convention we accept: a bounce comes back to the envelope sender of the original message,
 * whose local part is a bounce prefix, a separator and a token:
 *   bounces+TOKEN@domain, bounce+TOKEN@, bounces-TOKEN@, bounce-TOKEN@, and the same with "=" or "."
 * The token is what the sender put there (a message or contact id, or the classic "user=example.com"
 * encoding of the recipient) and is returned verbatim.
 */
const VERP_LOCAL = /^bounces?[-+=.]([A-Za-z0-9._=+-]{1,200})@/i;

/** Headers that carry the address a bounce was delivered to, most specific first. */
const DELIVERY_HEADERS = ['x-original-to', 'delivered-to', 'envelope-to', 'x-envelope-to', 'to'];

/**
 * Looks for the token where a notice keeps the original envelope sender: the address a bounce was
 * delivered to, the returned message's Return-Path, and `also` (an ARF report's Original-Mail-From).
 */
export function findVerpToken(
  headers: Headers,
  returned: Headers | null,
  also: string | null = null,
): string | null {
  const candidates = DELIVERY_HEADERS.map((name) => firstHeader(headers, name));
  if (returned) candidates.push(firstHeader(returned, 'return-path'));
  candidates.push(also);
  for (const value of candidates) {
    const address = extractAddress(value);
    const token = address ? VERP_LOCAL.exec(address)?.[1] : undefined;
    if (token) return token;
  }
  return null;
}
