import { Migrator, sql } from 'kysely';
import { AppError } from '../errors.ts';
import type { DatabaseHandle } from './connect.ts';
import { migrationProvider } from './migrations/index.ts';

/**
 * Kysely's migrator for our migrations. Kysely looks for its bookkeeping tables in every schema
 * unless told which: another Mailroom (or a test) in a schema beside ours would make it skip
 * creating our own.
 */
async function migratorFor({ db, dialect }: DatabaseHandle): Promise<Migrator> {
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  return new Migrator({
    db,
    provider: migrationProvider(dialect),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

/**
 * The migrations not yet applied to this database, in order; empty when the schema is current.
 * Reads only. Throws when the database does not answer.
 */
export async function pendingMigrations(handle: DatabaseHandle): Promise<string[]> {
  const migrations = await (await migratorFor(handle)).getMigrations();
  return migrations.filter((migration) => migration.executedAt === undefined).map(({ name }) => name);
}

/**
 * Brings the schema up to date. Safe to run from several processes at once: Kysely takes a lock
 * (an advisory lock on PostgreSQL) so only one applies each migration.
 */
export async function migrateToLatest(handle: DatabaseHandle): Promise<string[]> {
  const migrator = await migratorFor(handle);
  const { error, results = [] } = await migrator.migrateToLatest();
  const failed = results.find((result) => result.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError(
      'MIGRATION_FAILED',
      `Migration ${failed?.migrationName ?? ''} failed: ${reason}`.replace('  ', ' '),
    );
  }
  return results.filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
