import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Deleting mail here, and from the server as the account's delivery options say. A placement
 * deleted here stays as a tombstone (so a re-read of the server never brings the mail back) until
 * the server copy is gone too; a message left without any live placement keeps only what
 * de-duplication needs.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  await db.schema.alterTable('message_placements').addColumn('deleted_at', timestamp).execute();
  await db.schema.alterTable('message_placements').addColumn('server_removed_at', timestamp).execute();
  await db.schema.alterTable('messages').addColumn('deleted_at', timestamp).execute();
  await db.schema
    .createIndex('message_placements_account_created')
    .on('message_placements')
    .columns(['account_id', 'created_at'])
    .execute();
}
