import type { DbOrTx, NewRow, RowUpdate } from '../../db/database.ts';
import { containing } from '../../db/like.ts';
import type { PageWindow } from '../../pagination.ts';
import type { ContactStatus } from './contacts.ts';

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

export async function listContactRows(
  db: DbOrTx,
  orgId: string,
  filter: { q: string | undefined; status: ContactStatus | undefined; tag: string | undefined },
  window: PageWindow,
) {
  const { q, status, tag } = filter;
  let query = db.selectFrom('contacts').where('org_id', '=', orgId);
  // The same order of strength as statusOf: complained, unsubscribed, faulty, else active.
  if (status === 'complained') query = query.where('complained_at', 'is not', null);
  if (status === 'unsubscribed') {
    query = query.where('complained_at', 'is', null).where('unsubscribed_at', 'is not', null);
  }
  if (status === 'faulty') {
    query = query
      .where('complained_at', 'is', null)
      .where('unsubscribed_at', 'is', null)
      .where('faulty_at', 'is not', null);
  }
  if (status === 'active') {
    query = query
      .where('complained_at', 'is', null)
      .where('unsubscribed_at', 'is', null)
      .where('faulty_at', 'is', null);
  }
  if (tag) {
    query = query.where(
      'id',
      'in',
      db.selectFrom('contact_tags').select('contact_id').where('tag', '=', tag),
    );
  }
  if (q) {
    const pattern = containing(q);
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

/** Each contact's tags, in name order. */
export async function findTags(db: DbOrTx, contactIds: readonly string[]): Promise<Map<string, string[]>> {
  const tags = new Map<string, string[]>(contactIds.map((id) => [id, []]));
  if (contactIds.length === 0) return tags;
  const rows = await db
    .selectFrom('contact_tags')
    .select(['contact_id', 'tag'])
    .where('contact_id', 'in', contactIds)
    .orderBy('tag')
    .execute();
  for (const row of rows) tags.get(row.contact_id)?.push(row.tag);
  return tags;
}

/** Adds the tags the contact does not have yet; returns those it added. */
export async function addTags(db: DbOrTx, contactId: string, tags: readonly string[]): Promise<string[]> {
  const have = (await findTags(db, [contactId])).get(contactId) ?? [];
  const missing = [...new Set(tags)].filter((tag) => !have.includes(tag)).sort();
  if (missing.length === 0) return [];
  await db
    .insertInto('contact_tags')
    .values(missing.map((tag) => ({ contact_id: contactId, tag })))
    .onConflict((oc) => oc.doNothing())
    .execute();
  return missing;
}

/** Removes the tags the contact has; returns those it removed. */
export async function removeTags(db: DbOrTx, contactId: string, tags: readonly string[]): Promise<string[]> {
  const have = (await findTags(db, [contactId])).get(contactId) ?? [];
  const present = [...new Set(tags)].filter((tag) => have.includes(tag)).sort();
  if (present.length === 0) return [];
  await db
    .deleteFrom('contact_tags')
    .where('contact_id', '=', contactId)
    .where('tag', 'in', present)
    .execute();
  return present;
}

/** Adds to the score in one statement; the new score, or undefined when there is no such contact. */
export async function addToScore(
  db: DbOrTx,
  contactId: string,
  delta: number,
  at: string,
): Promise<number | undefined> {
  const row = await db
    .updateTable('contacts')
    .set((eb) => ({ score: eb('score', '+', delta), updated_at: at }))
    .where('id', '=', contactId)
    .returning('score')
    .executeTakeFirst();
  return row?.score;
}
