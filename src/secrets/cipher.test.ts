import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { decryptSecret, encryptSecret, keyIdOf } from './cipher.ts';
import { generateKey, loadKeyring } from './keyring.ts';

const keyringOf = (current: string, previous: string[] = []) =>
  loadKeyring({
    secretKey: current,
    previousKeys: previous.join(','),
    dataDir: '/nonexistent',
    dialect: 'sqlite',
  });

const plaintext = 'p4ssw0rd-ÄÖÜ-🔑';

function unreadable(work: () => unknown): AppError {
  let thrown: unknown;
  try {
    work();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AppError);
  const error = thrown as AppError;
  expect(error.code).toBe('SECRET_UNREADABLE');
  expect(error.message).not.toContain(plaintext);
  return error;
}

/** Changes the first character of one dot-separated part, which always changes the decoded bytes. */
function tamper(ciphertext: string, part: number): string {
  const parts = ciphertext.split('.');
  const text = parts[part]!;
  parts[part] = (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
  return parts.join('.');
}

describe('AES-256-GCM secrets', () => {
  it('round-trips, with and without a context, including an empty secret', async () => {
    const keyring = await keyringOf(generateKey());
    expect(decryptSecret(keyring, encryptSecret(keyring, plaintext))).toBe(plaintext);
    expect(decryptSecret(keyring, encryptSecret(keyring, plaintext, 'account-1'), 'account-1')).toBe(
      plaintext,
    );
    expect(decryptSecret(keyring, encryptSecret(keyring, ''))).toBe('');
  });

  it('writes v1.<keyId>.<iv>.<tag>.<ciphertext> and never the plaintext', async () => {
    const keyring = await keyringOf(generateKey());
    const ciphertext = encryptSecret(keyring, plaintext);
    const [version, keyId, iv, tag, data, ...rest] = ciphertext.split('.');
    expect(rest).toEqual([]);
    expect(version).toBe('v1');
    expect(keyId).toBe(keyring.current.id);
    expect(keyIdOf(ciphertext)).toBe(keyring.current.id);
    expect(Buffer.from(iv!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag!, 'base64url')).toHaveLength(16);
    expect(data).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(ciphertext).not.toContain(plaintext);
  });

  it('uses a fresh IV for every encryption', async () => {
    const keyring = await keyringOf(generateKey());
    const ciphertexts = Array.from({ length: 50 }, () => encryptSecret(keyring, plaintext));
    expect(new Set(ciphertexts).size).toBe(50);
    expect(new Set(ciphertexts.map((text) => text.split('.')[2])).size).toBe(50);
  });

  it('decrypts with a previous key and encrypts with the current one', async () => {
    const [older, newer] = [generateKey(), generateKey()];
    const before = await keyringOf(older);
    const after = await keyringOf(newer, [older]);
    const old = encryptSecret(before, plaintext, 'ctx');
    expect(decryptSecret(after, old, 'ctx')).toBe(plaintext);
    expect(keyIdOf(encryptSecret(after, plaintext))).toBe(after.current.id);
    expect(keyIdOf(encryptSecret(after, plaintext))).not.toBe(before.current.id);
  });

  it.each([
    ['the IV', 2],
    ['the tag', 3],
    ['the ciphertext', 4],
  ])('refuses a ciphertext whose %s was altered', async (_part, index) => {
    const keyring = await keyringOf(generateKey());
    const ciphertext = encryptSecret(keyring, plaintext, 'ctx');
    const error = unreadable(() => decryptSecret(keyring, tamper(ciphertext, index), 'ctx'));
    expect(error.message).toMatch(/altered/);
  });

  it('refuses a ciphertext relabelled with the id of another key of the keyring', async () => {
    const [older, newer] = [generateKey(), generateKey()];
    const keyring = await keyringOf(newer, [older]);
    const ciphertext = encryptSecret(keyring, plaintext);
    const relabelled = ciphertext.replace(keyring.current.id, keyring.previous[0]!.id);
    expect(relabelled).not.toBe(ciphertext);
    unreadable(() => decryptSecret(keyring, relabelled));
  });

  it('refuses a ciphertext under a key the keyring does not hold, naming that key id', async () => {
    const stranger = await keyringOf(generateKey());
    const keyring = await keyringOf(generateKey());
    const error = unreadable(() => decryptSecret(keyring, encryptSecret(stranger, plaintext)));
    expect(error.message).toContain(stranger.current.id);
  });

  it('binds a ciphertext to its context: copied onto another record it does not decrypt', async () => {
    const keyring = await keyringOf(generateKey());
    const ciphertext = encryptSecret(keyring, plaintext, 'account-1');
    unreadable(() => decryptSecret(keyring, ciphertext, 'account-2'));
    unreadable(() => decryptSecret(keyring, ciphertext));
    unreadable(() => decryptSecret(keyring, encryptSecret(keyring, plaintext), 'account-1'));
  });

  it.each([
    ['an empty string', ''],
    ['a plaintext password', plaintext],
    ['another version', 'v2.0011aabb.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['too few parts', 'v1.0011aabb.AAAAAAAAAAAAAAAA'],
    ['a short IV', 'v1.0011aabb.AAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['a bad key id', 'v1.XYZ.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['characters outside base64url', 'v1.0011aabb.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AA+/'],
  ])('refuses %s as malformed, in decryptSecret and keyIdOf', async (_case, text) => {
    const keyring = await keyringOf(generateKey());
    expect(unreadable(() => decryptSecret(keyring, text)).message).toMatch(/format/);
    unreadable(() => keyIdOf(text));
  });
});
