import { refreshPlannerStatistics } from '../db/connect.ts';
import type { Container } from '../container.ts';
import type { PeriodicTask } from './runner.ts';

/**
 * Removes ended sessions, forgotten login failures and ended rate-limit windows, so those tables
 * stay small, and keeps the planner's statistics fresh as the tables grow.
 */
export function housekeepingTask(
  { services, logger, db, dialect }: Container,
  intervalMs = 10 * 60_000,
): PeriodicTask {
  return {
    name: 'housekeeping',
    intervalMs,
    async run() {
      await refreshPlannerStatistics({ db, dialect });
      const purged = {
        ...(await services.auth.purgeExpired()),
        rateLimits: await services.rateLimits.purgeEnded(),
      };
      if (Object.values(purged).some((count) => count > 0))
        logger.info({ purged }, 'housekeeping purged rows');
    },
  };
}
