import { sql } from 'kysely';
import type { Db, Dialect } from './database.ts';

/** Tables of retried work items: `status`, `next_attempt_at` and a lease (`lease_owner`, `lease_until`). */
export type LeasedWorkTable = 'rule_runs' | 'webhook_deliveries';

/**
 * Leases up to `limit` due items of `table` to `owner` and returns their ids, oldest due first: the
 * pending ones whose time has come and whose lease is free or ran out. On PostgreSQL the rows are
 * locked with SKIP LOCKED, so workers never take the same item; SQLite has one writer at a time.
 */
export function claimDueWork(
  db: Db,
  dialect: Dialect,
  table: LeasedWorkTable,
  {
    owner,
    now,
    leaseMs,
    limit,
    onTakeover,
  }: {
    owner: string;
    now: Date;
    leaseMs: number;
    limit: number;
    /** Told how many of the items had a lease that ran out: their worker died or hung. */
    onTakeover?: (count: number) => void;
  },
): Promise<string[]> {
  const at = now.toISOString();
  const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ id: string; lease_owner: string | null }>`
      select id, lease_owner from ${sql.table(table)}
      where status = 'pending' and next_attempt_at <= ${at}
        and (lease_until is null or lease_until < ${at})
      order by next_attempt_at
      limit ${limit}
      ${dialect === 'postgres' ? sql`for update skip locked` : sql``}`.execute(tx);
    const ids = rows.map((row) => row.id);
    // A finished or retried item has its lease cleared: one still named had an owner that stopped.
    const takenOver = rows.filter((row) => row.lease_owner !== null).length;
    if (takenOver > 0) onTakeover?.(takenOver);
    if (ids.length > 0) {
      await tx
        .updateTable(table)
        .set({ lease_owner: owner, lease_until: leaseUntil })
        .where('id', 'in', ids)
        .execute();
    }
    return ids;
  });
}
