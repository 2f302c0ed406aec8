import { hkdfSync } from 'node:crypto';
import type { Keyring, SecretKey } from './keyring.ts';

/**
 * Keys derived from the keyring for other purposes than encryption, so that no purpose ever uses
 * another's key: HKDF-SHA256 over the key's bytes, with a label of its own per purpose.
 */
function derive(secret: SecretKey, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret.key.export(), '', label, 32));
}

/**
 * The keys that sign VERP return paths and one-click unsubscribe tokens (src/mail/verp.ts): the
 * current key's first, then each previous key's, so a token signed before a key rotation still
 * verifies while the notices and links it went out with are in flight.
 */
export function verpKeys(keyring: Keyring): Buffer[] {
  return [keyring.current, ...keyring.previous].map((secret) => derive(secret, 'mailroom verp v1'));
}
