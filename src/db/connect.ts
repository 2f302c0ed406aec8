import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config.ts';
import { checkpointInBackground } from './checkpointer.ts';
import type { Database, Dialect } from './database.ts';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
}

const TIMESTAMPTZ_OID = 1184;

/**
 * PostgreSQL renders `timestamptz` as `2026-11-23 06:42:26.12+01` in the session's time zone; the
 * domain speaks UTC ISO-8601, as SQLite stores it, so both dialects return the same strings.
 */
export function toIsoTimestamp(value: string): string {
  return new Date(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString();
}

const postgresTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) return toIsoTimestamp;
    return pg.types.getTypeParser(oid, format);
  },
};

/** Keeps the query planner's statistics fresh: SQLite needs asking; PostgreSQL's autovacuum does it. */
export async function refreshPlannerStatistics({ db, dialect }: DatabaseHandle): Promise<void> {
  if (dialect === 'sqlite') await sql`pragma optimize`.execute(db);
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query anew, and on SQLite preparing costs as much as running: the outbox
 * spent a third of its time there. Statements are kept by their SQL and reused (Kysely runs one
 * query at a time on the one connection, so a statement is never in use twice at once).
 */
function cachePreparedStatements(sqlite: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement) {
      cache.delete(source);
    } else {
      statement = prepare(source);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, statement);
    return statement;
  }) as SQLite.Database['prepare'];
  return sqlite;
}

export function connectDatabase(config: DatabaseConfig): DatabaseHandle {
  if (config.dialect === 'postgres') {
    const pool = new pg.Pool({
      connectionString: config.url,
      max: config.poolSize,
      types: postgresTypes,
    });
    // An idle connection that breaks (the server restarted, the network went) is dropped by the
    // pool, which then emits 'error': unheard, that would end the process. The next query opens a
    // new connection, and if the database is still away, that query fails where it is handled.
    pool.on('error', () => undefined);
    // A connection that breaks while checked out between two statements (inside a transaction)
    // emits 'error' on its client, which the pool listens to only while the client is idle: the
    // statement that follows fails where it is handled, and the pool drops the broken client.
    pool.on('connect', (client) => client.on('error', () => undefined));
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres' };
  }
  if (config.file !== ':memory:') fs.mkdirSync(path.dirname(config.file), { recursive: true });
  const sqlite = new SQLite(config.file);
  // WAL lets readers proceed while one writer writes; the busy timeout waits out a writer in
  // another process (a CLI command next to `serve`) instead of failing at once.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // Without statistics SQLite's planner picks slow plans for the account list at scale; this
  // gathers them where they are missing or stale (housekeeping repeats it while the tables grow).
  sqlite.pragma('optimize = 0x10002');
  if (config.file !== ':memory:') checkpointInBackground(sqlite, config.file);
  return {
    db: new Kysely<Database>({ dialect: new SqliteDialect({ database: cachePreparedStatements(sqlite) }) }),
    dialect: 'sqlite',
  };
}
