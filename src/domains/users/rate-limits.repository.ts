import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.ts';

/**
 * Counts one request against `key`, in one statement so that processes counting at the same time
 * never lose a hit: the first hit of a key, or the first after its window ended, starts a window.
 */
export async function countHit(
  db: DbOrTx,
  key: string,
  nowMs: number,
  windowMs: number,
): Promise<{ hits: number; windowStartedAt: number }> {
  const ended = sql<boolean>`rate_limits.window_started_at <= ${nowMs - windowMs}`;
  const row = await db
    .insertInto('rate_limits')
    .values({ key, window_started_at: nowMs, hits: 1 })
    .onConflict((conflict) =>
      conflict.column('key').doUpdateSet({
        hits: sql<number>`case when ${ended} then 1 else rate_limits.hits + 1 end`,
        window_started_at: sql<number>`case when ${ended} then ${nowMs} else rate_limits.window_started_at end`,
      }),
    )
    .returning(['hits', 'window_started_at'])
    .executeTakeFirstOrThrow();
  return { hits: row.hits, windowStartedAt: Number(row.window_started_at) };
}

export async function deleteRateLimitsStartedBefore(db: DbOrTx, beforeMs: number): Promise<number> {
  const result = await db
    .deleteFrom('rate_limits')
    .where('window_started_at', '<', beforeMs)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
