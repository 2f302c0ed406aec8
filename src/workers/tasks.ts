import type { Container } from '../container.ts';
import { createSmtpSenderPool } from '../mail/smtp-sender.ts';
import { verpKeys } from '../secrets/derived.ts';
import { createFleetMembership } from './fleet.ts';
import { housekeepingTask } from './housekeeping.ts';
import { openImapReader } from '../mail/imap-reader.ts';
import { openJmapReader } from '../mail/jmap-reader.ts';
import { openPop3Reader } from '../mail/pop3-reader.ts';
import { createAutomationWorker } from './automation.ts';
import { createMailboxSync } from './mailbox-sync.ts';
import { marketingSendingFor } from './marketing-sending.ts';
import { createOutboxDispatcher } from './outbox-dispatcher.ts';
import type { PeriodicTask } from './runner.ts';
import { createWebhookWorker, webhookPoster } from './webhooks.ts';

/**
 * What a worker runs, wired from the container. `join` enters the fleet of workers (call it before
 * the tasks start); `close` leaves it, handing over what this worker held, and releases the SMTP
 * and IDLE connections.
 */
export function createWorkerTasks(container: Container): {
  tasks: PeriodicTask[];
  join(): Promise<void>;
  close(): Promise<void>;
} {
  const { services, logger, config } = container;
  const pool = createSmtpSenderPool({ maxConnectionsPerKey: config.outbox.connectionsPerAccount, logger });
  const dispatcher = createOutboxDispatcher({
    outbox: services.outbox,
    accounts: services.accounts,
    contacts: services.contacts,
    pool,
    logger: logger.child({ task: 'outbox' }),
    workerId: container.workerId,
    concurrency: config.outbox.concurrency,
    pollIntervalMs: config.outbox.pollIntervalMs,
    marketing: marketingSendingFor(container),
    tokenKey: verpKeys(container.keyring)[0]!,
    now: container.now,
    metrics: container.metrics,
    hostPolicy: container.hostPolicy,
  });
  const mailboxSync = createMailboxSync({
    mailboxes: services.mailboxes,
    accounts: services.accounts,
    incoming: services.incoming,
    outbox: services.outbox,
    readers: {
      imap: (readerConfig) => openImapReader(readerConfig),
      jmap: (readerConfig) => openJmapReader(readerConfig),
      pop3: (readerConfig) => openPop3Reader(readerConfig),
    },
    logger: logger.child({ task: 'mailboxes' }),
    workerId: container.workerId,
    concurrency: config.sync.concurrency,
    pollIntervalMs: config.sync.pollIntervalMs,
    maxRawBytes: config.rawMessageMaxBytes,
    idle: config.sync.idle,
    now: container.now,
    hostPolicy: container.hostPolicy,
  });
  container.onMailboxDue(mailboxSync.wake);
  container.metrics.countIdleConnectionsWith(() => mailboxSync.watching().length);
  const automation = createAutomationWorker({
    engine: services.automation,
    logger: logger.child({ task: 'automation' }),
    pollIntervalMs: config.automation.pollIntervalMs,
    concurrency: 8,
  });
  const webhooks = createWebhookWorker({
    engine: services.webhookDelivery,
    post: webhookPoster(config),
    now: container.now,
    logger: logger.child({ task: 'webhooks' }),
    pollIntervalMs: config.webhooks.pollIntervalMs,
    concurrency: 8,
    metrics: container.metrics,
  });
  const membership = createFleetMembership({
    fleet: services.fleet,
    courier: services.passwordCourier,
    mailboxes: mailboxSync,
    databaseUrl: config.database.dialect === 'postgres' ? config.database.url : undefined,
    logger: logger.child({ task: 'fleet' }),
    now: container.now,
    onTakeover: (holds) => container.metrics.leaseTakeovers.inc({ kind: 'account_hold' }, holds),
  });
  return {
    tasks: [
      membership.task,
      housekeepingTask(container),
      dispatcher.task,
      mailboxSync.task,
      automation.task,
      webhooks.task,
    ],
    join: () => membership.join(),
    close: async () => {
      await membership.leave();
      await Promise.all([pool.close(), mailboxSync.close()]);
    },
  };
}
