import type { Container } from '../container.ts';
import { createSmtpSenderPool } from '../mail/smtp-sender.ts';
import { verpKeys } from '../secrets/derived.ts';
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
    marketing: marketingSendingFor(container),
    tokenKey: verpKeys(container.keyring)[0]!,
    now: container.now,
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
    concurrency: config.sync.concurrency,
    pollIntervalMs: config.sync.pollIntervalMs,
    maxRawBytes: config.rawMessageMaxBytes,
    idle: config.sync.idle,
    now: container.now,
  });
  container.onMailboxDue(mailboxSync.wake);
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
  });
  return {
    tasks: [housekeepingTask(container), dispatcher.task, mailboxSync.task, automation.task, webhooks.task],
    close: async () => {
      await Promise.all([pool.close(), mailboxSync.close()]);
    },
  };
}
