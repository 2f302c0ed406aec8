import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * The request rate limits' counters, for processes that share one database: with several `serve`
 * processes behind a load balancer, counts kept in each process's memory let a client make N times
 * a limit. One row per limited key (rule, user or IP), its window's start in milliseconds since the
 * epoch, so the arithmetic is the same in both dialects. Unlogged on PostgreSQL: a count is worth
 * no write-ahead log and no wait for its flush on every limited request, and a crash that empties
 * the table only starts every window afresh.
 */
export async function up(db: Kysely<unknown>, { dialect }: MigrationContext): Promise<void> {
  let table = db.schema.createTable('rate_limits');
  if (dialect === 'postgres') table = table.modifyFront(sql`unlogged`);
  await table
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('window_started_at', 'bigint', (col) => col.notNull())
    .addColumn('hits', 'integer', (col) => col.notNull())
    .execute();
}
