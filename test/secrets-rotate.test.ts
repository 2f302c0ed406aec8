import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createContainer } from '../src/container.ts';
import { createLogger } from '../src/logger.ts';
import { decryptSecret, keyIdOf } from '../src/secrets/cipher.ts';
import { generateKey, loadKeyring } from '../src/secrets/keyring.ts';
import { runMailroom } from './support/cli.ts';
import { testDialects, useTestDatabase } from './support/dialects.ts';

describe.each(testDialects)('mailroom secrets rotate on the accounts table, %s', (dialect) => {
  const database = useTestDatabase(dialect);

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
