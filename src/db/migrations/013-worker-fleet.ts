import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * The processes that share the database: each worker's heartbeat, and which worker holds each
 * account (keeps its IDLE connection and its memory-only passwords). A hold lasts while its
 * worker's heartbeat is fresh, so one heartbeat renews all of a worker's holds at once.
 * `accounts.password_holder` names the worker that has the account's memory-only passwords (the
 * kinds in `memory_kinds`); only that worker sends and reads for such an account.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('workers')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('host', 'text', (col) => col.notNull())
    .addColumn('pid', 'integer', (col) => col.notNull())
    .addColumn('started_at', timestamp, (col) => col.notNull())
    .addColumn('heartbeat_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema
    .createTable('account_holds')
    .addColumn('account_id', 'text', (col) => col.primaryKey().references('accounts.id').onDelete('cascade'))
    .addColumn('worker_id', 'text', (col) => col.notNull())
    .addColumn('held_since', timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('account_holds_worker').on('account_holds').columns(['worker_id']).execute();
  await db.schema.alterTable('accounts').addColumn('password_holder', 'text').execute();
  await db.schema
    .alterTable('accounts')
    .addColumn('memory_kinds', 'text', (col) => col.notNull().defaultTo(''))
    .execute();
}
