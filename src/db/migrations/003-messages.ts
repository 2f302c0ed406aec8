import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { dialect, timestamp }: MigrationContext): Promise<void> {
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';

  await db.schema
    .createTable('contacts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('email', 'text', (col) => col.notNull())
    .addColumn('email_folded', 'text', (col) => col.notNull())
    .addColumn('name', 'text')
    .addColumn('owner_id', 'text', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('fields', 'text', (col) => col.notNull())
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .addUniqueConstraint('contacts_org_email', ['org_id', 'email_folded'])
    .execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (col) => col.references('accounts.id').onDelete('set null'))
    .addColumn('created_by', 'text', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('direction', 'text', (col) => col.notNull().check(sql`direction in ('out', 'in')`))
    .addColumn('status', 'text', (col) =>
      col
        .notNull()
        .check(sql`status in ('ready', 'sending', 'sent', 'error', 'uncertain', 'cancelled', 'received')`),
    )
    .addColumn('message_id_header', 'text', (col) => col.notNull())
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('text_body', 'text')
    .addColumn('html_body', 'text')
    .addColumn('headers', 'text', (col) => col.notNull())
    .addColumn('is_private', 'integer', (col) => col.notNull())
    .addColumn('send_at', timestamp)
    .addColumn('attempts', 'integer', (col) => col.notNull())
    .addColumn('next_attempt_at', timestamp)
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', timestamp)
    .addColumn('sent_at', timestamp)
    .addColumn('error_code', 'text')
    .addColumn('reply_code', 'integer')
    .addColumn('reply_enhanced', 'text')
    .addColumn('reply_text', 'text')
    .addColumn('reply_command', 'text')
    .addColumn('idempotency_key', 'text')
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('messages_due').on('messages').columns(['status', 'next_attempt_at']).execute();
  await db.schema
    .createIndex('messages_org_list')
    .on('messages')
    .columns(['org_id', 'direction', 'id'])
    .execute();
  await db.schema.createIndex('messages_account').on('messages').columns(['account_id', 'status']).execute();
  await db.schema
    .createIndex('messages_idempotency')
    .on('messages')
    .columns(['created_by', 'idempotency_key'])
    .unique()
    .execute();

  await db.schema
    .createTable('message_recipients')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('message_id', 'text', (col) => col.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('to', 'cc', 'bcc')`))
    .addColumn('address', 'text', (col) => col.notNull())
    .addColumn('name', 'text')
    .addColumn('contact_id', 'text', (col) => col.references('contacts.id').onDelete('set null'))
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('reply_code', 'integer')
    .addColumn('reply_enhanced', 'text')
    .addColumn('reply_text', 'text')
    .addColumn('data_started_at', timestamp)
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('message_recipients_message')
    .on('message_recipients')
    .columns(['message_id', 'position'])
    .execute();
  await db.schema
    .createIndex('message_recipients_contact')
    .on('message_recipients')
    .column('contact_id')
    .execute();

  await db.schema
    .createTable('message_attachments')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('message_id', 'text', (col) => col.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('filename', 'text', (col) => col.notNull())
    .addColumn('content_type', 'text', (col) => col.notNull())
    .addColumn('size', 'integer', (col) => col.notNull())
    .addColumn('content', blob, (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('message_attachments_message')
    .on('message_attachments')
    .column('message_id')
    .execute();

  await db.schema
    .createTable('bounces')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('message_id', 'text', (col) => col.references('messages.id').onDelete('set null'))
    .addColumn('account_id', 'text', (col) => col.references('accounts.id').onDelete('set null'))
    .addColumn('contact_id', 'text', (col) => col.references('contacts.id').onDelete('set null'))
    .addColumn('recipient', 'text', (col) => col.notNull())
    .addColumn('bounce_type', 'text')
    .addColumn('reason', 'text', (col) => col.notNull())
    .addColumn('status', 'text')
    .addColumn('reply_code', 'integer')
    .addColumn('diagnostic', 'text')
    .addColumn('remote_mta', 'text')
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('bounces_contact')
    .on('bounces')
    .columns(['contact_id', 'created_at'])
    .execute();
}
