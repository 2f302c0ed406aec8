import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuthService } from '../src/domains/users/auth.service.ts';
import { runMailroom } from './support/cli.ts';
import { testDialects, useTestDatabase } from './support/dialects.ts';

describe.each(testDialects)('the mailroom CLI on %s', (dialect) => {
  const database = useTestDatabase(dialect);
  /** Arguments as one line, split on spaces, as an operator would type them. */
  const run = (line: string, stdin?: string) => runMailroom(line.split(' '), database.current.env, stdin);
  const users = () =>
    database.current.db
      .selectFrom('users')
      .innerJoin('organisations', 'organisations.id', 'users.org_id')
      .select(['users.email', 'users.role', 'organisations.name as org'])
      .orderBy('users.email')
      .execute();

  it('creates the organisation with its first user as admin, then joins it', async () => {
    const first = await run('user create --org Acme --email Boss@Acme.test --password boss-password');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^created admin boss@acme\.test \(.+\) in new organisation "Acme"\n$/);

    const second = await run(
      'user create --org Acme --email rep@acme.test --password-stdin --name Rep',
      'rep-password\n',
    );
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('created member rep@acme.test');
    expect(second.stdout).toContain('existing organisation "Acme"');

    const third = await run(
      'user create --org Acme --email ops@acme.test --password ops-password --role admin',
    );
    expect(third.stdout).toContain('created admin ops@acme.test');

    expect(await users()).toEqual([
      { email: 'boss@acme.test', role: 'admin', org: 'Acme' },
      { email: 'ops@acme.test', role: 'admin', org: 'Acme' },
      { email: 'rep@acme.test', role: 'member', org: 'Acme' },
    ]);
  });

  it('prints only the token, and the token authenticates as that user', async () => {
    const result = await run('token create --email rep@acme.test');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^mr_[\w-]{40,}\n$/);
    const auth = createAuthService({ db: database.current.db, now: () => new Date(), sessionTtlHours: 1 });
    const actor = await auth.authenticate({ bearerToken: result.stdout.trim() });
    expect(actor).toMatchObject({ role: 'member', via: 'token' });
  });

  it('refuses bad input with a clear message and stores nothing', async () => {
    const before = await users();
    const missing = await run('user create --email x@acme.test --password long-enough');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --org');

    const shortPassword = await run('user create --org Acme --email x@acme.test --password short');
    expect(shortPassword.code).toBe(1);
    expect(shortPassword.stderr).toContain('VALIDATION_FAILED');
    expect(shortPassword.stderr).toContain('password: must be at least 8 characters');
    expect(shortPassword.stderr).not.toContain('short\n');

    const taken = await run('user create --org Other --email boss@acme.test --password long-enough');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('EMAIL_TAKEN');

    const badRole = await run(
      'user create --org Acme --email y@acme.test --password long-enough --role owner',
    );
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('--role must be admin or member');

    const unknownUser = await run('token create --email ghost@acme.test');
    expect(unknownUser.code).toBe(1);
    expect(unknownUser.stderr).toContain('USER_NOT_FOUND');
    expect(unknownUser.stdout).toBe('');

    expect(await users()).toEqual(before);
    const orgs = await database.current.db.selectFrom('organisations').select('name').execute();
    expect(orgs.map((org) => org.name)).toEqual(['Acme']);
  });

  it.skipIf(dialect !== 'postgres')(
    'refuses to run against PostgreSQL without MAILROOM_SECRET_KEY',
    async () => {
      const { DATABASE_URL } = database.current.env;
      const result = await runMailroom(['token', 'create', '--email', 'rep@acme.test'], {
        DATABASE_URL: DATABASE_URL!,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('CONFIG_INVALID');
      expect(result.stderr).toContain('MAILROOM_SECRET_KEY is required with DATABASE_URL');
      expect(result.stdout).toBe('');
    },
  );

  it('answers an unknown command with the usage and exit code 2', async () => {
    const result = await run('frobnicate');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command: frobnicate');
    expect(result.stderr).toContain('Usage: mailroom <command>');
  });
});

describe('mailroom migrate', () => {
  it('creates and migrates a new SQLite database, then finds it up to date', async () => {
    const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-migrate-')), 'not-yet-there');
    try {
      const first = await runMailroom(['migrate'], { DATA_DIR: dataDir });
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^applied \d+ migration\(s\): 001-foundation, 002-accounts, \S.*\n$/);
      expect(fs.existsSync(path.join(dataDir, 'mailroom.sqlite'))).toBe(true);
      const second = await runMailroom(['migrate'], { DATA_DIR: dataDir });
      expect(second).toMatchObject({ code: 0, stdout: 'database is up to date\n' });
    } finally {
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  it('names a bad environment variable instead of starting', async () => {
    const result = await runMailroom(['migrate'], {
      DATABASE_URL: 'mysql://root:topsecret@db/x',
      PORT: 'eighty',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CONFIG_INVALID');
    expect(result.stderr).toContain('PORT must be a whole number');
    expect(result.stderr).toContain('DATABASE_URL must start with postgres://');
    expect(result.stderr).not.toContain('topsecret');
  });
});
