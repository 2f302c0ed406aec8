import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { dialect, timestamp }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('owner_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('type', 'text', (col) => col.notNull().check(sql`type in ('own', 'marketing')`))
    .addColumn('scope', 'text', (col) => col.notNull().check(sql`scope in ('personal', 'team')`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('email', 'text', (col) => col.notNull())
    .addColumn('display_name', 'text')
    .addColumn('organization', 'text')
    .addColumn('reply_to', 'text')
    .addColumn('reply_to_name', 'text')
    .addColumn('from_name_template', 'text')
    .addColumn('reply_to_name_template', 'text')
    .addColumn('settings', 'text', (col) => col.notNull())
    .addColumn('secrets', 'text')
    .addColumn('secret_kinds', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) =>
      col.notNull().check(sql`status in ('pending_approval', 'active', 'rejected', 'disabled')`),
    )
    .addColumn('rejection_reason', 'text')
    .addColumn('approved_at', timestamp)
    .addColumn('approved_by', 'text')
    .addColumn('name_folded', 'text', (col) => col.notNull())
    .addColumn('search_folded', 'text', (col) => col.notNull())
    .addColumn('outgoing_state', 'text', (col) => col.notNull())
    .addColumn('outgoing_last_error', 'text')
    .addColumn('outgoing_last_ok_at', timestamp)
    .addColumn('incoming_state', 'text', (col) => col.notNull())
    .addColumn('incoming_last_error', 'text')
    .addColumn('incoming_last_ok_at', timestamp)
    .addColumn('last_used_at', timestamp)
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('accounts_org_name')
    .on('accounts')
    .columns(['org_id', 'name_folded', 'id'])
    .execute();
  await db.schema.createIndex('accounts_owner').on('accounts').column('owner_id').execute();

  // Substring search that stays fast at 100,000 accounts: trigram indexes on the folded text.
  if (dialect === 'postgres') {
    await createTrigramExtension(db);
    await sql`create index accounts_search_trgm on accounts using gin (search_folded public.gin_trgm_ops)`.execute(
      db,
    );
  } else {
    await sql`create virtual table accounts_search using fts5(search_folded, tokenize = 'trigram', content = 'accounts', content_rowid = 'rowid')`.execute(
      db,
    );
    await sql`create trigger accounts_search_insert after insert on accounts begin
      insert into accounts_search (rowid, search_folded) values (new.rowid, new.search_folded); end`.execute(
      db,
    );
    await sql`create trigger accounts_search_delete after delete on accounts begin
      insert into accounts_search (accounts_search, rowid, search_folded) values ('delete', old.rowid, old.search_folded); end`.execute(
      db,
    );
    await sql`create trigger accounts_search_update after update of search_folded on accounts begin
      insert into accounts_search (accounts_search, rowid, search_folded) values ('delete', old.rowid, old.search_folded);
      insert into accounts_search (rowid, search_folded) values (new.rowid, new.search_folded); end`.execute(
      db,
    );
  }

  await db.schema
    .createTable('default_accounts')
    .addColumn('user_id', 'text', (col) => col.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('account_id', 'text', (col) => col.notNull().references('accounts.id').onDelete('cascade'))
    .execute();
  await db.schema
    .createIndex('default_accounts_account')
    .on('default_accounts')
    .column('account_id')
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('actor_id', 'text')
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('target_type', 'text', (col) => col.notNull())
    .addColumn('target_id', 'text', (col) => col.notNull())
    .addColumn('fields', 'text', (col) => col.notNull())
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('audit_log_org').on('audit_log').columns(['org_id', 'id']).execute();
  await db.schema.createIndex('audit_log_target').on('audit_log').columns(['target_id', 'id']).execute();
}

/**
 * pg_trgm goes into `public` once per database, so that every schema (every test schema too) finds
 * it. Kysely's migration lock is one advisory lock per database, so two processes never race here.
 * The extension is "trusted": a role with CREATE on the database may create it.
 */
async function createTrigramExtension(db: Kysely<unknown>): Promise<void> {
  await sql`create extension if not exists pg_trgm with schema public`.execute(db);
}
