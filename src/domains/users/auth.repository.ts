import type { DbOrTx, NewRow, Timestamp } from '../../db/database.ts';

const actorColumns = ['users.id as user_id', 'users.org_id', 'users.role'] as const;

export async function insertSession(db: DbOrTx, row: NewRow<'sessions'>): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

export function findSessionByTokenHash(db: DbOrTx, tokenHash: string) {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.id',
      'sessions.created_at',
      'sessions.expires_at',
      'sessions.last_seen_at',
      'sessions.csrf_token',
      ...actorColumns,
    ])
    .where('sessions.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function deleteSessionByTokenHash(db: DbOrTx, tokenHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
}

export async function deleteSession(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}

export async function touchSession(db: DbOrTx, id: string, now: Timestamp): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
}

/** Sessions past their end, or unused since `idleBefore` (the idle timeout). */
export async function deleteSessionsExpiredBefore(
  db: DbOrTx,
  now: Timestamp,
  idleBefore: Timestamp,
): Promise<number> {
  const result = await db
    .deleteFrom('sessions')
    .where((eb) =>
      eb.or([
        eb('expires_at', '<=', now),
        eb('last_seen_at', '<', idleBefore),
        eb('last_seen_at', 'is', null),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function insertApiToken(db: DbOrTx, row: NewRow<'api_tokens'>): Promise<void> {
  await db.insertInto('api_tokens').values(row).execute();
}

export function findApiTokenByHash(db: DbOrTx, tokenHash: string) {
  return db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select([
      'api_tokens.id',
      'api_tokens.scope',
      'api_tokens.expires_at',
      'api_tokens.last_used_at',
      ...actorColumns,
    ])
    .where('api_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export function listApiTokenRows(db: DbOrTx, userId: string) {
  return db
    .selectFrom('api_tokens')
    .select(['id', 'name', 'prefix', 'scope', 'created_at', 'expires_at', 'last_used_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .execute();
}

export async function deleteApiTokenRow(db: DbOrTx, userId: string, id: string): Promise<boolean> {
  // Revoking deletes: a revoked token's hash is gone, so nothing can ever match it again.
  const result = await db
    .deleteFrom('api_tokens')
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function touchApiToken(db: DbOrTx, id: string, now: Timestamp): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
}

export function findLoginFailures(db: DbOrTx, keys: readonly string[]) {
  return db.selectFrom('login_failures').selectAll().where('key', 'in', keys).execute();
}

/** One statement, so that concurrent failures from several processes all count. */
export async function incrementLoginFailures(db: DbOrTx, key: string, now: Timestamp): Promise<number> {
  const { failures } = await db
    .insertInto('login_failures')
    .values({ key, failures: 1, last_failed_at: now, blocked_until: null })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet((eb) => ({
        failures: eb('login_failures.failures', '+', 1),
        last_failed_at: now,
      })),
    )
    .returning('failures')
    .executeTakeFirstOrThrow();
  return Number(failures);
}

export async function blockLoginKey(db: DbOrTx, key: string, until: Timestamp): Promise<void> {
  await db.updateTable('login_failures').set({ blocked_until: until }).where('key', '=', key).execute();
}

export async function deleteLoginFailures(db: DbOrTx, keys: readonly string[]): Promise<void> {
  await db.deleteFrom('login_failures').where('key', 'in', keys).execute();
}

export async function deleteLoginFailuresBefore(db: DbOrTx, before: Timestamp): Promise<number> {
  const result = await db
    .deleteFrom('login_failures')
    .where('last_failed_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
