import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createContainer } from '../src/container.ts';
import { createLogger } from '../src/logger.ts';
import { newId } from '../src/db/ids.ts';
import { decryptSecret, encryptSecret, keyIdOf } from '../src/secrets/cipher.ts';
import { generateKey, loadKeyring, type Keyring } from '../src/secrets/keyring.ts';
import { exited, runMailroom, startMailroom } from './support/cli.ts';
import { testDialects, useTestDatabase, type TestDatabase } from './support/dialects.ts';

/** Adds an account with both passwords through the service, as the API would, under `env`'s key. */
async function addAccount(env: Record<string, string>): Promise<string> {
  const container = await createContainer(loadConfig({ ...env, LOG_LEVEL: 'silent' }), {
    logger: createLogger('silent'),
  });
  try {
    const { user, organisation } = await container.services.users.createUserInOrganisation({
      organisationName: `Rotate ${Math.random()}`,
      email: `rotate-${Math.random()}@acme.test`,
      password: 'rotate-password',
    });
    const account = await container.services.accounts.create(
      { userId: user.id, orgId: organisation.id, role: 'admin' },
      {
        type: 'own',
        name: 'Rotated',
        email: 'rotated@acme.test',
        smtp: { host: 'smtp.acme.test', username: 'r', password: 'smtp-rotate-secret' },
        incoming: {
          protocol: 'imap',
          host: 'imap.acme.test',
          username: 'r',
          password: 'imap-rotate-secret',
        },
      },
    );
    await container.services.dkim.generate('rotate.test');
    return account.id;
  } finally {
    await container.close();
  }
}

describe.each(testDialects)('mailroom secrets rotate on the accounts table, %s', (dialect) => {
  const database = useTestDatabase(dialect);

  async function storedSecret(id: string): Promise<string> {
    const row = await database.current.db
      .selectFrom('accounts')
      .select('secrets')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.secrets!;
  }

  it('re-encrypts every account under the new key and loses nothing', async () => {
    const env = { ...database.current.env };
    if (dialect === 'postgres') {
      const oldKey = env.MAILROOM_SECRET_KEY!;
      const id = await addAccount(env);
      const before = await storedSecret(id);
      const newKey = generateKey();
      const rotated = await runMailroom(['secrets', 'rotate'], {
        ...env,
        MAILROOM_SECRET_KEY: newKey,
        MAILROOM_SECRET_KEY_PREVIOUS: oldKey,
      });
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stdout).toMatch(/^rotated [1-9]\d* secret\(s\), 0 already current, 0 unreadable$/m);
      const after = await storedSecret(id);
      expect(keyIdOf(after)).not.toBe(keyIdOf(before));
      const onlyNew = await loadKeyring({ secretKey: newKey, dataDir: '/nonexistent', dialect: 'postgres' });
      expect(JSON.parse(decryptSecret(onlyNew, after, id))).toEqual({
        smtp: 'smtp-rotate-secret',
        incoming: 'imap-rotate-secret',
      });
      return;
    }
    const id = await addAccount(env);
    const keyFile = path.join(env.DATA_DIR!, 'secret.key');
    const keyBefore = fs.readFileSync(keyFile, 'utf8');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);

    const rotated = await runMailroom(['secrets', 'rotate'], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    // The account's passwords and the DKIM key of its sending domain.
    expect(rotated.stdout).toContain('rotated 2 secret(s), 0 already current, 0 unreadable');
    const keyAfter = fs.readFileSync(keyFile, 'utf8');
    expect(keyAfter).not.toBe(keyBefore);
    expect(keyAfter.trim().split('\n')).toHaveLength(1);
    for (const secret of ['smtp-rotate-secret', 'imap-rotate-secret']) {
      expect(rotated.stdout + rotated.stderr).not.toContain(secret);
    }

    const keyring = await loadKeyring({ dataDir: env.DATA_DIR!, dialect: 'sqlite' });
    expect(JSON.parse(decryptSecret(keyring, await storedSecret(id), id))).toEqual({
      smtp: 'smtp-rotate-secret',
      incoming: 'imap-rotate-secret',
    });
    const container = await createContainer(loadConfig({ ...env, LOG_LEVEL: 'silent' }), {
      logger: createLogger('silent'),
    });
    try {
      expect(await container.services.dkim.signerFor('rotate.test')).toMatchObject({ domain: 'rotate.test' });
    } finally {
      await container.close();
    }
  });
});

/**
 * The rotation killed halfway (SIGKILL, so nothing is cleaned up: as a crash or an operator's
 * kill -9), then run again: the rerun finishes the job, no secret is lost, and every one reads back
 * under the new key alone. A thousand accounts make the run long enough to be caught after its
 * first page of 200.
 */
describe.each(testDialects)('mailroom secrets rotate interrupted halfway, %s', (dialect) => {
  const database = useTestDatabase(dialect);
  const ACCOUNTS = 1_000;

  type Passwords = { smtp: string; incoming: string };

  /** Copies of the template account, each with passwords of its own under the keyring's current key. */
  async function cloneAccounts(db: TestDatabase['db'], templateId: string, keyring: Keyring) {
    const template = await db
      .selectFrom('accounts')
      .selectAll()
      .where('id', '=', templateId)
      .executeTakeFirstOrThrow();
    const expected = new Map<string, Passwords>();
    for (let start = 0; start < ACCOUNTS; start += 250) {
      const rows = Array.from({ length: Math.min(250, ACCOUNTS - start) }, (_, offset) => {
        const index = start + offset;
        const id = newId();
        const passwords = { smtp: `smtp-secret-${index}-${id}`, incoming: `imap-secret-${index}-${id}` };
        expected.set(id, passwords);
        return {
          ...template,
          id,
          name: `Clone ${index}`,
          email: `clone-${index}@acme.test`,
          secrets: encryptSecret(keyring, JSON.stringify(passwords), id),
        };
      });
      await db.insertInto('accounts').values(rows).execute();
    }
    return expected;
  }

  const rotateKeys = (env: Record<string, string>) => ({
    secretKey: env.MAILROOM_SECRET_KEY,
    previousKeys: env.MAILROOM_SECRET_KEY_PREVIOUS,
  });

  async function secretRows(db: TestDatabase['db']) {
    return db.selectFrom('accounts').select(['id', 'secrets']).where('secrets', 'is not', null).execute();
  }

  it('is killed after its first page, run again, and every secret reads back under the new key', async () => {
    const env = { ...database.current.env };
    const { db } = database.current;
    const newKey = generateKey();
    const rotateEnv =
      dialect === 'postgres'
        ? { ...env, MAILROOM_SECRET_KEY: newKey, MAILROOM_SECRET_KEY_PREVIOUS: env.MAILROOM_SECRET_KEY! }
        : env;
    const keyFile = path.join(env.DATA_DIR ?? '/nonexistent', 'secret.key');
    const templateId = await addAccount(env);
    const oldKeyring =
      dialect === 'postgres'
        ? await loadKeyring({ secretKey: env.MAILROOM_SECRET_KEY!, dataDir: '/nonexistent', dialect })
        : await loadKeyring({ dataDir: env.DATA_DIR!, dialect });
    const expected = await cloneAccounts(db, templateId, oldKeyring);
    expected.set(templateId, { smtp: 'smtp-rotate-secret', incoming: 'imap-rotate-secret' });

    // Killed as soon as it says it has done its first page.
    const child = startMailroom(['secrets', 'rotate'], rotateEnv);
    const deadline = Date.now() + 60_000;
    while (!/checked \d+ secret\(s\)/.test(child.output()) && child.exitCode === null) {
      if (Date.now() > deadline) throw new Error(`no progress within 60 s:\n${child.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill('SIGKILL');
    await exited(child);
    expect(child.signalCode, child.output()).toBe('SIGKILL');

    const newKeyring =
      dialect === 'postgres'
        ? await loadKeyring({ secretKey: newKey, dataDir: '/nonexistent', dialect })
        : await loadKeyring({ dataDir: env.DATA_DIR!, dialect });
    const newId_ = newKeyring.current.id;
    expect(newId_).not.toBe(oldKeyring.current.id);
    if (dialect === 'sqlite') {
      // the new key first, the old one kept for reading until the job is done
      expect(fs.readFileSync(keyFile, 'utf8').trim().split('\n')).toHaveLength(2);
      expect(newKeyring.previous.map((key) => key.id)).toEqual([oldKeyring.current.id]);
    }
    const halfway = await secretRows(db);
    const underNew = halfway.filter((row) => keyIdOf(row.secrets!) === newId_).length;
    expect(underNew, 'rows rotated before the kill').toBeGreaterThan(0);
    expect(halfway.length - underNew, 'rows still under the old key').toBeGreaterThan(0);
    // Halfway, every row is its old ciphertext or its new one: all readable with both keys.
    const both =
      dialect === 'postgres'
        ? await loadKeyring({ ...rotateKeys(rotateEnv), dataDir: '/nonexistent', dialect })
        : newKeyring;
    for (const row of halfway) {
      expect(JSON.parse(decryptSecret(both, row.secrets!, row.id))).toEqual(expected.get(row.id));
    }

    const rerun = await runMailroom(['secrets', 'rotate'], rotateEnv);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/^rotated [1-9]\d* secret\(s\), [1-9]\d* already current, 0 unreadable$/m);
    if (dialect === 'sqlite') {
      expect(rerun.stderr).toContain(`continuing an unfinished rotation to key ${newId_}`);
      expect(fs.readFileSync(keyFile, 'utf8').trim().split('\n')).toHaveLength(1);
    }
    for (const secret of ['smtp-rotate-secret', 'smtp-secret-0-']) {
      expect(rerun.stdout + rerun.stderr).not.toContain(secret);
    }

    // Nothing lost: every account still has its secrets, each readable under the new key alone.
    const onlyNew =
      dialect === 'postgres'
        ? await loadKeyring({ secretKey: newKey, dataDir: '/nonexistent', dialect })
        : await loadKeyring({ dataDir: env.DATA_DIR!, dialect });
    expect(onlyNew.previous).toEqual([]);
    const after = await secretRows(db);
    expect(after).toHaveLength(expected.size);
    for (const row of after) {
      expect(keyIdOf(row.secrets!)).toBe(newId_);
      expect(JSON.parse(decryptSecret(onlyNew, row.secrets!, row.id))).toEqual(expected.get(row.id));
    }
    // The other stores too: the DKIM key signs under the new key alone.
    const container = await createContainer(
      loadConfig({ ...rotateEnv, MAILROOM_SECRET_KEY_PREVIOUS: '', LOG_LEVEL: 'silent' }),
      {
        logger: createLogger('silent'),
      },
    );
    try {
      expect(await container.services.dkim.signerFor('rotate.test')).toMatchObject({ domain: 'rotate.test' });
    } finally {
      await container.close();
    }
  }, 60_000);
});
