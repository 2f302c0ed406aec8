import type { Clock } from '../../clock.ts';
import type { Db } from '../../db/database.ts';
import * as repo from './rate-limits.repository.ts';

/** No limit's window is longer; a counter older than this is of no use to anyone. */
const LONGEST_WINDOW_MS = 60 * 60_000;

export interface RateCounter {
  /** Counts a request against `key`: the hits in its current window, and the ms until it ends. */
  hit(key: string, windowMs: number): Promise<{ hits: number; ttlMs: number }>;
}

/**
 * Request counters kept in the database, so that every process sharing it counts against the same
 * limit (src/http/rate-limits.ts uses them with PostgreSQL; SQLite's one process counts in memory).
 */
export function createRateLimitsService({ db, now }: { db: Db; now: Clock }) {
  return {
    async hit(key: string, windowMs: number) {
      const nowMs = now().getTime();
      const { hits, windowStartedAt } = await repo.countHit(db, key, nowMs, windowMs);
      return { hits, ttlMs: windowStartedAt + windowMs - nowMs };
    },

    /** Housekeeping: counters whose windows ended long ago. */
    purgeEnded(): Promise<number> {
      return repo.deleteRateLimitsStartedBefore(db, now().getTime() - LONGEST_WINDOW_MS);
    },
  };
}

export type RateLimitsService = ReturnType<typeof createRateLimitsService>;
