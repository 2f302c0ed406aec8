import type { DbOrTx, NewRow, RowUpdate, Timestamp } from '../../db/database.ts';
import type { PageWindow } from '../../pagination.ts';

export async function insertEndpoint(db: DbOrTx, row: NewRow<'webhook_endpoints'>): Promise<void> {
  await db.insertInto('webhook_endpoints').values(row).execute();
}

export function findEndpoint(db: DbOrTx, orgId: string, id: string) {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function findEndpointById(db: DbOrTx, id: string) {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listEndpoints(db: DbOrTx, orgId: string) {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** The enabled endpoints of these organisations (each says in JSON which event types it takes). */
export function findEnabledEndpoints(db: DbOrTx, orgIds: readonly string[]) {
  if (orgIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('webhook_endpoints')
    .select(['id', 'org_id', 'event_types'])
    .where('org_id', 'in', orgIds)
    .where('enabled', '=', 1)
    .execute();
}

export async function updateEndpoint(db: DbOrTx, id: string, changes: RowUpdate<'webhook_endpoints'>) {
  const result = await db
    .updateTable('webhook_endpoints')
    .set(changes)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Turns an endpoint off unless it already is: true for the one caller that did it. */
export async function disableEndpoint(db: DbOrTx, id: string, reason: string, at: Timestamp) {
  const result = await db
    .updateTable('webhook_endpoints')
    .set({ enabled: 0, disabled_reason: reason, disabled_at: at, updated_at: at })
    .where('id', '=', id)
    .where('enabled', '=', 1)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Starts the failing clock unless it runs already (a failure after a success). */
export async function markEndpointFailing(db: DbOrTx, id: string, at: Timestamp): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: at })
    .where('id', '=', id)
    .where('failing_since', 'is', null)
    .execute();
}

export async function deleteEndpoint(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
}

/** Encrypted secrets in id order after `afterId`, for `mailroom secrets rotate`. */
export function listSecretRows(db: DbOrTx, afterId: string | null, limit: number) {
  let query = db.selectFrom('webhook_endpoints').select(['id', 'secret']).orderBy('id').limit(limit);
  if (afterId !== null) query = query.where('id', '>', afterId);
  return query.execute();
}

export async function replaceSecret(db: DbOrTx, id: string, expected: string, next: string) {
  const result = await db
    .updateTable('webhook_endpoints')
    .set({ secret: next })
    .where('id', '=', id)
    .where('secret', '=', expected)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** One delivery per endpoint and event, whoever asks for it first (a subscription or a rule). */
export async function insertDeliveries(db: DbOrTx, rows: NewRow<'webhook_deliveries'>[]): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += 200) {
    const results = await db
      .insertInto('webhook_deliveries')
      .values(rows.slice(start, start + 200))
      .onConflict((oc) => oc.columns(['endpoint_id', 'event_id']).doNothing())
      .execute();
    inserted += results.reduce((sum, result) => sum + Number(result.numInsertedOrUpdatedRows ?? 0n), 0);
  }
  return inserted;
}

/** Claimed deliveries, by id. */
export function findDeliveries(db: DbOrTx, ids: readonly string[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('webhook_deliveries').selectAll().where('id', 'in', ids).orderBy('id').execute();
}

export async function updateDelivery(
  db: DbOrTx,
  id: string,
  owner: string,
  changes: RowUpdate<'webhook_deliveries'>,
) {
  const result = await db
    .updateTable('webhook_deliveries')
    .set(changes)
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function insertAttempt(db: DbOrTx, row: NewRow<'webhook_attempts'>): Promise<void> {
  await db.insertInto('webhook_attempts').values(row).execute();
}

/** An endpoint's deliveries, newest first, with their events' types. */
export function listDeliveries(
  db: DbOrTx,
  endpointId: string,
  status: string | undefined,
  { limit, offset }: PageWindow,
) {
  let query = db
    .selectFrom('webhook_deliveries')
    .innerJoin('events', 'events.id', 'webhook_deliveries.event_id')
    .selectAll('webhook_deliveries')
    .select('events.type as event_type')
    .where('webhook_deliveries.endpoint_id', '=', endpointId);
  if (status) query = query.where('webhook_deliveries.status', '=', status as 'pending');
  return query.orderBy('webhook_deliveries.id', 'desc').limit(limit).offset(offset).execute();
}

export async function countDeliveries(db: DbOrTx, endpointId: string, status: string | undefined) {
  let query = db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('endpoint_id', '=', endpointId);
  if (status) query = query.where('status', '=', status as 'pending');
  return Number((await query.executeTakeFirstOrThrow()).count);
}

export function listAttempts(db: DbOrTx, deliveryIds: readonly string[]) {
  if (deliveryIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('delivery_id', 'in', deliveryIds)
    .orderBy('id')
    .execute();
}

/** The organisation's admins: told when an endpoint whose owner is gone is turned off. */
export async function findAdminIds(db: DbOrTx, orgId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('users')
    .select('id')
    .where('org_id', '=', orgId)
    .where('role', '=', 'admin')
    .execute();
  return rows.map((row) => row.id);
}
