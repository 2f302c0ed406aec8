import { sql } from 'kysely';
import type { Db, DbOrTx, Timestamp } from '../../db/database.ts';

/** Renews the worker's heartbeat; a worker without a row (new, or buried as dead) gets one. */
export async function beat(
  db: Db,
  worker: { id: string; host: string; pid: number; now: Timestamp },
): Promise<'renewed' | 'joined'> {
  const renewed = await db
    .updateTable('workers')
    .set({ heartbeat_at: worker.now })
    .where('id', '=', worker.id)
    .executeTakeFirst();
  if (renewed.numUpdatedRows > 0n) return 'renewed';
  await db
    .insertInto('workers')
    .values({
      id: worker.id,
      host: worker.host,
      pid: worker.pid,
      started_at: worker.now,
      heartbeat_at: worker.now,
    })
    .onConflict((conflict) => conflict.column('id').doUpdateSet({ heartbeat_at: worker.now }))
    .execute();
  return 'joined';
}

export async function findLiveWorkerIds(db: DbOrTx, aliveSince: Timestamp): Promise<string[]> {
  const rows = await db.selectFrom('workers').select('id').where('heartbeat_at', '>=', aliveSince).execute();
  return rows.map((row) => row.id);
}

export function isLiveWorker(db: DbOrTx, id: string, aliveSince: Timestamp) {
  return db
    .selectFrom('workers')
    .select('id')
    .where('id', '=', id)
    .where('heartbeat_at', '>=', aliveSince)
    .executeTakeFirst()
    .then((row) => row !== undefined);
}

/**
 * Gives up what silent workers had, in one transaction: their rows, their holds, and the memory-only
 * passwords they held (a password kept in one process's memory died with it). Holders without a
 * worker row count as dead too: a process that took a password without being a worker.
 * `aliveSince: 'none'`: every worker but `except` is dead (SQLite, where one process runs them).
 *
 * Holds are swept (a read of every hold) only when a worker was buried just now or `sweepHolds`
 * asks, as a worker that just joined does: a hold loses its worker only at a burial, and a worker
 * buried while it stalled may have taken holds afterwards, which its return makes valid again.
 */
export async function buryDeadWorkers(
  tx: DbOrTx,
  { aliveSince, except, sweepHolds }: { aliveSince: Timestamp | 'none'; except: string; sweepHolds: boolean },
): Promise<{ workers: number; holds: number; passwords: number }> {
  let deadWorkers = tx.deleteFrom('workers').where('id', '<>', except);
  if (aliveSince !== 'none') deadWorkers = deadWorkers.where('heartbeat_at', '<', aliveSince);
  const dead = await deadWorkers.returning('id').execute();
  const live = tx.selectFrom('workers').select('id');
  const holds =
    dead.length > 0 || sweepHolds
      ? await tx
          .deleteFrom('account_holds')
          .where('worker_id', 'not in', live)
          .where('worker_id', '<>', except)
          .executeTakeFirst()
      : { numDeletedRows: 0n };
  const passwords = await tx
    .updateTable('accounts')
    .set({ password_holder: null, memory_kinds: '' })
    .where('password_holder', 'is not', null)
    .where('password_holder', 'not in', live)
    .where('password_holder', '<>', except)
    .executeTakeFirst();
  return {
    workers: dead.length,
    holds: Number(holds.numDeletedRows),
    passwords: Number(passwords.numUpdatedRows),
  };
}

/** Accounts a worker may hold: active own accounts. */
export async function countHoldableAccounts(db: DbOrTx): Promise<number> {
  const row = await db
    .selectFrom('accounts')
    .select((eb) => eb.fn.countAll<string | number>().as('count'))
    .where('status', '=', 'active')
    .where('type', '=', 'own')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** The worker's holds, each with whether the account's memory-only passwords are with this worker. */
export function findHolds(db: DbOrTx, workerId: string) {
  return db
    .selectFrom('account_holds')
    .innerJoin('accounts', 'accounts.id', 'account_holds.account_id')
    .select(['account_holds.account_id as accountId', 'accounts.password_holder as passwordHolder'])
    .where('account_holds.worker_id', '=', workerId)
    .execute();
}

export async function releaseHolds(db: DbOrTx, workerId: string, accountIds?: readonly string[]) {
  if (accountIds?.length === 0) return;
  let query = db.deleteFrom('account_holds').where('worker_id', '=', workerId);
  if (accountIds) query = query.where('account_id', 'in', accountIds);
  await query.execute();
}

/**
 * Holds that no longer make sense: the account stopped being active or own, or its memory-only
 * passwords went to another worker (that worker holds it from now on).
 */
export async function dropStrayHolds(db: DbOrTx, workerId: string): Promise<void> {
  await db
    .deleteFrom('account_holds')
    .where('worker_id', '=', workerId)
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('accounts')
          .select('accounts.id')
          .whereRef('accounts.id', '=', 'account_holds.account_id')
          .where((eb) =>
            eb.or([
              eb('accounts.status', '<>', 'active'),
              eb('accounts.type', '<>', 'own'),
              eb.and([
                eb('accounts.password_holder', 'is not', null),
                eb('accounts.password_holder', '<>', workerId),
              ]),
            ]),
          ),
      ),
    )
    .execute();
}

/** Accounts whose memory-only passwords this worker has, and which another worker holds. */
export async function takePinnedHolds(db: DbOrTx, workerId: string, now: Timestamp): Promise<void> {
  await sql`
    insert into account_holds (account_id, worker_id, held_since)
    select id, ${workerId}, ${now} from accounts where password_holder = ${workerId}
    on conflict (account_id) do update set worker_id = excluded.worker_id, held_since = excluded.held_since
    where account_holds.worker_id <> excluded.worker_id`.execute(db);
}

/**
 * Takes up to `limit` accounts nobody holds; never one whose memory-only passwords are with another
 * worker. Two workers racing for the same account: the key lets one win, the other skips it.
 */
export async function claimFreeAccounts(
  db: DbOrTx,
  { workerId, now, limit }: { workerId: string; now: Timestamp; limit: number },
): Promise<void> {
  if (limit <= 0) return;
  await sql`
    insert into account_holds (account_id, worker_id, held_since)
    select a.id, ${workerId}, ${now} from accounts a
    where a.status = 'active' and a.type = 'own'
      and (a.password_holder is null or a.password_holder = ${workerId})
      and not exists (select 1 from account_holds h where h.account_id = a.id)
    order by a.id
    limit ${limit}
    on conflict (account_id) do nothing`.execute(db);
}

/** The account's holder, when that worker is alive. */
export async function findLiveHolder(db: DbOrTx, accountId: string, aliveSince: Timestamp) {
  const row = await db
    .selectFrom('account_holds')
    .innerJoin('workers', 'workers.id', 'account_holds.worker_id')
    .select('account_holds.worker_id')
    .where('account_holds.account_id', '=', accountId)
    .where('workers.heartbeat_at', '>=', aliveSince)
    .executeTakeFirst();
  return row?.worker_id ?? null;
}
