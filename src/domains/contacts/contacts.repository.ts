import type { DbOrTx, NewRow, RowUpdate } from '../../db/database.ts';
import type { PageWindow } from '../../pagination.ts';

export function findContactRow(db: DbOrTx, orgId: string, id: string) {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function findContactRowByEmail(db: DbOrTx, orgId: string, emailFolded: string) {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('email_folded', '=', emailFolded)
    .executeTakeFirst();
}

export async function insertContactRow(db: DbOrTx, row: NewRow<'contacts'>): Promise<void> {
  await db.insertInto('contacts').values(row).execute();
}

export async function updateContactRow(
  db: DbOrTx,
  id: string,
  changes: RowUpdate<'contacts'>,
): Promise<void> {
  await db.updateTable('contacts').set(changes).where('id', '=', id).execute();
}

export async function listContactRows(db: DbOrTx, orgId: string, q: string | undefined, window: PageWindow) {
  let query = db.selectFrom('contacts').where('org_id', '=', orgId);
  if (q) {
    const pattern = `%${q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
    query = query.where((eb) =>
      eb.or([eb('email_folded', 'like', pattern), eb(eb.fn('lower', ['name']), 'like', pattern)]),
    );
  }
  const [rows, { count }] = await Promise.all([
    query.selectAll().orderBy('email_folded').limit(window.limit).offset(window.offset).execute(),
    query.select((eb) => eb.fn.countAll<number | string>().as('count')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count) };
}

/** The contacts with these folded addresses or ids, with their owner's name for sender templates. */
export function findContactsForSending(
  db: DbOrTx,
  orgId: string,
  by: { emailsFolded?: readonly string[]; ids?: readonly string[] },
) {
  let query = db
    .selectFrom('contacts')
    .leftJoin('users', 'users.id', 'contacts.owner_id')
    .select([
      'contacts.id',
      'contacts.email',
      'contacts.email_folded',
      'contacts.name',
      'contacts.fields',
      'contacts.unsubscribed_at',
      'contacts.complained_at',
      'contacts.faulty_at',
      'users.name as owner_name',
    ])
    .where('contacts.org_id', '=', orgId);
  if (by.ids) {
    if (by.ids.length === 0) return Promise.resolve([]);
    query = query.where('contacts.id', 'in', by.ids);
  } else {
    if (!by.emailsFolded || by.emailsFolded.length === 0) return Promise.resolve([]);
    query = query.where('contacts.email_folded', 'in', by.emailsFolded);
  }
  return query.execute();
}

/** Keeps the first time: a second click changes nothing. */
export async function markUnsubscribed(db: DbOrTx, contactId: string, now: string): Promise<void> {
  await db
    .updateTable('contacts')
    .set({ unsubscribed_at: now, updated_at: now })
    .where('id', '=', contactId)
    .where('unsubscribed_at', 'is', null)
    .execute();
}

/** The contact a message recipient was filed on, if any. */
export async function findRecipientContactId(db: DbOrTx, recipientId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('message_recipients')
    .select('contact_id')
    .where('id', '=', recipientId)
    .executeTakeFirst();
  return row?.contact_id ?? undefined;
}

/** Soft bounces before `at` stop counting towards the threshold (mail from the contact, a reactivation). */
export async function resetSoftBounces(db: DbOrTx, contactIds: readonly string[], at: string): Promise<void> {
  if (contactIds.length === 0) return;
  await db.updateTable('contacts').set({ soft_bounces_since: at }).where('id', 'in', contactIds).execute();
}
