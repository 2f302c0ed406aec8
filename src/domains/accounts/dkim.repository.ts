import type { DbOrTx, NewRow } from '../../db/database.ts';

export function findDkimKeyRow(db: DbOrTx, domain: string) {
  return db.selectFrom('dkim_keys').selectAll().where('domain', '=', domain).executeTakeFirst();
}

export type DkimKeyRow = Awaited<ReturnType<typeof findDkimKeyRow>> & object;

/** Inserts the domain's key, or replaces the one it had: one key per domain. */
export async function upsertDkimKeyRow(db: DbOrTx, row: NewRow<'dkim_keys'>): Promise<void> {
  await db
    .insertInto('dkim_keys')
    .values(row)
    .onConflict((conflict) =>
      conflict.column('domain').doUpdateSet({
        selector: row.selector,
        private_key: row.private_key,
        public_key: row.public_key,
        created_at: row.created_at,
      }),
    )
    .execute();
}

/** For key rotation: the encrypted private keys in a stable order (domain ascending), after the given domain. */
export function listDkimSecretRows(db: DbOrTx, afterDomain: string | null, limit: number) {
  let query = db.selectFrom('dkim_keys').select(['domain', 'private_key']);
  if (afterDomain !== null) query = query.where('domain', '>', afterDomain);
  return query.orderBy('domain').limit(limit).execute();
}

/** Compare-and-set: replaces the ciphertext only if it is still `expected`. */
export async function replaceDkimPrivateKey(
  db: DbOrTx,
  domain: string,
  expected: string,
  next: string,
): Promise<boolean> {
  const result = await db
    .updateTable('dkim_keys')
    .set({ private_key: next })
    .where('domain', '=', domain)
    .where('private_key', '=', expected)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
