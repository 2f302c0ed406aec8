import type { Container } from '../container.ts';
import type { PeriodicTask } from './runner.ts';

/** Removes ended sessions and forgotten login failures, so those tables stay small. */
export function housekeepingTask({ services, logger }: Container, intervalMs = 10 * 60_000): PeriodicTask {
  return {
    name: 'housekeeping',
    intervalMs,
    async run() {
      const purged = await services.auth.purgeExpired();
      if (purged.sessions > 0 || purged.loginFailures > 0)
        logger.info({ purged }, 'housekeeping purged rows');
    },
  };
}

export function workerTasks(container: Container): PeriodicTask[] {
  return [housekeepingTask(container)];
}
