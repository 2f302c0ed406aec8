import type { Container } from '../container.ts';
import { createSmtpSenderPool } from '../mail/smtp-sender.ts';
import { housekeepingTask } from './housekeeping.ts';
import { createOutboxDispatcher } from './outbox-dispatcher.ts';
import type { PeriodicTask } from './runner.ts';

/** What a worker runs, wired from the container; `close` releases the SMTP connections. */
export function createWorkerTasks(container: Container): { tasks: PeriodicTask[]; close(): Promise<void> } {
  const { services, logger, config } = container;
  const pool = createSmtpSenderPool({ maxConnectionsPerKey: config.outbox.connectionsPerAccount, logger });
  const dispatcher = createOutboxDispatcher({
    outbox: services.outbox,
    accounts: services.accounts,
    contacts: services.contacts,
    pool,
    logger: logger.child({ task: 'outbox' }),
    concurrency: config.outbox.concurrency,
    pollIntervalMs: config.outbox.pollIntervalMs,
  });
  return { tasks: [housekeepingTask(container), dispatcher.task], close: () => pool.close() };
}
