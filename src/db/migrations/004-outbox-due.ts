import { sql, type Kysely } from 'kysely';

/**
 * A ready message's `next_attempt_at` is when it is due (its sendAt, its retry, or its queueing),
 * never null, so the dispatcher claims the oldest due messages straight off one index instead of
 * sorting every ready message on each claim.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`update messages set next_attempt_at = coalesce(send_at, created_at)
            where status = 'ready' and next_attempt_at is null`.execute(db);
  await db.schema.dropIndex('messages_due').execute();
  await db.schema
    .createIndex('messages_due')
    .on('messages')
    .columns(['status', 'next_attempt_at', 'id'])
    .execute();
}
