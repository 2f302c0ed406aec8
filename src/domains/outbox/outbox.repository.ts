import { sql } from 'kysely';
import type { DbOrTx, Dialect, NewRow, RowUpdate, Timestamp } from '../../db/database.ts';
import { pausedOutgoingStates } from '../accounts/accounts.service.ts';
import { insertEvents } from '../automation/events.repository.ts';

/**
 * Claims due messages for one worker with a lease: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
 * workers never claim the same message; SQLite has one writer at a time, so its update is enough.
 * Oldest due first, straight off the `messages_due` index. Accounts whose sending is paused (bad
 * password, auth failure) are passed over, and so are accounts whose memory-only passwords are with
 * another worker (`workerId` is this process's).
 */
export function claimDueMessages(
  db: DbOrTx,
  dialect: Dialect,
  {
    owner,
    workerId,
    now,
    leaseUntil,
    limit,
  }: { owner: string; workerId: string; now: Timestamp; leaseUntil: Timestamp; limit: number },
) {
  let due = db
    .selectFrom('messages')
    .innerJoin('accounts', 'accounts.id', 'messages.account_id')
    .select('messages.id')
    .where('messages.status', '=', 'ready')
    .where('messages.next_attempt_at', '<=', now)
    .where('messages.direction', '=', 'out')
    .where('accounts.outgoing_state', 'not in', pausedOutgoingStates)
    .where((eb) =>
      eb.or([eb('accounts.password_holder', 'is', null), eb('accounts.password_holder', '=', workerId)]),
    )
    .orderBy('messages.status')
    .orderBy('messages.next_attempt_at')
    .orderBy('messages.id')
    .limit(limit);
  if (dialect === 'postgres') due = due.forUpdate('messages').skipLocked();
  return (
    db
      .updateTable('messages')
      .set((eb) => ({
        status: 'sending',
        lease_owner: owner,
        lease_until: leaseUntil,
        attempts: eb('attempts', '+', 1),
        updated_at: now,
      }))
      // On PostgreSQL `id in (subquery)` may run the subquery once per row it joins, so its LIMIT
      // bounds nothing (a claim of 2 took all 12 due): `any(array(…))` runs it once.
      .where(dialect === 'postgres' ? sql<boolean>`id = any(array(${due}))` : sql<boolean>`id in (${due})`)
      // `+status` keeps SQLite's planner on the ids from the subquery: on the status index it would
      // walk every ready message for each claim (a claim cost a millisecond with 2,000 queued).
      .where(dialect === 'sqlite' ? sql<string>`+status` : sql.ref<string>('status'), '=', 'ready')
      .returningAll()
      .execute()
  );
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

/** Whether the message's lease is still expired, locking it for the rest of the transaction. */
export async function lockExpiredLease(
  tx: DbOrTx,
  dialect: Dialect,
  messageId: string,
  now: Timestamp,
): Promise<boolean> {
  let query = tx
    .selectFrom('messages')
    .select('id')
    .where('id', '=', messageId)
    .where('status', '=', 'sending')
    .where('lease_until', '<', now);
  if (dialect === 'postgres') query = query.forUpdate();
  return (await query.executeTakeFirst()) !== undefined;
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

/** A message every recipient of which took it with the one reply to the data: the common outcome. */
export interface SentOutcome {
  messageId: string;
  owner: string;
  recipientIds: readonly string[];
  reply: { code: number | null; enhanced: string | null; text: string; command: string };
  sentCopy: 'pending' | null;
  at: Timestamp;
  /** What the message's close announces (email.sent), written only if this write closes it. */
  events: readonly NewRow<'events'>[];
}

/**
 * The note that a message's recipients reached DATA. It is written only while `owner` still holds
 * the message's lease: a worker that stalled past its lease must not send what another worker may
 * have claimed since.
 */
export interface DataNote {
  messageId: string;
  owner: string;
  recipientIds: readonly string[];
}

/**
 * What a batch of the outbox's journal writes: the notes before DATA, and the messages sent. Each
 * part is one statement whatever the number of messages, its rows passed as one JSON parameter,
 * so the SQL text never changes (SQLite keeps it prepared). A message is closed only while this
 * worker still holds its lease.
 */
export interface JournalWrite {
  dataStarted: readonly DataNote[];
  sent: readonly SentOutcome[];
  at: Timestamp;
}

function journalRows(write: JournalWrite) {
  return {
    leases: JSON.stringify(write.dataStarted.map((note) => ({ id: note.messageId, owner: note.owner }))),
    notedRecipientIds: write.dataStarted.flatMap((note) => note.recipientIds),
    recipients: JSON.stringify(
      write.sent.flatMap((outcome) =>
        outcome.recipientIds.map((id) => ({
          id,
          code: outcome.reply.code,
          enhanced: outcome.reply.enhanced,
          text: outcome.reply.text,
          at: outcome.at,
        })),
      ),
    ),
    messages: JSON.stringify(
      write.sent.map((outcome) => ({
        id: outcome.messageId,
        owner: outcome.owner,
        code: outcome.reply.code,
        enhanced: outcome.reply.enhanced,
        text: outcome.reply.text,
        command: outcome.reply.command,
        sent_copy: outcome.sentCopy,
        at: outcome.at,
      })),
    ),
    events: JSON.stringify(write.sent.flatMap((outcome) => outcome.events)),
  };
}

/**
 * Writes a batch of the journal, and returns the messages whose notes before DATA were written:
 * those whose lease was still held. On PostgreSQL the whole batch is one statement (data-modifying
 * CTEs): one round trip, and atomic without a transaction around it. The ids are also given as
 * arrays: the planner guesses a hundred rows for a JSON record set and would otherwise scan the
 * whole table for them. On SQLite it is up to three statements; the caller holds the transaction
 * that makes them one commit.
 */
export async function writeJournal(db: DbOrTx, dialect: Dialect, write: JournalWrite): Promise<Set<string>> {
  const rows = journalRows(write);
  if (dialect === 'postgres') {
    // FOR SHARE: a lease recovery (which locks the message first) either sees this note or ends
    // the lease before it is checked here, never neither.
    const noted = sql`
      update message_recipients set data_started_at = ${write.at}, updated_at = ${write.at}
      where id = any(${rows.notedRecipientIds}::text[]) and message_id in (
        select m.id from messages as m, jsonb_to_recordset(${rows.leases}::jsonb) as v(id text, owner text)
        where m.id = v.id and m.id = any(${write.dataStarted.map((note) => note.messageId)}::text[])
          and m.status = 'sending' and m.lease_owner = v.owner and m.lease_until > ${write.at}
        for share of m)
      returning message_id`;
    if (write.sent.length === 0) {
      const { rows: notedRows } = await sql<{ message_id: string }>`${noted}`.execute(db);
      return new Set(notedRows.map((row) => row.message_id));
    }
    const accepted = sql`
      update message_recipients as r
      set status = 'accepted', reply_code = v.code, reply_enhanced = v.enhanced, reply_text = v.text,
        data_started_at = null, updated_at = v.at
      from jsonb_to_recordset(${rows.recipients}::jsonb)
        as v(id text, code integer, enhanced text, text text, at timestamptz)
      where r.id = v.id and r.id = any(${write.sent.flatMap((outcome) => outcome.recipientIds)}::text[])`;
    const closed = sql`
      update messages as m
      set status = 'sent', sent_at = v.at, sent_copy = v.sent_copy, error_code = null, reply_code = v.code,
        reply_enhanced = v.enhanced, reply_text = v.text, reply_command = v.command, lease_owner = null,
        lease_until = null, next_attempt_at = null, updated_at = v.at
      from jsonb_to_recordset(${rows.messages}::jsonb) as v(id text, owner text, code integer,
        enhanced text, text text, command text, sent_copy text, at timestamptz)
      where m.id = v.id and m.id = any(${write.sent.map((outcome) => outcome.messageId)}::text[])
        and m.status = 'sending' and m.lease_owner = v.owner`;
    const announced = sql`
      insert into events (id, org_id, type, account_id, message_id, contact_id, payload, actor_id,
        caused_by_rule_id, rule_depth, created_at)
      select v.id, v.org_id, v.type, v.account_id, v.message_id, v.contact_id, v.payload, v.actor_id,
        v.caused_by_rule_id, v.rule_depth, v.created_at
      from jsonb_to_recordset(${rows.events}::jsonb) as v(id text, org_id text, type text,
        account_id text, message_id text, contact_id text, payload text, actor_id text,
        caused_by_rule_id text, rule_depth integer, created_at timestamptz)
      where v.message_id in (select id from closed)`;
    if (write.dataStarted.length === 0) {
      await sql`with accepted as (${accepted}), closed as (${closed} returning m.id) ${announced}`.execute(
        db,
      );
      return new Set();
    }
    const { rows: notedRows } = await sql<{ message_id: string }>`
      with noted as (${noted}), accepted as (${accepted}), closed as (${closed} returning m.id),
        announced as (${announced})
      select message_id from noted`.execute(db);
    return new Set(notedRows.map((row) => row.message_id));
  }
  const notedIds = new Set<string>();
  if (write.dataStarted.length > 0) {
    const { rows: notedRows } = await sql<{ message_id: string }>`
      update message_recipients set data_started_at = ${write.at}, updated_at = ${write.at}
      where id in (select value from json_each(${JSON.stringify(rows.notedRecipientIds)}))
        and message_id in (
          select m.id from messages as m, json_each(${rows.leases}) as v
          where m.id = v.value ->> 'id' and +m.status = 'sending' and m.lease_owner = v.value ->> 'owner'
            and m.lease_until > ${write.at})
      returning message_id`.execute(db);
    for (const row of notedRows) notedIds.add(row.message_id);
  }
  if (write.sent.length === 0) return notedIds;
  await sql`
    update message_recipients
    set status = 'accepted', reply_code = v.code, reply_enhanced = v.enhanced, reply_text = v.text,
      data_started_at = null, updated_at = v.at
    from (
      select value ->> 'id' as id, value ->> 'code' as code, value ->> 'enhanced' as enhanced,
        value ->> 'text' as text, value ->> 'at' as at
      from json_each(${rows.recipients})
    ) as v
    where message_recipients.id = v.id`.execute(db);
  const { rows: closed } = await sql<{ id: string }>`
    update messages
    set status = 'sent', sent_at = v.at, sent_copy = v.sent_copy, error_code = null, reply_code = v.code,
      reply_enhanced = v.enhanced, reply_text = v.text, reply_command = v.command, lease_owner = null,
      lease_until = null, next_attempt_at = null, updated_at = v.at
    from (
      select value ->> 'id' as id, value ->> 'owner' as owner, value ->> 'code' as code,
        value ->> 'enhanced' as enhanced, value ->> 'text' as text, value ->> 'command' as command,
        value ->> 'sent_copy' as sent_copy, value ->> 'at' as at
      from json_each(${rows.messages})
    ) as v
    where messages.id = v.id and +messages.status = 'sending' and messages.lease_owner = v.owner
    returning messages.id`.execute(db); // (`+status`, as in the claim: the ids lead, not the status index.)
  const closedIds = new Set(closed.map((row) => row.id));
  await insertEvents(
    db,
    write.sent.flatMap((outcome) => (closedIds.has(outcome.messageId) ? outcome.events : [])),
  );
  return notedIds;
}
