import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { AppError } from '../errors.ts';
import { createKeyFile, keyFileName, readKeyFile } from './key-file.ts';

/**
 * One AES-256 key. The bytes live in a KeyObject, not a Buffer, so a keyring that ends up in a log
 * line or a JSON body prints `{}` or `SecretKeyObject { … }` rather than the key.
 */
export interface SecretKey {
  /** First 8 hex characters of SHA-256 over the key: stable, short, and says nothing usable about it. */
  readonly id: string;
  readonly key: KeyObject;
}

/** Where the keys came from, which decides how `mailroom secrets rotate` proceeds. */
export type KeySource = { kind: 'env' } | { kind: 'file'; dataDir: string; path: string };

export interface Keyring {
  /** Encrypts every new secret. */
  readonly current: SecretKey;
  /** Older keys, only ever used to decrypt what was written before a rotation. */
  readonly previous: readonly SecretKey[];
  readonly source: KeySource;
}

export interface LoadKeyringOptions {
  /** MAILROOM_SECRET_KEY. */
  secretKey?: string | undefined;
  /** MAILROOM_SECRET_KEY_PREVIOUS: comma-separated. */
  previousKeys?: string | undefined;
  dataDir: string;
  dialect: 'sqlite' | 'postgres';
}

export const KEY_BYTES = 32;

const hexKey = /^[0-9a-fA-F]{64}$/;
// 32 bytes are 43 base64 characters plus one '=' of padding; both alphabets, padding optional.
const base64Key = /^[A-Za-z0-9+/]{43}=?$/;
const base64UrlKey = /^[A-Za-z0-9_-]{43}=?$/;

export const keyFormatHint = `must be ${KEY_BYTES} bytes written as 64 hex characters or as base64/base64url`;

/**
 * Decodes a key written as hex, base64 or base64url, or returns undefined. The alphabet is checked
 * before decoding because Buffer.from silently skips characters it does not know.
 */
export function decodeKey(text: string): Buffer | undefined {
  const value = text.trim();
  if (hexKey.test(value)) return Buffer.from(value, 'hex');
  if (base64Key.test(value)) return Buffer.from(value, 'base64');
  if (base64UrlKey.test(value)) return Buffer.from(value, 'base64url');
  return undefined;
}

/** A new random key, as base64: what the key file holds and what an operator puts in the environment. */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** First start: another process may be creating the file at the same moment, and its key wins. */
async function createKeyFileOnce(file: string): Promise<string[]> {
  await createKeyFile(file, [generateKey()]);
  const lines = await readKeyFile(file);
  if (!lines) throw new AppError('CONFIG_INVALID', `${file} vanished while it was being created`);
  return lines;
}

export function keyIdFor(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

export function toSecretKey(bytes: Buffer): SecretKey {
  return { id: keyIdFor(bytes), key: createSecretKey(bytes) };
}

/**
 * Builds a keyring from decoded keys, the current one first. A key repeated (the same key in both
 * variables) is kept once; two different keys sharing an id would make ciphertexts ambiguous, so
 * they are refused.
 */
export function buildKeyring(keys: Buffer[], source: KeySource, where: string): Keyring {
  const byId = new Map<string, Buffer>();
  for (const bytes of keys) {
    const id = keyIdFor(bytes);
    const known = byId.get(id);
    if (known && !known.equals(bytes)) {
      throw new AppError('CONFIG_INVALID', `${where} holds two different keys with the same id ${id}`, {
        fields: { [where]: `holds two different keys with the same id ${id}; generate a new key` },
      });
    }
    byId.set(id, bytes);
  }
  const [current, ...previous] = [...byId.values()].map(toSecretKey);
  if (!current) throw new AppError('CONFIG_INVALID', `${where} holds no key`);
  return Object.freeze({ current, previous: Object.freeze(previous), source });
}

function invalid(name: string, problem: string): AppError {
  return new AppError('CONFIG_INVALID', `Invalid environment: ${name} ${problem}`, {
    fields: { [name]: problem },
  });
}

/**
 * The keys that encrypt account secrets: MAILROOM_SECRET_KEY (and MAILROOM_SECRET_KEY_PREVIOUS)
 * when set; otherwise, on SQLite only, DATA_DIR/secret.key, created on first start. PostgreSQL
 * means several machines, which cannot share a file, so there the variable is required.
 * Error messages name the variable or the file, never a key.
 */
export async function loadKeyring(options: LoadKeyringOptions): Promise<Keyring> {
  const secretKey = options.secretKey?.trim() ?? '';
  const previousKeys = options.previousKeys?.trim() ?? '';
  if (secretKey === '') {
    if (options.dialect === 'postgres') {
      throw invalid(
        'MAILROOM_SECRET_KEY',
        'is required with DATABASE_URL, because every machine sharing the database must use the same key ' +
          '(make one with `mailroom secrets generate-key`)',
      );
    }
    if (previousKeys !== '') {
      // Previous keys without a current one is a half-done rotation; guessing which key should
      // encrypt would risk writing secrets no other process can read.
      throw invalid('MAILROOM_SECRET_KEY', 'must be set when MAILROOM_SECRET_KEY_PREVIOUS is');
    }
    const dataDir = path.resolve(options.dataDir);
    const file = path.join(dataDir, keyFileName);
    const lines = (await readKeyFile(file)) ?? (await createKeyFileOnce(file));
    return buildKeyring(decodeKeyFileLines(lines, file), { kind: 'file', dataDir, path: file }, file);
  }

  const current = decodeKey(secretKey);
  if (!current) throw invalid('MAILROOM_SECRET_KEY', keyFormatHint);
  const previous = previousKeys
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => {
      const bytes = decodeKey(entry);
      if (!bytes) throw invalid('MAILROOM_SECRET_KEY_PREVIOUS', `entry ${index + 1} ${keyFormatHint}`);
      return bytes;
    });
  return buildKeyring([current, ...previous], { kind: 'env' }, 'MAILROOM_SECRET_KEY_PREVIOUS');
}

/** The key file's lines as keys; a bad line is named by its number, never shown. */
export function decodeKeyFileLines(lines: string[], file: string): Buffer[] {
  const keys = lines.map((line, index) => {
    const bytes = decodeKey(line);
    if (!bytes) {
      throw new AppError('CONFIG_INVALID', `${file} line ${index + 1} ${keyFormatHint}`, {
        fields: { [file]: `line ${index + 1} ${keyFormatHint}` },
      });
    }
    return bytes;
  });
  if (keys.length === 0) {
    throw new AppError(
      'CONFIG_INVALID',
      `${file} holds no key. If nothing was ever encrypted with it, delete it and a new one is made ` +
        'on the next start; otherwise restore it from a backup.',
    );
  }
  return keys;
}
