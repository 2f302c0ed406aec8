import type { DbOrTx, Dialect, RowUpdate, Timestamp } from '../../db/database.ts';
import { pausedOutgoingStates } from '../accounts/accounts.service.ts';

/**
 * Claims due messages for one worker with a lease: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
 * workers never claim the same message; SQLite has one writer at a time, so its update is enough.
 * Oldest due first, straight off the `messages_due` index. Accounts whose sending is paused (bad
 * password, auth failure) are passed over.
 */
export function claimDueMessages(
  db: DbOrTx,
  dialect: Dialect,
  { owner, now, leaseUntil, limit }: { owner: string; now: Timestamp; leaseUntil: Timestamp; limit: number },
) {
  let due = db
    .selectFrom('messages')
    .innerJoin('accounts', 'accounts.id', 'messages.account_id')
    .select('messages.id')
    .where('messages.status', '=', 'ready')
    .where('messages.next_attempt_at', '<=', now)
    .where('messages.direction', '=', 'out')
    .where('accounts.outgoing_state', 'not in', pausedOutgoingStates)
    .orderBy('messages.status')
    .orderBy('messages.next_attempt_at')
    .orderBy('messages.id')
    .limit(limit);
  if (dialect === 'postgres') due = due.forUpdate('messages').skipLocked();
  return db
    .updateTable('messages')
    .set((eb) => ({
      status: 'sending',
      lease_owner: owner,
      lease_until: leaseUntil,
      attempts: eb('attempts', '+', 1),
      updated_at: now,
    }))
    .where('id', 'in', due)
    .where('status', '=', 'ready')
    .returningAll()
    .execute();
}

/** Messages whose worker stopped renewing its lease: the worker died or hung. */
export function findExpiredLeases(db: DbOrTx, now: Timestamp) {
  return db
    .selectFrom('messages')
    .select(['id'])
    .where('status', '=', 'sending')
    .where('lease_until', '<', now)
    .execute();
}

/** Whether any recipient still pending had reached DATA: the server may have the message. */
export async function hasUnsettledData(db: DbOrTx, messageId: string): Promise<boolean> {
  const row = await db
    .selectFrom('message_recipients')
    .select('id')
    .where('message_id', '=', messageId)
    .where('status', '=', 'pending')
    .where('data_started_at', 'is not', null)
    .executeTakeFirst();
  return row !== undefined;
}

export async function updateLeasedMessage(
  db: DbOrTx,
  id: string,
  owner: string | null,
  changes: RowUpdate<'messages'>,
): Promise<boolean> {
  let query = db.updateTable('messages').set(changes).where('id', '=', id).where('status', '=', 'sending');
  query = owner === null ? query : query.where('lease_owner', '=', owner);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export function findPendingRecipients(db: DbOrTx, messageId: string) {
  return db
    .selectFrom('message_recipients')
    .selectAll()
    .where('message_id', '=', messageId)
    .where('status', '=', 'pending')
    .orderBy('position')
    .execute();
}

export async function updateRecipients(
  db: DbOrTx,
  ids: readonly string[],
  changes: RowUpdate<'message_recipients'>,
) {
  if (ids.length === 0) return;
  await db.updateTable('message_recipients').set(changes).where('id', 'in', ids).execute();
}

export function findAttachmentsOf(db: DbOrTx, messageIds: readonly string[]) {
  if (messageIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('message_attachments')
    .select(['message_id', 'filename', 'content_type', 'content'])
    .where('message_id', 'in', messageIds)
    .orderBy('message_id')
    .orderBy('position')
    .execute();
}

export function findPendingSentCopies(db: DbOrTx, accountId: string, limit: number) {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('sent_copy', '=', 'pending')
    .orderBy('id')
    .limit(limit)
    .execute();
}

export async function updateSentCopy(
  db: DbOrTx,
  messageId: string,
  state: 'filed' | 'failed',
  now: Timestamp,
): Promise<void> {
  await db
    .updateTable('messages')
    .set({ sent_copy: state, updated_at: now })
    .where('id', '=', messageId)
    .execute();
}

export async function countSentSince(db: DbOrTx, accountId: string, since: Timestamp): Promise<number> {
  const { count } = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('account_id', '=', accountId)
    .where('sent_at', '>=', since)
    .executeTakeFirstOrThrow();
  return Number(count);
}
