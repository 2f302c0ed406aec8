import type { ExpressionBuilder } from 'kysely';
import type { Database, DbOrTx, MessageStatus, NewRow, RowUpdate } from '../../db/database.ts';
import { containing } from '../../db/like.ts';
import type { PageWindow } from '../../pagination.ts';

/** Rows per INSERT: well inside both databases' limits on bound parameters. */
const INSERT_CHUNK = 200;

async function insertChunked<Table extends 'messages' | 'message_recipients'>(
  db: DbOrTx,
  table: Table,
  rows: NewRow<Table>[],
): Promise<void> {
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    await db
      .insertInto(table)
      .values(rows.slice(start, start + INSERT_CHUNK) as never)
      .execute();
  }
}

/** A batch of messages in a few statements rather than a few per message. */
export async function insertMessageRows(
  db: DbOrTx,
  messages: NewRow<'messages'>[],
  recipients: NewRow<'message_recipients'>[],
  attachments: NewRow<'message_attachments'>[],
): Promise<void> {
  await insertChunked(db, 'messages', messages);
  await insertChunked(db, 'message_recipients', recipients);
  // One at a time: an attachment may be megabytes.
  for (const attachment of attachments)
    await db.insertInto('message_attachments').values(attachment).execute();
}

export function findMessageRow(db: DbOrTx, orgId: string, id: string) {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function findMessageByIdempotencyKey(db: DbOrTx, userId: string, key: string) {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('created_by', '=', userId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

export function findRecipientRows(db: DbOrTx, messageIds: readonly string[]) {
  if (messageIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('message_recipients')
    .selectAll()
    .where('message_id', 'in', messageIds)
    .orderBy('message_id')
    .orderBy('position')
    .execute();
}

export function findAttachmentSummaries(db: DbOrTx, messageIds: readonly string[]) {
  if (messageIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('message_attachments')
    .select(['message_id', 'filename', 'content_type', 'size'])
    .where('message_id', 'in', messageIds)
    .orderBy('message_id')
    .orderBy('position')
    .execute();
}

/** The content of an outgoing message's attachment, by its place in the list (from 0). */
export function findAttachmentContent(db: DbOrTx, messageId: string, index: number) {
  return db
    .selectFrom('message_attachments')
    .select(['filename', 'content_type', 'content'])
    .where('message_id', '=', messageId)
    .orderBy('position')
    .limit(1)
    .offset(index)
    .executeTakeFirst();
}

/** The placements of a message not deleted here. */
function livePlacements(eb: ExpressionBuilder<Database, 'messages'>) {
  return eb
    .selectFrom('message_placements')
    .select('message_placements.id')
    .whereRef('message_placements.message_id', '=', 'messages.id')
    .where('message_placements.deleted_at', 'is', null);
}

export function findPlacementRows(db: DbOrTx, messageIds: readonly string[]) {
  if (messageIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('message_placements')
    .selectAll()
    .where('message_id', 'in', messageIds)
    .where('deleted_at', 'is', null)
    .orderBy('message_id')
    .orderBy('created_at')
    .execute();
}

/**
 * Whose messages a caller sees: an admin, the organisation's; anyone else, what they queued and
 * what went through an account they may use (their own and the team's).
 */
export function visibleTo(orgId: string, userId: string, isAdmin: boolean) {
  return (eb: ExpressionBuilder<Database, 'messages'>) => {
    const inOrg = eb('messages.org_id', '=', orgId);
    if (isAdmin) return inOrg;
    const usableAccounts = eb
      .selectFrom('accounts')
      .select('accounts.id')
      .where('accounts.org_id', '=', orgId)
      .where((inner) =>
        inner.or([inner('accounts.scope', '=', 'team'), inner('accounts.owner_id', '=', userId)]),
      );
    return eb.and([
      inOrg,
      eb.or([
        eb('messages.created_by', '=', userId),
        eb.and([eb('messages.direction', '=', 'out'), eb('messages.account_id', 'in', usableAccounts)]),
        // Incoming mail stored once is seen through every account that received it and kept it.
        eb.exists(livePlacements(eb).where('message_placements.account_id', 'in', usableAccounts)),
      ]),
    ]);
  };
}

export interface MessageFilter {
  visible: ReturnType<typeof visibleTo>;
  direction?: 'out' | 'in';
  status?: MessageStatus;
  accountId?: string;
  /** Only messages filed on this contact: sent to them, or received from them, and not private. */
  contactId?: string;
  /** Only messages with this text (folded to lower case) in the subject, the sender or a recipient. */
  text?: string;
}

export async function listMessageRows(db: DbOrTx, filter: MessageFilter, window: PageWindow) {
  let query = db.selectFrom('messages').where(filter.visible).where('messages.deleted_at', 'is', null);
  if (filter.direction) query = query.where('messages.direction', '=', filter.direction);
  if (filter.status) query = query.where('messages.status', '=', filter.status);
  if (filter.accountId) {
    const accountId = filter.accountId;
    query = query.where((eb) =>
      eb.or([
        eb.and([eb('messages.direction', '=', 'out'), eb('messages.account_id', '=', accountId)]),
        eb.exists(livePlacements(eb).where('message_placements.account_id', '=', accountId)),
      ]),
    );
  }
  if (filter.contactId) {
    const contactId = filter.contactId;
    query = query.where((eb) =>
      eb.or([
        // Sent mail: not private, with the contact among the recipients.
        eb.and([
          eb('messages.is_private', '=', 0),
          eb.exists(
            eb
              .selectFrom('message_recipients')
              .select('message_recipients.id')
              .whereRef('message_recipients.message_id', '=', 'messages.id')
              .where('message_recipients.contact_id', '=', contactId),
          ),
        ]),
        // Received mail: filed on the contact through a placement that is not private.
        eb.exists(livePlacements(eb).where('message_placements.contact_id', '=', contactId)),
      ]),
    );
  }
  if (filter.text) {
    const pattern = containing(filter.text);
    query = query.where((eb) =>
      eb.or([
        eb(eb.fn('lower', ['messages.subject']), 'like', pattern),
        eb(eb.fn('lower', ['messages.from_address']), 'like', pattern),
        eb(eb.fn('lower', ['messages.from_name']), 'like', pattern),
        eb.exists(
          eb
            .selectFrom('message_recipients')
            .select('message_recipients.id')
            .whereRef('message_recipients.message_id', '=', 'messages.id')
            .where((recipient) =>
              recipient.or([
                recipient(recipient.fn('lower', ['message_recipients.address']), 'like', pattern),
                recipient(recipient.fn('lower', ['message_recipients.name']), 'like', pattern),
              ]),
            ),
        ),
      ]),
    );
  }
  const [rows, { count }] = await Promise.all([
    query
      .selectAll('messages')
      .orderBy('messages.id', 'desc')
      .limit(window.limit)
      .offset(window.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<number | string>().as('count')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count) };
}

/** Changes a message only from the given states; returns whether it did. */
export async function updateMessageFrom(
  db: DbOrTx,
  id: string,
  from: readonly MessageStatus[],
  changes: RowUpdate<'messages'>,
): Promise<boolean> {
  const result = await db
    .updateTable('messages')
    .set(changes)
    .where('id', '=', id)
    .where('status', 'in', from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The same for every message of an account; returns how many changed. */
export async function updateAccountMessagesFrom(
  db: DbOrTx,
  accountId: string,
  from: MessageStatus,
  changes: RowUpdate<'messages'>,
): Promise<number> {
  const result = await db
    .updateTable('messages')
    .set(changes)
    .where('account_id', '=', accountId)
    .where('direction', '=', 'out')
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** An account's outgoing messages by status, off the (account_id, status) index. */
export function countAccountMessagesByStatus(db: DbOrTx, accountId: string) {
  return db
    .selectFrom('messages')
    .select(['status', (eb) => eb.fn.countAll<string | number>().as('count')])
    .where('account_id', '=', accountId)
    .where('direction', '=', 'out')
    .where('deleted_at', 'is', null)
    .groupBy('status')
    .execute();
}

export async function deleteMessageRow(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('messages').where('id', '=', id).execute();
}

export async function updateMessageRow(
  db: DbOrTx,
  id: string,
  changes: RowUpdate<'messages'>,
): Promise<void> {
  await db.updateTable('messages').set(changes).where('id', '=', id).execute();
}

export async function markPlacementsDeleted(db: DbOrTx, ids: readonly string[], now: string): Promise<void> {
  await db.updateTable('message_placements').set({ deleted_at: now }).where('id', 'in', ids).execute();
}

/** Whether any stored message, in any organisation, still names this raw message. */
export async function isRawKeyUsed(db: DbOrTx, key: string): Promise<boolean> {
  const row = await db.selectFrom('messages').select('id').where('raw_key', '=', key).executeTakeFirst();
  return row !== undefined;
}
