import { Migrator, sql } from 'kysely';
import { AppError } from '../errors.ts';
import type { DatabaseHandle } from './connect.ts';
import { migrationProvider } from './migrations/index.ts';

/**
 * Brings the schema up to date. Safe to run from several processes at once: Kysely takes a lock
 * (an advisory lock on PostgreSQL) so only one applies each migration.
 */
export async function migrateToLatest({ db, dialect }: DatabaseHandle): Promise<string[]> {
  // Kysely looks for its bookkeeping tables in every schema unless told which: another Mailroom
  // (or a test) in a schema beside ours would make it skip creating our own.
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
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
