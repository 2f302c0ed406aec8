import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Signed tokens that name one message recipient (a row of message_recipients), or one message for
 * an ENVID:
 *
 *   token = <the recipient id: 32 hex characters, the UUID without its dashes>
 *           <the first 16 hex characters (64 bits) of HMAC-SHA256(key, purpose NUL id)>
 *
 * 48 characters, lower-case hex only, because some MTAs lower-case the local part of the address a
 * bounce goes back to. As a VERP return path, `bounces+<token>@<bounce domain>`: a local part of 56
 * characters (at most 64 are allowed). The purpose is part of what is signed, so a VERP token is not
 * an unsubscribe token and the other way round. As an RFC 3461 ENVID (own accounts, where the server
offers DSN) it names the message; a DSN quotes it back as Original-Envelope-Id. The keys are `verpKeys(keyring)` of
 * src/secrets/derived.ts: a token verifies with any of them, so one signed before a key rotation is
 * still good while it is in flight.
 */

type Purpose = 'verp' | 'unsubscribe' | 'envelope';

const ID_HEX = 32;
const MAC_HEX = 16;
export const VERP_PREFIX = 'bounces+';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const tokenPattern = new RegExp(`^([0-9a-f]{${ID_HEX}})([0-9a-f]{${MAC_HEX}})$`);

function mac(purpose: Purpose, idHex: string, key: Buffer): string {
  return createHmac('sha256', key).update(`${purpose}\0${idHex}`).digest('hex').slice(0, MAC_HEX);
}

function sign(purpose: Purpose, id: string, key: Buffer): string {
  if (!uuidPattern.test(id)) throw new Error(`Not a message or recipient id (a UUID): ${id}`);
  const idHex = id.replaceAll('-', '').toLowerCase();
  return `${idHex}${mac(purpose, idHex, key)}`;
}

function verify(purpose: Purpose, token: string, keys: readonly Buffer[]): string | null {
  const match = tokenPattern.exec(token.toLowerCase());
  if (!match) return null;
  const [, idHex, given] = match as unknown as [string, string, string];
  const givenBytes = Buffer.from(given, 'hex');
  // Every key is tried, whichever matches, so the time taken says nothing about which one did.
  let valid = false;
  for (const key of keys) {
    if (timingSafeEqual(Buffer.from(mac(purpose, idHex, key), 'hex'), givenBytes)) valid = true;
  }
  if (!valid) return null;
  return idHex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
}

const asRecipient = (id: string | null) => (id === null ? null : { recipientId: id });

/** A domain as compared: lower case, without the root's trailing dot. */
const foldDomain = (domain: string): string => domain.trim().toLowerCase().replace(/\.$/, '');

/** The envelope sender of a marketing message to this recipient: `bounces+<token>@<bounceDomain>`. */
export function verpAddress(recipientId: string, bounceDomain: string, key: Buffer): string {
  return `${VERP_PREFIX}${sign('verp', recipientId, key)}@${foldDomain(bounceDomain)}`;
}

/**
 * The recipient a bounce address names, or null when it is not one of ours: another domain, another
 * shape, or a signature none of the keys made. Angle brackets around the address are allowed; the
 * local part and the domain are compared without regard to case.
 */
export function parseVerpAddress(
  address: string,
  bounceDomain: string,
  keys: readonly Buffer[],
): { recipientId: string } | null {
  const bare = address.trim().replace(/^<(.*)>$/, '$1');
  const at = bare.lastIndexOf('@');
  if (at < 0 || foldDomain(bare.slice(at + 1)) !== foldDomain(bounceDomain)) return null;
  const local = bare.slice(0, at).toLowerCase();
  if (!local.startsWith(VERP_PREFIX)) return null;
  return parseVerpToken(local.slice(VERP_PREFIX.length), keys);
}

/** The recipient a VERP token (the local part after `bounces+`, as a notice quotes it) names. */
export function parseVerpToken(token: string, keys: readonly Buffer[]): { recipientId: string } | null {
  return asRecipient(verify('verp', token.trim(), keys));
}

/** The token of a recipient's one-click unsubscribe link (`POST /u/<token>`). */
export function unsubscribeToken(recipientId: string, key: Buffer): string {
  return sign('unsubscribe', recipientId, key);
}

/** The recipient an unsubscribe token names, or null when no key signed it for unsubscribing. */
export function parseUnsubscribeToken(
  token: string,
  keys: readonly Buffer[],
): { recipientId: string } | null {
  return asRecipient(verify('unsubscribe', token.trim(), keys));
}

/** The ENVID an own-account message is sent with, where the server offers DSN (RFC 3461). */
export function envelopeIdFor(messageId: string, key: Buffer): string {
  return sign('envelope', messageId, key);
}

/** The message a DSN's Original-Envelope-Id names, or null when it is not one we signed. */
export function parseEnvelopeId(envelopeId: string, keys: readonly Buffer[]): { messageId: string } | null {
  const id = verify('envelope', envelopeId.trim(), keys);
  return id === null ? null : { messageId: id };
}
