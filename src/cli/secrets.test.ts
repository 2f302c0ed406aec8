import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, keyIdOf } from '../secrets/cipher.ts';
import { loadKeyring, generateKey, type Keyring } from '../secrets/keyring.ts';
import { interruptedAfter, MemorySecretStore, tempDir } from '../secrets/testing.ts';
import type { SecretStore } from '../secrets/rotate.ts';
import { UsageError, type CliIo } from './io.ts';
import { secretsCommand, type SecretsCommandDeps } from './secrets.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function collect(into: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      into.push(chunk.toString());
      done();
    },
  });
}

/** The command in-process, with the keyring loaded the way the wiring in main.ts does. */
function setup(env: Record<string, string> = {}) {
  const dataDir = tempDir();
  const store = new MemorySecretStore();
  const keyFile = path.join(dataDir, 'secret.key');
  const load = () =>
    loadKeyring({
      secretKey: env.MAILROOM_SECRET_KEY,
      previousKeys: env.MAILROOM_SECRET_KEY_PREVIOUS,
      dataDir,
      dialect: 'sqlite',
    });
  async function run(args: string[], through: SecretStore = store): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { stdin: new PassThrough(), stdout: collect(out), stderr: collect(err), env };
    const deps: SecretsCommandDeps = { loadKeyring: load, withStores: (work) => work([through]) };
    const code = await secretsCommand(args, io, deps);
    return { code, stdout: out.join(''), stderr: err.join('') };
  }
  function fill(keyring: Keyring, count: number, from = 0) {
    for (let n = from; n < from + count; n++) {
      const id = `acc-${String(n).padStart(3, '0')}`;
      store.rows.set(id, { id, context: id, ciphertext: encryptSecret(keyring, `password ${id}`, id) });
    }
  }
  function keyIds(): Set<string> {
    return new Set([...store.rows.values()].map((row) => keyIdOf(row.ciphertext)));
  }
  function expectAllReadable(keyring: Keyring) {
    for (const row of store.rows.values()) {
      expect(decryptSecret(keyring, row.ciphertext, row.context)).toBe(`password ${row.id}`);
    }
  }
  const keyFileLines = () => fs.readFileSync(keyFile, 'utf8').trim().split('\n');
  return { store, load, run, fill, keyIds, expectAllReadable, keyFileLines };
}

describe('mailroom secrets generate-key', () => {
  it('prints only a new 32-byte key in base64, different each time', async () => {
    const { run } = setup();
    const first = await run(['generate-key']);
    const second = await run(['generate-key']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(Buffer.from(first.stdout.trim(), 'base64')).toHaveLength(32);
    expect(first.stderr).toBe('');
    expect(second.stdout).not.toBe(first.stdout);
  });

  it('refuses a missing or unknown subcommand and extra arguments', async () => {
    const { run } = setup();
    await expect(run([])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['rotat'])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['generate-key', 'extra'])).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_PARSE_ARGS/),
    });
  });
});

describe('mailroom secrets rotate, with the key file', () => {
  it('re-encrypts everything under a new key and leaves the file with that key alone', async () => {
    const cli = setup();
    const original = await cli.load();
    cli.fill(original, 5);
    const { code, stdout, stderr } = await cli.run(['rotate']);
    expect(code).toBe(0);
    expect(stdout).toBe('rotated 5 secret(s), 0 already current, 0 unreadable\n');
    const after = await cli.load();
    expect(after.current.id).not.toBe(original.current.id);
    expect(after.previous).toEqual([]);
    expect(cli.keyFileLines()).toHaveLength(1);
    expect(cli.keyIds()).toEqual(new Set([after.current.id]));
    cli.expectAllReadable(after);
    expect(stderr).toContain(`removed key(s) ${original.current.id}`);
    for (const line of cli.keyFileLines()) expect(stdout + stderr).not.toContain(line);
  });

  it('continues an interrupted rotation on rerun, without making yet another key', async () => {
    const cli = setup();
    cli.fill(await cli.load(), 6);
    await expect(cli.run(['rotate'], interruptedAfter(cli.store, 2))).rejects.toThrow('interrupted');
    const interrupted = await cli.load();
    expect(cli.keyFileLines()).toHaveLength(2);
    cli.expectAllReadable(interrupted);

    const rerun = await cli.run(['rotate']);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain(`continuing an unfinished rotation to key ${interrupted.current.id}`);
    expect(rerun.stdout).toBe('rotated 4 secret(s), 2 already current, 0 unreadable\n');
    const finished = await cli.load();
    expect(finished.current.id).toBe(interrupted.current.id);
    expect(finished.previous).toEqual([]);
    expect(cli.keyIds()).toEqual(new Set([finished.current.id]));
    cli.expectAllReadable(finished);
  });

  it('exits 1 and keeps the older keys when a secret is unreadable', async () => {
    const cli = setup();
    cli.fill(await cli.load(), 3);
    cli.store.rows.set('acc-999', { id: 'acc-999', context: 'acc-999', ciphertext: 'garbage' });
    const { code, stdout, stderr } = await cli.run(['rotate']);
    expect(code).toBe(1);
    expect(stdout).toBe('rotated 3 secret(s), 0 already current, 1 unreadable\n');
    expect(stderr).toContain('unreadable: acc-999');
    expect(cli.keyFileLines()).toHaveLength(2);
    expect(cli.store.rows.get('acc-999')!.ciphertext).toBe('garbage');
  });
});

describe('mailroom secrets rotate, with keys in the environment', () => {
  it('without MAILROOM_SECRET_KEY_PREVIOUS explains the procedure and only checks', async () => {
    const key = generateKey();
    const cli = setup({ MAILROOM_SECRET_KEY: key });
    const keyring = await cli.load();
    cli.fill(keyring, 2);
    const { code, stdout, stderr } = await cli.run(['rotate']);
    expect(code).toBe(0);
    expect(stdout).toBe('rotated 0 secret(s), 2 already current, 0 unreadable\n');
    expect(stderr).toContain('MAILROOM_SECRET_KEY_PREVIOUS is not set');
    expect(stderr).toContain('mailroom secrets generate-key');
    expect(stdout + stderr).not.toContain(key);
  });

  it('re-encrypts from the previous key and says to drop MAILROOM_SECRET_KEY_PREVIOUS', async () => {
    const [older, newer] = [generateKey(), generateKey()];
    const before = setup({ MAILROOM_SECRET_KEY: older });
    const oldKeyring = await before.load();
    const cli = setup({ MAILROOM_SECRET_KEY: newer, MAILROOM_SECRET_KEY_PREVIOUS: older });
    cli.fill(oldKeyring, 4);
    const keyring = await cli.load();
    cli.fill(keyring, 1, 4); // written by a process already restarted with the new key
    const { code, stdout, stderr } = await cli.run(['rotate']);
    expect(code).toBe(0);
    expect(stdout).toBe('rotated 4 secret(s), 1 already current, 0 unreadable\n');
    expect(stderr).toMatch(/remove MAILROOM_SECRET_KEY_PREVIOUS/);
    expect(cli.keyIds()).toEqual(new Set([keyring.current.id]));
    cli.expectAllReadable(await setup({ MAILROOM_SECRET_KEY: newer }).load());
    expect(stdout + stderr).not.toContain(older);
    expect(stdout + stderr).not.toContain(newer);
  });
});
