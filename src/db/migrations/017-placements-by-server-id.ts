import type { Kysely } from 'kysely';

/**
 * A JMAP sync asks which of the messages whose mailboxes changed are stored already, by the
 * server's id: those it has are not downloaded again for a flag change. Without this index each
 * such question reads every placement of the account.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('message_placements_account_server_id')
    .on('message_placements')
    .columns(['account_id', 'server_id'])
    .execute();
}
