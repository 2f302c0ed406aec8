import path from 'node:path';
import { AppError, isAppError } from '../errors.ts';
import { decryptSecret, encryptSecret, keyIdOf } from './cipher.ts';
import { keyFileName, readKeyFile, replaceKeyFile } from './key-file.ts';
import { buildKeyring, decodeKeyFileLines, generateKey, keyIdFor, type Keyring } from './keyring.ts';

export interface StoredSecret {
  id: string;
  context: string;
  ciphertext: string;
}

export interface SecretStore {
  /** Pages through every stored ciphertext in a stable order (id ascending), after the given id. */
  list(afterId: string | null, limit: number): Promise<StoredSecret[]>;
  /** Replaces one ciphertext only if it is still `expected` (compare-and-set); false if it changed meanwhile. */
  replace(id: string, expected: string, next: string): Promise<boolean>;
}

export interface RotationResult {
  rotated: number;
  alreadyCurrent: number;
  /** Ids of the secrets no key of the keyring decrypts; they are left as they are. */
  unreadable: string[];
}

export interface RotateOptions {
  pageSize?: number;
  /** Rows of a page re-encrypted at once: each swap is a commit, which on PostgreSQL waits on the disk. */
  rowsAtOnce?: number;
  /** How many times one row may change under us before the run gives up on it. */
  maxAttemptsPerRow?: number;
}

/**
 * Re-encrypts every secret that is not under the keyring's current key, a few rows at a time. Each
 * row is swapped by compare-and-set, so at any moment every row is either its old ciphertext or
 * its new one, both readable under the keyring: an interruption loses nothing, and running again
 * finishes the job (rows already current are only checked).
 *
 * Rows already under the current key are decrypted too, so the run doubles as a check that every
 * stored secret is readable.
 */
export async function rotateSecrets(
  store: SecretStore,
  keyring: Keyring,
  log: (line: string) => void = () => undefined,
  options: RotateOptions = {},
): Promise<RotationResult> {
  const pageSize = options.pageSize ?? 200;
  const maxAttempts = options.maxAttemptsPerRow ?? 10;
  const rowsAtOnce = options.rowsAtOnce ?? 8;
  const result: RotationResult = { rotated: 0, alreadyCurrent: 0, unreadable: [] };
  let after: string | null = null;
  for (;;) {
    const page = await store.list(after, pageSize);
    for (let start = 0; start < page.length; start += rowsAtOnce) {
      // Every swap of a handful ends before the run goes on or stops: none is left running behind it.
      const swaps = await Promise.allSettled(
        page.slice(start, start + rowsAtOnce).map((row, offset) => {
          const before = start + offset === 0 ? after : page[start + offset - 1]!.id;
          return rotateRow(store, keyring, row, before, maxAttempts, result, log);
        }),
      );
      const failed = swaps.find((swap) => swap.status === 'rejected');
      if (failed) throw failed.reason;
    }
    after = page.at(-1)?.id ?? after;
    if (page.length > 0) {
      const checked = result.rotated + result.alreadyCurrent + result.unreadable.length;
      log(`checked ${checked} secret(s), up to id ${after}`);
    }
    if (page.length < pageSize) return result;
  }
}

async function rotateRow(
  store: SecretStore,
  keyring: Keyring,
  first: StoredSecret,
  before: string | null,
  maxAttempts: number,
  result: RotationResult,
  log: (line: string) => void,
): Promise<void> {
  let row = first;
  for (let attempt = 1; ; attempt++) {
    let plaintext: string;
    try {
      plaintext = decryptSecret(keyring, row.ciphertext, row.context);
    } catch (error) {
      if (!isAppError(error) || error.code !== 'SECRET_UNREADABLE') throw error;
      result.unreadable.push(row.id);
      log(`unreadable: ${row.id}: ${error.message}`);
      return;
    }
    if (keyIdOf(row.ciphertext) === keyring.current.id) {
      result.alreadyCurrent++;
      return;
    }
    const next = encryptSecret(keyring, plaintext, row.context);
    if (await store.replace(row.id, row.ciphertext, next)) {
      result.rotated++;
      return;
    }
    // Someone wrote this row meanwhile (a user changed the password): read it again and redo it.
    if (attempt >= maxAttempts) {
      throw new AppError(
        'INTERNAL_ERROR',
        `Secret ${row.id} changed ${attempt} times during rotation; run the rotation again when it is quieter.`,
      );
    }
    const [fresh] = await store.list(before, 1);
    if (fresh?.id !== row.id) return; // deleted meanwhile: nothing left to rotate
    row = fresh;
  }
}

function keyFilePath(dataDir: string): string {
  return path.join(path.resolve(dataDir), keyFileName);
}

async function readExistingKeyFile(file: string): Promise<string[]> {
  const lines = await readKeyFile(file);
  if (!lines) {
    throw new AppError(
      'CONFIG_INVALID',
      `${file} does not exist: there is no key to rotate from (is DATA_DIR right?)`,
    );
  }
  decodeKeyFileLines(lines, file); // refuse to build on a damaged file
  return lines;
}

/**
 * Step 1 of a key-file rotation: a new current key on the first line, every older key kept below
 * it for reading. Returns the new key's id. Stop every Mailroom process on this DATA_DIR first:
 * they hold the keys they read at start.
 */
export async function rotateKeyFile(dataDir: string): Promise<string> {
  const file = keyFilePath(dataDir);
  const lines = await readExistingKeyFile(file);
  const next = generateKey();
  await replaceKeyFile(file, [next, ...lines]);
  return keyIdFor(Buffer.from(next, 'base64'));
}

/**
 * Step 3, only after `rotateSecrets` reported nothing unreadable: keep the current key alone.
 * Given `expectedCurrentKeyId`, refuses when the file's current key is another one (another
 * rotation ran meanwhile). Returns the ids of the keys removed.
 */
export async function finishKeyFileRotation(
  dataDir: string,
  expectedCurrentKeyId?: string,
): Promise<string[]> {
  const file = keyFilePath(dataDir);
  const lines = await readExistingKeyFile(file);
  const source = { kind: 'file' as const, dataDir: path.dirname(file), path: file };
  const keyring = buildKeyring(decodeKeyFileLines(lines, file), source, file);
  if (expectedCurrentKeyId !== undefined && keyring.current.id !== expectedCurrentKeyId) {
    throw new AppError(
      'CONFIG_INVALID',
      `${file} now has key ${keyring.current.id} first, not ${expectedCurrentKeyId}: another rotation ` +
        'ran meanwhile; run `mailroom secrets rotate` again',
    );
  }
  if (lines.length > 1) await replaceKeyFile(file, [lines[0]!]);
  return keyring.previous.map((key) => key.id);
}
