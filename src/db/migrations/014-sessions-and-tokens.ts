import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Sessions and requests (issue 13):
 * - `sessions.csrf_token`: the token every state-changing request of the session repeats in
 *   `X-CSRF-Token` (a synchronizer token; the UI reads it from the `mailroom_csrf` cookie).
 * - `sessions.last_seen_at`: the last use, refreshed at most once a minute, for the idle timeout.
 * - `api_tokens.scope`: `read`, `send` or `admin`. Tokens made before scopes could do everything
 *   their user's role allows, which is `admin`, so they keep that.
 *
 * Both session columns are nullable only because SQLite cannot add a NOT NULL column without a
 * default; every session written from now on has both. The sessions open before this migration
 * have no CSRF token, so they end here: their users log in once more.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  await sql`delete from sessions`.execute(db);
  await db.schema.alterTable('sessions').addColumn('csrf_token', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('last_seen_at', timestamp).execute();
  await db.schema
    .alterTable('api_tokens')
    .addColumn('scope', 'text', (col) => col.notNull().defaultTo('admin'))
    .execute();
}
