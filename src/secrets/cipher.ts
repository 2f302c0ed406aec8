import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Keyring, SecretKey } from './keyring.ts';

/**
 * A stored secret: `v1.<keyId>.<iv>.<tag>.<ciphertext>`, the last three in base64url. AES-256-GCM
 * with a fresh 12-byte IV per encryption (GCM must never reuse an IV under one key; random IVs are
 * safe for far more encryptions than one key will ever see, and rotation resets the count).
 *
 * The additional authenticated data is `v1.<keyId>.<context>`: the header cannot be edited, and a
 * ciphertext copied onto another row (another context, such as another account id) fails to decrypt.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const keyIdPattern = /^[0-9a-f]{8}$/;
const base64Url = /^[A-Za-z0-9_-]*$/;

interface ParsedSecret {
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  data: Buffer;
}

/** Never carries the plaintext or a key: only what went wrong and, when known, the key id. */
function unreadable(reason: string): AppError {
  return new AppError('SECRET_UNREADABLE', `A stored secret cannot be decrypted: ${reason}.`);
}

function additionalData(keyId: string, context: string): Buffer {
  return Buffer.from(`${VERSION}.${keyId}.${context}`, 'utf8');
}

function parse(ciphertext: string): ParsedSecret {
  const parts = ciphertext.split('.');
  const [version, keyId, iv, tag, data] = parts;
  if (
    parts.length !== 5 ||
    version !== VERSION ||
    keyId === undefined ||
    !keyIdPattern.test(keyId) ||
    [iv, tag, data].some((part) => part === undefined || !base64Url.test(part))
  ) {
    throw unreadable('it is not in the v1 format');
  }
  const parsed = {
    keyId,
    iv: Buffer.from(iv!, 'base64url'),
    tag: Buffer.from(tag!, 'base64url'),
    data: Buffer.from(data!, 'base64url'),
  };
  if (parsed.iv.length !== IV_BYTES || parsed.tag.length !== TAG_BYTES) {
    throw unreadable('it is not in the v1 format');
  }
  return parsed;
}

/** The id of the key a ciphertext was made with; SECRET_UNREADABLE when it is not a ciphertext. */
export function keyIdOf(ciphertext: string): string {
  return parse(ciphertext).keyId;
}

export function encryptSecret(keyring: Keyring, plaintext: string, context = ''): string {
  const { id, key } = keyring.current;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(id, context));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, id, iv.toString('base64url'), tag.toString('base64url'), data.toString('base64url')].join(
    '.',
  );
}

function findKey(keyring: Keyring, keyId: string): SecretKey | undefined {
  return [keyring.current, ...keyring.previous].find((key) => key.id === keyId);
}

/**
 * Decrypts with whichever key of the keyring the ciphertext names. Fails with SECRET_UNREADABLE
 * when the key is unknown, the text is malformed, or it was altered or belongs to another context.
 */
export function decryptSecret(keyring: Keyring, ciphertext: string, context = ''): string {
  const { keyId, iv, tag, data } = parse(ciphertext);
  const secretKey = findKey(keyring, keyId);
  if (!secretKey) {
    throw unreadable(
      `its key ${keyId} is not in the keyring (was a key dropped from MAILROOM_SECRET_KEY_PREVIOUS ` +
        'or secret.key before every secret was rotated?)',
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', secretKey.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(keyId, context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    // Node's own message ("unable to authenticate data") says nothing more; ours says what to suspect.
    throw unreadable(`it fails authentication under key ${keyId}: altered, or copied from another record`);
  }
}
