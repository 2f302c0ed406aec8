import type { Container } from '../../src/container.ts';
import type { CreateAccountInput, IncomingInput } from '../../src/domains/accounts/accounts.ts';
import { createLogger } from '../../src/logger.ts';
import { openImapReader } from '../../src/mail/imap-reader.ts';
import { openJmapReader } from '../../src/mail/jmap-reader.ts';
import { openPop3Reader } from '../../src/mail/pop3-reader.ts';
import { createMailboxSync } from '../../src/workers/mailbox-sync.ts';
import { mailPeers, type Mailbox } from './mail-peers.ts';

/** An own account that reads this Dovecot mailbox over IMAP (STARTTLS) and sends through smtp-sink. */
export function imapAccountInput(
  mailbox: Mailbox,
  incoming: Partial<IncomingInput> = {},
): CreateAccountInput {
  return {
    type: 'own',
    name: `Mailbox ${mailbox.user}`,
    email: mailbox.address,
    smtp: { host: '127.0.0.1', port: mailPeers.ports.sink, security: 'none', requiresAuth: false },
    incoming: {
      protocol: 'imap',
      host: '127.0.0.1',
      port: mailPeers.ports.imap,
      security: 'starttls',
      username: mailbox.user,
      password: mailbox.password,
      syncSince: '2026-01-01',
      ...incoming,
    },
  };
}

/** The real mailbox worker, in the test's process, with the real IMAP reader. */
export function createTestMailboxSync(container: Container, options: { idle?: boolean } = {}) {
  return createMailboxSync({
    mailboxes: container.services.mailboxes,
    accounts: container.services.accounts,
    incoming: container.services.incoming,
    outbox: container.services.outbox,
    readers: {
      imap: (config) => openImapReader(config),
      jmap: (config) => openJmapReader(config),
      pop3: (config) => openPop3Reader(config),
    },
    logger: createLogger('silent'),
    workerId: container.workerId,
    concurrency: 4,
    pollIntervalMs: 60_000,
    maxRawBytes: container.config.rawMessageMaxBytes,
    idle: options.idle ?? false,
    now: container.now,
    hostPolicy: container.hostPolicy,
  });
}

/** One pass over every due mailbox; a fresh worker each time, as after a restart. */
export async function runMailboxSyncOnce(container: Container): Promise<number> {
  const sync = createTestMailboxSync(container);
  try {
    return await sync.runOnce(new AbortController().signal);
  } finally {
    await sync.close();
  }
}
