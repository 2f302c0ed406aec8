import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { decryptSecret, encryptSecret, keyIdOf } from './cipher.ts';
import { generateKey, loadKeyring, type Keyring } from './keyring.ts';
import { interruptedAfter, MemorySecretStore, tempDir } from './testing.ts';
import { finishKeyFileRotation, rotateKeyFile, rotateSecrets, type SecretStore } from './rotate.ts';

const envKeyring = (current: string, previous: string[] = []) =>
  loadKeyring({
    secretKey: current,
    previousKeys: previous.join(','),
    dataDir: '/nonexistent',
    dialect: 'sqlite',
  });
const fileKeyring = (dataDir: string) => loadKeyring({ dataDir, dialect: 'sqlite' });

const id = (n: number) => `acc-${String(n).padStart(3, '0')}`;
const passwordOf = (rowId: string) => `password of ${rowId}`;

function storeUnder(keyring: Keyring, count: number): MemorySecretStore {
  return new MemorySecretStore(
    Array.from({ length: count }, (_, n) => ({
      id: id(n),
      context: id(n),
      ciphertext: encryptSecret(keyring, passwordOf(id(n)), id(n)),
    })),
  );
}

/** Every row decrypts under the keyring to its own password; returns the key id of each row. */
function expectAllReadable(store: MemorySecretStore, keyring: Keyring): string[] {
  return [...store.rows.values()].map((row) => {
    expect(decryptSecret(keyring, row.ciphertext, row.context)).toBe(passwordOf(row.id));
    return keyIdOf(row.ciphertext);
  });
}

async function rotationFrom(count: number) {
  const [older, newer] = [generateKey(), generateKey()];
  const before = await envKeyring(older);
  const keyring = await envKeyring(newer, [older]);
  return { before, keyring, store: storeUnder(before, count) };
}

describe('rotateSecrets', () => {
  it('re-encrypts every secret under the current key, page after page', async () => {
    const { keyring, store } = await rotationFrom(25);
    const lines: string[] = [];
    const result = await rotateSecrets(store, keyring, (line) => lines.push(line), { pageSize: 4 });
    expect(result).toEqual({ rotated: 25, alreadyCurrent: 0, unreadable: [] });
    expect(new Set(expectAllReadable(store, keyring))).toEqual(new Set([keyring.current.id]));
    expect(lines.join('\n')).not.toContain('password of');
  });

  it('is idempotent: a second run changes nothing and counts every row as current', async () => {
    const { keyring, store } = await rotationFrom(7);
    await rotateSecrets(store, keyring, undefined, { pageSize: 3 });
    const after = new Map([...store.rows].map(([rowId, row]) => [rowId, row.ciphertext]));
    const again = await rotateSecrets(store, keyring, undefined, { pageSize: 3 });
    expect(again).toEqual({ rotated: 0, alreadyCurrent: 7, unreadable: [] });
    expect(new Map([...store.rows].map(([rowId, row]) => [rowId, row.ciphertext]))).toEqual(after);
  });

  it('reports unreadable rows and leaves them untouched, rotating the rest', async () => {
    const { keyring, store } = await rotationFrom(6);
    const stranger = await envKeyring(generateKey());
    const copied = store.rows.get(id(1))!.ciphertext;
    const bad = [
      { id: id(10), context: id(10), ciphertext: 'not a ciphertext' },
      { id: id(11), context: id(11), ciphertext: encryptSecret(stranger, 'x', id(11)) },
      { id: id(12), context: id(12), ciphertext: copied }, // copied from another account
      { id: id(13), context: id(13), ciphertext: encryptSecret(keyring, 'x', 'another context') },
    ];
    for (const row of bad) store.rows.set(row.id, { ...row });
    const lines: string[] = [];
    const result = await rotateSecrets(store, keyring, (line) => lines.push(line), { pageSize: 4 });
    expect(result).toEqual({ rotated: 6, alreadyCurrent: 0, unreadable: bad.map((row) => row.id) });
    for (const row of bad) expect(store.rows.get(row.id)!.ciphertext).toBe(row.ciphertext);
    for (const row of bad) expect(lines.some((line) => line.startsWith(`unreadable: ${row.id}`))).toBe(true);
    expect(lines.join('\n')).not.toContain('password of');
  });

  it('loses nothing when interrupted, and a rerun finishes the job', async () => {
    const { before, keyring, store } = await rotationFrom(12);
    await expect(
      rotateSecrets(interruptedAfter(store, 5), keyring, undefined, { pageSize: 4 }),
    ).rejects.toThrow('interrupted');
    const keyIds = expectAllReadable(store, keyring);
    expect(keyIds.filter((keyId) => keyId === keyring.current.id)).toHaveLength(5);
    expect(keyIds.filter((keyId) => keyId === before.current.id)).toHaveLength(7);

    const result = await rotateSecrets(store, keyring, undefined, { pageSize: 4 });
    expect(result).toEqual({ rotated: 7, alreadyCurrent: 5, unreadable: [] });
    expect(new Set(expectAllReadable(store, keyring))).toEqual(new Set([keyring.current.id]));
  });

  it('redoes a row that changed under it, and skips one deleted meanwhile', async () => {
    const { before, keyring, store } = await rotationFrom(4);
    const raced = new Set<string>();
    // Another process writes (under the old key, as a not-yet-restarted one would) just before our
    // compare-and-set of row 1, and deletes row 2.
    const racing: SecretStore = {
      list: (afterId, limit) => store.list(afterId, limit),
      async replace(rowId, expected, next) {
        if (!raced.has(rowId)) {
          raced.add(rowId);
          if (rowId === id(1)) {
            store.rows.get(rowId)!.ciphertext = encryptSecret(before, 'changed password', rowId);
          }
          if (rowId === id(2)) store.rows.delete(rowId);
        }
        return store.replace(rowId, expected, next);
      },
    };
    const result = await rotateSecrets(racing, keyring);
    expect(result).toEqual({ rotated: 3, alreadyCurrent: 0, unreadable: [] });
    expect([...store.rows.keys()]).toEqual([id(0), id(1), id(3)]);
    const row = store.rows.get(id(1))!;
    expect(keyIdOf(row.ciphertext)).toBe(keyring.current.id);
    expect(decryptSecret(keyring, row.ciphertext, id(1))).toBe('changed password');
  });

  it('gives up, without damage, on a row that never stops changing', async () => {
    const { before, keyring, store } = await rotationFrom(2);
    const restless: SecretStore = {
      list: (afterId, limit) => store.list(afterId, limit),
      async replace(rowId) {
        store.rows.get(rowId)!.ciphertext = encryptSecret(before, passwordOf(rowId), rowId);
        return false;
      },
    };
    const error = await rotateSecrets(restless, keyring, undefined, { maxAttemptsPerRow: 3 }).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).message).toContain(id(0));
    expectAllReadable(store, keyring);
  });
});

describe('key-file rotation', () => {
  it('adds a new current key and keeps the old one, then keeps only the current one', async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'secret.key');
    const original = await fileKeyring(dataDir);
    const originalLine = fs.readFileSync(file, 'utf8');

    const newId = await rotateKeyFile(dataDir);
    const during = await fileKeyring(dataDir);
    expect(during.current.id).toBe(newId);
    expect(newId).not.toBe(original.current.id);
    expect(during.previous.map((key) => key.id)).toEqual([original.current.id]);
    expect(fs.readFileSync(file, 'utf8').endsWith(originalLine)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    expect(await finishKeyFileRotation(dataDir, newId)).toEqual([original.current.id]);
    const after = await fileKeyring(dataDir);
    expect(after.current.id).toBe(newId);
    expect(after.previous).toEqual([]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dataDir)).toEqual(['secret.key']);
  });

  it('interrupted between rotateKeyFile and finishKeyFileRotation, still reads old and new rows', async () => {
    const dataDir = tempDir();
    const original = await fileKeyring(dataDir);
    const store = storeUnder(original, 10);

    await rotateKeyFile(dataDir);
    const rotating = await fileKeyring(dataDir);
    await expect(rotateSecrets(interruptedAfter(store, 4), rotating)).rejects.toThrow('interrupted');

    // A restart: the keyring comes from the file alone.
    const restarted = await fileKeyring(dataDir);
    const keyIds = expectAllReadable(store, restarted);
    expect(new Set(keyIds)).toEqual(new Set([original.current.id, restarted.current.id]));

    const result = await rotateSecrets(store, restarted);
    expect(result).toEqual({ rotated: 6, alreadyCurrent: 4, unreadable: [] });
    await finishKeyFileRotation(dataDir, restarted.current.id);
    const finished = await fileKeyring(dataDir);
    expect(finished.previous).toEqual([]);
    expect(new Set(expectAllReadable(store, finished))).toEqual(new Set([finished.current.id]));
  });

  it('refuses to finish when another rotation changed the current key meanwhile', async () => {
    const dataDir = tempDir();
    await fileKeyring(dataDir);
    const first = await rotateKeyFile(dataDir);
    await rotateKeyFile(dataDir);
    const before = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8');
    await expect(finishKeyFileRotation(dataDir, first)).rejects.toThrow(/another rotation/);
    expect(fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8')).toBe(before);
    expect(before.trim().split('\n')).toHaveLength(3);
  });

  it('refuses to rotate a key file that does not exist', async () => {
    const dataDir = tempDir();
    await expect(rotateKeyFile(dataDir)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});
