import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Bounces end to end: each bounce record says what happened (failed, delayed, complained), how it
 * was matched, which recipient it was and where its raw notice is; contacts gain a score, tags and
 * the time their soft bounces count from; the organisation sets its soft-bounce threshold; incoming
 * mail keeps what the classifier read it as.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  await db.schema
    .alterTable('bounces')
    .addColumn('action', 'text', (col) => col.notNull().defaultTo('failed'))
    .execute();
  await db.schema.alterTable('bounces').addColumn('matched_by', 'text').execute();
  await db.schema
    .alterTable('bounces')
    .addColumn('recipient_id', 'text', (col) => col.references('message_recipients.id').onDelete('set null'))
    .execute();
  await db.schema.alterTable('bounces').addColumn('raw_key', 'text').execute();
  await db.schema
    .alterTable('bounces')
    .addColumn('notice_message_id', 'text', (col) => col.references('messages.id').onDelete('set null'))
    .execute();
  await db.schema.createIndex('bounces_org').on('bounces').columns(['org_id', 'created_at']).execute();

  await db.schema
    .alterTable('contacts')
    .addColumn('score', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('contacts').addColumn('soft_bounces_since', timestamp).execute();
  await db.schema
    .createTable('contact_tags')
    .addColumn('contact_id', 'text', (col) => col.notNull().references('contacts.id').onDelete('cascade'))
    .addColumn('tag', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('contact_tags_pk', ['contact_id', 'tag'])
    .execute();
  await db.schema.createIndex('contact_tags_tag').on('contact_tags').columns(['tag', 'contact_id']).execute();

  await db.schema
    .alterTable('organisations')
    .addColumn('soft_bounce_limit', 'integer', (col) => col.notNull().defaultTo(5))
    .execute();
  await db.schema
    .alterTable('organisations')
    .addColumn('soft_bounce_window_days', 'integer', (col) => col.notNull().defaultTo(30))
    .execute();

  await db.schema.alterTable('messages').addColumn('mail_kind', 'text').execute();
}
