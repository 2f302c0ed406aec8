import type { Clock } from '../../clock.ts';
import type { Db } from '../../db/database.ts';
import { AppError } from '../../errors.ts';
import * as repo from './auth.repository.ts';

interface ThrottlePolicy {
  /** Failures allowed before any delay. */
  freeFailures: number;
  /** The longest delay: capped, so the throttle slows a guesser but never locks a user out. */
  maxDelaySeconds: number;
}

/**
 * Per address, the delay is short (a minute at most): anyone may type a user's address, so a long
 * delay there would hand attackers a way to keep the user out. Per IP it can grow longer, as that
 * only slows the client that keeps failing.
 */
export const throttlePolicies = {
  email: { freeFailures: 5, maxDelaySeconds: 60 },
  ip: { freeFailures: 20, maxDelaySeconds: 15 * 60 },
} satisfies Record<string, ThrottlePolicy>;

/** Failures older than this are forgotten. */
export const FAILURE_MEMORY_MS = 24 * 60 * 60 * 1000;

/** 1 s after the free failures, then doubling: 1, 2, 4, 8 … up to the cap. */
export function delaySecondsAfter(failures: number, policy: ThrottlePolicy): number {
  const over = failures - policy.freeFailures;
  if (over <= 0) return 0;
  return Math.min(2 ** Math.min(over - 1, 30), policy.maxDelaySeconds);
}

function keysFor(email: string, ip: string) {
  return { email: `email:${email}`, ip: `ip:${ip}` };
}

export function createLoginThrottle(db: Db, now: Clock) {
  return {
    /** Refuses the attempt, with the seconds to wait, while either key is in its delay. */
    async check(email: string, ip: string): Promise<void> {
      const keys = keysFor(email, ip);
      const current = now();
      const remembered = new Date(current.getTime() - FAILURE_MEMORY_MS).toISOString();
      const rows = await repo.findLoginFailures(db, [keys.email, keys.ip]);
      const waitMs = Math.max(
        0,
        ...rows
          .filter((row) => row.blocked_until && row.last_failed_at >= remembered)
          .map((row) => Date.parse(row.blocked_until!) - current.getTime()),
      );
      if (waitMs > 0) {
        const retryAfterSeconds = Math.ceil(waitMs / 1000);
        throw new AppError(
          'TOO_MANY_ATTEMPTS',
          `Too many failed logins; try again in ${retryAfterSeconds} seconds.`,
          { retryAfterSeconds },
        );
      }
    },

    /** Counts the failure against the address and the IP; returns the address's failures in a row. */
    async recordFailure(email: string, ip: string): Promise<number> {
      const current = now();
      const timestamp = current.toISOString();
      const keys = keysFor(email, ip);
      await repo.deleteLoginFailuresBefore(db, new Date(current.getTime() - FAILURE_MEMORY_MS).toISOString());
      const counts = { email: 0, ip: 0 };
      for (const [kind, key] of Object.entries(keys) as [keyof typeof keys, string][]) {
        const failures = await repo.incrementLoginFailures(db, key, timestamp);
        counts[kind] = failures;
        const delay = delaySecondsAfter(failures, throttlePolicies[kind]);
        if (delay > 0) {
          await repo.blockLoginKey(db, key, new Date(current.getTime() + delay * 1000).toISOString());
        }
      }
      return counts.email;
    },

    /** A right password clears the address's count, not the IP's: one's own account must not
     * become a way to reset the counter while guessing at others. */
    async recordSuccess(email: string, ip: string): Promise<void> {
      await repo.deleteLoginFailures(db, [keysFor(email, ip).email]);
    },
  };
}
