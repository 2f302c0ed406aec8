import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Receiving: what an incoming message carries beyond an outgoing one, where each copy of it sits
 * (one stored message may be seen through several accounts), the raw messages, the per-account
 * sync state, and the events that automation reads.
 */
export async function up(db: Kysely<unknown>, { dialect, timestamp }: MigrationContext): Promise<void> {
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';

  for (const [column, type] of [
    ['from_address', 'text'],
    ['from_name', 'text'],
    ['in_reply_to', 'text'],
    ['thread_parent_id', 'text'],
    ['content_hash', 'text'],
    ['raw_key', 'text'],
    ['raw_size', 'integer'],
    ['parse_error', 'text'],
    ['received_at', timestamp],
    ['header_date', timestamp],
    ['incoming_attachments', 'text'],
    ['sent_copy', 'text'],
  ] as const) {
    await db.schema.alterTable('messages').addColumn(column, type).execute();
  }
  await db.schema
    .alterTable('messages')
    .addColumn('raw_truncated', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  // One stored message per organisation for the same mail, however many mailboxes it reached.
  await db.schema
    .createIndex('messages_incoming_unique')
    .on('messages')
    .columns(['org_id', 'message_id_header', 'content_hash'])
    .unique()
    .where(sql.ref('direction'), '=', 'in')
    .execute();
  // Threading looks messages up by their Message-ID header.
  await db.schema
    .createIndex('messages_message_id')
    .on('messages')
    .columns(['org_id', 'message_id_header'])
    .execute();
  await db.schema
    .createIndex('messages_sent_copy')
    .on('messages')
    .columns(['account_id', 'sent_copy'])
    .execute();

  await db.schema
    .createTable('message_placements')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('message_id', 'text', (col) => col.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (col) => col.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('folder', 'text', (col) => col.notNull())
    .addColumn('server_id', 'text', (col) => col.notNull())
    .addColumn('is_private', 'integer', (col) => col.notNull())
    .addColumn('contact_id', 'text', (col) => col.references('contacts.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addUniqueConstraint('message_placements_account_message', ['account_id', 'message_id'])
    .execute();
  await db.schema
    .createIndex('message_placements_message')
    .on('message_placements')
    .column('message_id')
    .execute();
  await db.schema
    .createIndex('message_placements_contact')
    .on('message_placements')
    .columns(['contact_id', 'message_id'])
    .execute();

  await db.schema
    .createTable('raw_messages')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('content', blob, (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('mailbox_syncs')
    .addColumn('account_id', 'text', (col) => col.primaryKey().references('accounts.id').onDelete('cascade'))
    .addColumn('cursor', 'text')
    .addColumn('next_sync_at', timestamp, (col) => col.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', timestamp)
    .addColumn('auth_failures', 'integer', (col) => col.notNull())
    .addColumn('last_sync_at', timestamp)
    .addColumn('imported', 'integer', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('mailbox_syncs_due').on('mailbox_syncs').column('next_sync_at').execute();

  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('account_id', 'text')
    .addColumn('message_id', 'text')
    .addColumn('contact_id', 'text')
    .addColumn('payload', 'text', (col) => col.notNull())
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('events_org').on('events').columns(['org_id', 'id']).execute();
}
