import { sql, type Kysely } from 'kysely';

/**
 * Every worker's heartbeat turn looks for accounts whose memory-only passwords are with a worker
 * that is gone, and for the ones that are with itself. Few accounts have such a holder, so a partial
 * index over those few keeps each turn from reading every account (100,000 of them, every five
 * seconds, for each worker).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('accounts_password_holder')
    .on('accounts')
    .column('password_holder')
    .where(sql.ref('password_holder'), 'is not', null)
    .execute();
}
