import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { generateKey, keyIdFor, loadKeyring } from './keyring.ts';
import { tempDir } from './testing.ts';

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

const sqliteEnv = (secretKey?: string, previousKeys?: string) => ({
  secretKey,
  previousKeys,
  dataDir: tempDir(),
  dialect: 'sqlite' as const,
});

describe('keys from MAILROOM_SECRET_KEY', () => {
  const bytes = randomBytes(32);

  it.each([
    ['hex', bytes.toString('hex')],
    ['upper-case hex', bytes.toString('hex').toUpperCase()],
    ['base64', bytes.toString('base64')],
    ['base64 without padding', bytes.toString('base64').replace(/=$/, '')],
    ['base64url', bytes.toString('base64url')],
    ['base64 with a trailing newline', `${bytes.toString('base64')}\n`],
  ])('accepts %s, with the same key id for the same bytes', async (_format, text) => {
    const keyring = await loadKeyring(sqliteEnv(text));
    expect(keyring.current.id).toBe(keyIdFor(bytes));
    expect(keyring.current.id).toMatch(/^[0-9a-f]{8}$/);
    expect(keyring.current.key.export().equals(bytes)).toBe(true);
    expect(keyring.previous).toEqual([]);
    expect(keyring.source).toEqual({ kind: 'env' });
  });

  it.each([
    ['a passphrase', 'correct horse battery staple'],
    ['31 bytes of hex', randomBytes(31).toString('hex')],
    ['33 bytes of base64', randomBytes(33).toString('base64')],
    ['hex with a stray character', `${bytes.toString('hex').slice(0, 63)}g`],
    ['base64 with a stray character', `${bytes.toString('base64').slice(0, 42)}!=`],
    ['mixed base64 alphabets', `+_${bytes.toString('base64').slice(2)}`],
  ])('refuses %s, naming the variable and never echoing the value', async (_format, text) => {
    const error = await refusal(loadKeyring(sqliteEnv(text)));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('MAILROOM_SECRET_KEY');
    expect(error.details.fields).toHaveProperty('MAILROOM_SECRET_KEY');
    expect(JSON.stringify([error.message, error.details])).not.toContain(text.trim());
  });

  it('reads previous keys, comma-separated, in any format, and keeps a repeated key once', async () => {
    const current = generateKey();
    const older = randomBytes(32);
    const oldest = randomBytes(32);
    const keyring = await loadKeyring(
      sqliteEnv(current, ` ${older.toString('hex')}, ${oldest.toString('base64url')},${current},`),
    );
    expect(keyring.previous.map((key) => key.id)).toEqual([keyIdFor(older), keyIdFor(oldest)]);
  });

  it('names the bad entry of MAILROOM_SECRET_KEY_PREVIOUS without echoing it', async () => {
    const bad = 'my-old-password';
    const error = await refusal(loadKeyring(sqliteEnv(generateKey(), `${generateKey()},${bad}`)));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.details.fields?.MAILROOM_SECRET_KEY_PREVIOUS).toMatch(/entry 2/);
    expect(JSON.stringify([error.message, error.details])).not.toContain(bad);
  });

  it('refuses previous keys without a current one', async () => {
    const error = await refusal(loadKeyring(sqliteEnv(undefined, generateKey())));
    expect(error.details.fields).toHaveProperty('MAILROOM_SECRET_KEY');
  });

  it('is required with PostgreSQL, and no key file is made there', async () => {
    const dataDir = tempDir();
    const error = await refusal(loadKeyring({ dataDir, dialect: 'postgres', secretKey: '' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/MAILROOM_SECRET_KEY is required with DATABASE_URL/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
    const keyring = await loadKeyring({ dataDir, dialect: 'postgres', secretKey: generateKey() });
    expect(keyring.source.kind).toBe('env');
  });

  it('never shows key material when the keyring is logged or serialised', async () => {
    const text = generateKey();
    const keyring = await loadKeyring(sqliteEnv(text));
    const hex = Buffer.from(text, 'base64').toString('hex');
    for (const shown of [JSON.stringify(keyring), inspect(keyring, { depth: 10 })]) {
      expect(shown).not.toContain(text);
      expect(shown).not.toContain(hex);
    }
  });
});

describe('the key file DATA_DIR/secret.key, with SQLite and no MAILROOM_SECRET_KEY', () => {
  it('is created on first start with mode 0600, in a new DATA_DIR, and reused after', async () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const first = await loadKeyring({ dataDir, dialect: 'sqlite' });
    const file = path.join(dataDir, 'secret.key');
    expect(first.source).toEqual({ kind: 'file', dataDir, path: file });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(2); // one key and the final newline
    expect(Buffer.from(lines[0]!, 'base64')).toHaveLength(32);
    expect(keyIdFor(Buffer.from(lines[0]!, 'base64'))).toBe(first.current.id);
    expect(fs.readdirSync(dataDir)).toEqual(['secret.key']); // no temporary file left behind

    const second = await loadKeyring({ dataDir, dialect: 'sqlite' });
    expect(second.current.id).toBe(first.current.id);
  });

  it('gives one key to processes starting together', async () => {
    const dataDir = tempDir();
    const keyrings = await Promise.all(
      Array.from({ length: 8 }, () => loadKeyring({ dataDir, dialect: 'sqlite' })),
    );
    expect(new Set(keyrings.map((keyring) => keyring.current.id)).size).toBe(1);
    expect(fs.readdirSync(dataDir)).toEqual(['secret.key']);
  });

  it('reads the first line as the current key and the others as previous keys', async () => {
    const dataDir = tempDir();
    const [current, older] = [generateKey(), generateKey()];
    fs.writeFileSync(path.join(dataDir, 'secret.key'), `${current}\n\n${older}\n`, { mode: 0o600 });
    const keyring = await loadKeyring({ dataDir, dialect: 'sqlite' });
    expect(keyring.current.id).toBe(keyIdFor(Buffer.from(current, 'base64')));
    expect(keyring.previous.map((key) => key.id)).toEqual([keyIdFor(Buffer.from(older, 'base64'))]);
  });

  it.runIf(process.platform !== 'win32')('is refused when other users may read it', async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'secret.key');
    fs.writeFileSync(file, `${generateKey()}\n`);
    fs.chmodSync(file, 0o640);
    const error = await refusal(loadKeyring({ dataDir, dialect: 'sqlite' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`chmod 600 ${file}`);
  });

  it('is refused when a line is not a key, naming the line and not its content', async () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'secret.key'), `${generateKey()}\nhunter2\n`, { mode: 0o600 });
    const error = await refusal(loadKeyring({ dataDir, dialect: 'sqlite' }));
    expect(error.message).toMatch(/line 2/);
    expect(error.message).not.toContain('hunter2');
  });

  it('is refused when empty, rather than silently replaced', async () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'secret.key'), '\n', { mode: 0o600 });
    const error = await refusal(loadKeyring({ dataDir, dialect: 'sqlite' }));
    expect(error.message).toMatch(/holds no key/);
    expect(fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8')).toBe('\n');
  });

  it('is ignored when MAILROOM_SECRET_KEY is set', async () => {
    const dataDir = tempDir();
    const keyring = await loadKeyring({ dataDir, dialect: 'sqlite', secretKey: generateKey() });
    expect(keyring.source.kind).toBe('env');
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});
