import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * First run: `POST /api/setup` creates the first organisation and admin. The one row this table can
 * hold (its key may only be 'setup') is the guard against two people setting up at once: the second
 * insert waits for the first transaction and then fails on the key, on PostgreSQL and SQLite alike.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('first_run')
    .addColumn('id', 'text', (col) => col.primaryKey().check(sql`id = 'setup'`))
    .addColumn('org_id', 'text', (col) => col.references('organisations.id').onDelete('set null'))
    .addColumn('user_id', 'text', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .execute();
}
