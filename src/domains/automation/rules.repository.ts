import type { DbOrTx, Dialect, NewRow, RowUpdate, Timestamp, Tx } from '../../db/database.ts';

export async function insertRule(db: DbOrTx, row: NewRow<'rules'>): Promise<void> {
  await db.insertInto('rules').values(row).execute();
}

export function findRule(db: DbOrTx, orgId: string, id: string) {
  return db
    .selectFrom('rules')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function listRules(db: DbOrTx, orgId: string) {
  return db
    .selectFrom('rules')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function updateRule(db: DbOrTx, id: string, changes: RowUpdate<'rules'>): Promise<void> {
  await db.updateTable('rules').set(changes).where('id', '=', id).execute();
}

export async function deleteRule(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('rules').where('id', '=', id).execute();
}

/**
 * Events the rule engine has not seen, oldest first. On PostgreSQL they are locked, and rows another
 * worker holds are passed over, so two workers never make the same runs.
 */
export function lockUndispatchedEvents(tx: Tx, dialect: Dialect, limit: number) {
  const query = tx
    .selectFrom('events')
    .selectAll()
    .where('dispatched_at', 'is', null)
    .orderBy('id')
    .limit(limit);
  return dialect === 'postgres' ? query.forUpdate().skipLocked().execute() : query.execute();
}

export async function markDispatched(db: DbOrTx, ids: readonly string[], at: Timestamp): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('events').set({ dispatched_at: at }).where('id', 'in', ids).execute();
}

/** The enabled rules of these organisations that run on these event types. */
export function findEnabledRules(db: DbOrTx, orgIds: readonly string[], types: readonly string[]) {
  if (orgIds.length === 0 || types.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('rules')
    .selectAll()
    .where('org_id', 'in', orgIds)
    .where('trigger', 'in', types)
    .where('enabled', '=', 1)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function insertRuns(db: DbOrTx, rows: NewRow<'rule_runs'>[]): Promise<void> {
  for (let start = 0; start < rows.length; start += 200) {
    await db
      .insertInto('rule_runs')
      .values(rows.slice(start, start + 200))
      .onConflict((oc) => oc.columns(['rule_id', 'event_id']).doNothing())
      .execute();
  }
}

/** Claimed runs, by id, oldest first. */
export function findRuns(db: DbOrTx, ids: readonly string[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('rule_runs').selectAll().where('id', 'in', ids).orderBy('created_at').execute();
}

export function findRun(db: DbOrTx, id: string) {
  return db.selectFrom('rule_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateRun(db: DbOrTx, id: string, owner: string, changes: RowUpdate<'rule_runs'>) {
  const result = await db
    .updateTable('rule_runs')
    .set(changes)
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export function listRuns(db: DbOrTx, orgId: string, ruleId: string, limit: number) {
  return db
    .selectFrom('rule_runs')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('rule_id', '=', ruleId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

export function findEvent(db: DbOrTx, id: string) {
  return db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertNotifications(db: DbOrTx, rows: NewRow<'notifications'>[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('notifications')
    .values(rows)
    .onConflict((oc) => oc.columns(['user_id', 'event_id', 'rule_id']).doNothing())
    .execute();
}

export function listNotifications(db: DbOrTx, userId: string, unreadOnly: boolean, limit: number) {
  let query = db.selectFrom('notifications').selectAll().where('user_id', '=', userId);
  if (unreadOnly) query = query.where('read_at', 'is', null);
  return query.orderBy('id', 'desc').limit(limit).execute();
}

export async function markNotificationRead(db: DbOrTx, userId: string, id: string, at: Timestamp) {
  const result = await db
    .updateTable('notifications')
    .set({ read_at: at })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export function findNotification(db: DbOrTx, userId: string, id: string) {
  return db
    .selectFrom('notifications')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}
