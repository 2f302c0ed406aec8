import type { DbOrTx, NewRow, Timestamp } from '../../db/database.ts';
import type { PageWindow } from '../../pagination.ts';

export async function insertBounce(db: DbOrTx, row: NewRow<'bounces'>): Promise<void> {
  await db.insertInto('bounces').values(row).execute();
}

const recipientColumns = [
  'message_recipients.id as recipientId',
  'message_recipients.address',
  'message_recipients.contact_id as contactId',
  'messages.id as messageId',
  'messages.account_id as accountId',
] as const;

/** A recipient of mail the organisation sent, by its id (what a VERP token names). */
export function findSentRecipient(db: DbOrTx, orgId: string, recipientId: string) {
  return db
    .selectFrom('message_recipients')
    .innerJoin('messages', 'messages.id', 'message_recipients.message_id')
    .select(recipientColumns)
    .where('message_recipients.id', '=', recipientId)
    .where('messages.org_id', '=', orgId)
    .where('messages.direction', '=', 'out')
    .executeTakeFirst();
}

/** The recipients of one sent message of the organisation, found by its id or by its Message-ID header. */
export function findSentRecipients(db: DbOrTx, orgId: string, by: { id: string } | { header: string }) {
  let query = db
    .selectFrom('message_recipients')
    .innerJoin('messages', 'messages.id', 'message_recipients.message_id')
    .select(recipientColumns)
    .where('messages.org_id', '=', orgId)
    .where('messages.direction', '=', 'out');
  if ('id' in by) query = query.where('messages.id', '=', by.id);
  else {
    // Sent messages keep the header with its angle brackets; a notice may quote it either way.
    const bare = by.header.replace(/^<(.*)>$/, '$1');
    query = query.where('messages.message_id_header', 'in', [`<${bare}>`, bare]);
  }
  return query.orderBy('message_recipients.position').execute();
}

/**
 * The latest recipient row with this address that the account (else the organisation) sent to:
 * the message a notice that names only the failed address most likely answers.
 */
export async function findLatestSentTo(
  db: DbOrTx,
  orgId: string,
  accountId: string | null,
  addressFolded: string,
) {
  const base = db
    .selectFrom('message_recipients')
    .innerJoin('messages', 'messages.id', 'message_recipients.message_id')
    .select(recipientColumns)
    .where('messages.org_id', '=', orgId)
    .where('messages.direction', '=', 'out')
    .where('message_recipients.status', 'in', ['accepted', 'bounced'])
    .where((eb) => eb(eb.fn('lower', ['message_recipients.address']), '=', addressFolded))
    .orderBy('messages.sent_at', 'desc')
    .limit(1);
  const ofAccount = accountId
    ? await base.where('messages.account_id', '=', accountId).executeTakeFirst()
    : undefined;
  return ofAccount ?? base.executeTakeFirst();
}

export async function markRecipientBounced(db: DbOrTx, recipientId: string, at: Timestamp): Promise<void> {
  await db
    .updateTable('message_recipients')
    .set({ status: 'bounced', updated_at: at })
    .where('id', '=', recipientId)
    .where('status', '=', 'accepted')
    .execute();
}

export function findContactForBounce(db: DbOrTx, contactId: string) {
  return db
    .selectFrom('contacts')
    .innerJoin('organisations', 'organisations.id', 'contacts.org_id')
    .select([
      'contacts.id',
      'contacts.email',
      'contacts.faulty_at',
      'contacts.complained_at',
      'contacts.soft_bounces_since',
      'organisations.soft_bounce_limit',
      'organisations.soft_bounce_window_days',
    ])
    .where('contacts.id', '=', contactId)
    .executeTakeFirst();
}

/** Soft failures of the contact since a time: delays and complaints never count, hard ones mark at once. */
export async function countSoftBounces(db: DbOrTx, contactId: string, since: Timestamp): Promise<number> {
  const { count } = await db
    .selectFrom('bounces')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('contact_id', '=', contactId)
    .where('action', '=', 'failed')
    .where((eb) => eb.or([eb('bounce_type', 'is', null), eb('bounce_type', '=', 'soft')]))
    .where('created_at', '>=', since)
    .executeTakeFirstOrThrow();
  return Number(count);
}

/** Sets a contact's mark, keeping the first time; whether this call set it. */
export async function markContact(
  db: DbOrTx,
  contactId: string,
  mark: 'faulty_at' | 'complained_at',
  at: Timestamp,
): Promise<boolean> {
  const result = await db
    .updateTable('contacts')
    .set({ [mark]: at, updated_at: at })
    .where('id', '=', contactId)
    .where(mark, 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function listBounceRows(
  db: DbOrTx,
  orgId: string,
  filter: {
    contactId?: string | undefined;
    messageId?: string | undefined;
    noticeMessageId?: string | undefined;
  },
  window: PageWindow,
) {
  let query = db.selectFrom('bounces').where('org_id', '=', orgId);
  if (filter.contactId) query = query.where('contact_id', '=', filter.contactId);
  if (filter.messageId) query = query.where('message_id', '=', filter.messageId);
  if (filter.noticeMessageId) query = query.where('notice_message_id', '=', filter.noticeMessageId);
  const [rows, { count }] = await Promise.all([
    query
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(window.limit)
      .offset(window.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<number | string>().as('count')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count) };
}

export function findBounceRow(db: DbOrTx, orgId: string, id: string) {
  return db
    .selectFrom('bounces')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}
