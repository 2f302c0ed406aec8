import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Marketing accounts: why a contact is not mailed (suppression), the DKIM keys of the sending
 * domains, the bounce notices the intake received, and each marketing account's quotas.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  for (const column of ['unsubscribed_at', 'complained_at', 'faulty_at']) {
    await db.schema.alterTable('contacts').addColumn(column, timestamp).execute();
  }
  await db.schema.alterTable('accounts').addColumn('quota_hourly', 'integer').execute();
  await db.schema.alterTable('accounts').addColumn('quota_daily', 'integer').execute();
  await db.schema
    .createIndex('messages_account_sent')
    .on('messages')
    .columns(['account_id', 'sent_at'])
    .execute();

  await db.schema
    .createTable('dkim_keys')
    .addColumn('domain', 'text', (col) => col.primaryKey())
    .addColumn('selector', 'text', (col) => col.notNull())
    /** The private key (PEM), encrypted like the account passwords (src/secrets). */
    .addColumn('private_key', 'text', (col) => col.notNull())
    .addColumn('public_key', 'text', (col) => col.notNull())
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('bounce_notices')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('mail_from', 'text', (col) => col.notNull())
    .addColumn('rcpt_to', 'text', (col) => col.notNull())
    .addColumn('message_id', 'text', (col) => col.references('messages.id').onDelete('set null'))
    .addColumn('recipient_id', 'text', (col) => col.references('message_recipients.id').onDelete('set null'))
    .addColumn('raw_key', 'text', (col) => col.notNull())
    .addColumn('size', 'integer', (col) => col.notNull())
    /** JSON: the classifier's verdict, once the notice went through the bounce pipeline. */
    .addColumn('verdict', 'text')
    .addColumn('received_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('bounce_notices_message').on('bounce_notices').column('message_id').execute();
}
