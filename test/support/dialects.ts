import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { DatabaseConfig } from '../../src/config.ts';
import { connectDatabase, type DatabaseHandle } from '../../src/db/connect.ts';
import type { Dialect } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

const allDialects: Dialect[] = ['sqlite', 'postgres'];

/** Both by default; `MAILROOM_TEST_DIALECTS=sqlite` is the explicit opt-out of PostgreSQL. */
export const testDialects: Dialect[] = (process.env.MAILROOM_TEST_DIALECTS ?? allDialects.join(','))
  .split(',')
  .map((name) => name.trim())
  .filter((name): name is Dialect => (allDialects as string[]).includes(name));

/** Every PostgreSQL test process shares one key, as the machines of one deployment would. */
export const testSecretKey = randomBytes(32).toString('base64');

/** The test peers are on loopback: private hosts allowed (see TestDatabase.env). */
const testPeersEnv = { MAILROOM_ALLOW_PRIVATE_HOSTS: 'true' };

export const testPostgresUrl =
  process.env.MAILROOM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase extends DatabaseHandle {
  /** How a separate process (the CLI, `serve`) reaches this same database. */
  config: DatabaseConfig;
  /**
   * The environment variables that point Mailroom at this database, plus
   * MAILROOM_ALLOW_PRIVATE_HOSTS=true: the test peers (Dovecot, Postfix, sinks, webhook receivers)
   * listen on loopback, which production refuses. A test of the refusal sets it to 'false'.
   */
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** A fresh, migrated database: a temporary SQLite file, or a new PostgreSQL schema. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-test-'));
    const config: DatabaseConfig = { dialect: 'sqlite', file: path.join(dataDir, 'mailroom.sqlite') };
    const handle = connectDatabase(config);
    await migrateToLatest(handle);
    return {
      ...handle,
      config,
      env: { DATA_DIR: dataDir, ...testPeersEnv },
      async drop() {
        await handle.db.destroy();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `mr_test_${randomBytes(6).toString('hex')}`;
  await withPostgresClient((client) => client.query(`create schema ${schema}`));
  const url = new URL(testPostgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const config: DatabaseConfig = { dialect: 'postgres', url: url.toString(), poolSize: 5 };
  const handle = connectDatabase(config);
  await migrateToLatest(handle);
  return {
    ...handle,
    config,
    env: { DATABASE_URL: config.url, MAILROOM_SECRET_KEY: testSecretKey, ...testPeersEnv },
    async drop() {
      await handle.db.destroy();
      await withPostgresClient((client) => client.query(`drop schema ${schema} cascade`));
    },
  };
}

export async function withPostgresClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testPostgresUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Registers a fresh database for the enclosing `describe` block (one per test file and dialect),
 * dropped when the block ends. Read `.current` inside tests and hooks.
 */
export function useTestDatabase(dialect: Dialect): { readonly current: TestDatabase } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    await database?.drop();
  });
  return {
    get current() {
      if (!database) throw new Error('the test database is only ready inside tests and hooks');
      return database;
    },
  };
}
