import type { DbOrTx, NewRow } from '../../db/database.ts';

/** The message recipient a VERP token names, with what a bounce record needs of its message. */
export function findBouncedRecipient(db: DbOrTx, recipientId: string) {
  return db
    .selectFrom('message_recipients')
    .innerJoin('messages', 'messages.id', 'message_recipients.message_id')
    .select([
      'message_recipients.id as recipientId',
      'message_recipients.address',
      'message_recipients.contact_id as contactId',
      'messages.id as messageId',
      'messages.org_id as orgId',
      'messages.account_id as accountId',
    ])
    .where('message_recipients.id', '=', recipientId)
    .executeTakeFirst();
}

/** A notice already kept: the same bytes to the same address (an MTA retrying after a lost 250). */
export function findNotice(db: DbOrTx, rawKey: string, rcptTo: string) {
  return db
    .selectFrom('bounce_notices')
    .selectAll()
    .where('raw_key', '=', rawKey)
    .where('rcpt_to', '=', rcptTo)
    .executeTakeFirst();
}

export async function insertNotice(db: DbOrTx, row: NewRow<'bounce_notices'>): Promise<void> {
  await db.insertInto('bounce_notices').values(row).execute();
}
