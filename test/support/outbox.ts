import type { Container } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { createSmtpSenderPool } from '../../src/mail/smtp-sender.ts';
import type { SmtpSenderPool } from '../../src/mail/smtp-types.ts';
import { verpKeys } from '../../src/secrets/derived.ts';
import { marketingSendingFor } from '../../src/workers/marketing-sending.ts';
import { createOutboxDispatcher } from '../../src/workers/outbox-dispatcher.ts';

/** One pass of the real dispatcher, in the test's process, so a test sees its outcome at once. */
export function runOutboxOnce(container: Container, pool: SmtpSenderPool): Promise<number> {
  const dispatcher = createOutboxDispatcher({
    outbox: container.services.outbox,
    accounts: container.services.accounts,
    contacts: container.services.contacts,
    pool,
    logger: createLogger('silent'),
    workerId: container.workerId,
    concurrency: 4,
    pollIntervalMs: 1000,
    marketing: marketingSendingFor(container),
    tokenKey: verpKeys(container.keyring)[0]!,
    now: container.now,
    metrics: container.metrics,
    hostPolicy: container.hostPolicy,
  });
  return dispatcher.runOnce(new AbortController().signal);
}

/** One pass of the dispatcher with a pool of its own, closed afterwards: everything due is sent. */
export async function sendDueMessages(container: Container): Promise<number> {
  const pool = createSmtpSenderPool();
  try {
    return await runOutboxOnce(container, pool);
  } finally {
    await pool.close();
  }
}

/**
 * An organisation with its admin, and an own account of it that sends without a login to the SMTP
 * server on this machine's `smtpPort`: what every sending test and benchmark starts from.
 */
export async function createSendingAccount(container: Container, name: string, smtpPort: number) {
  const domain = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.test`;
  const { user, organisation } = await container.services.users.createUserInOrganisation({
    organisationName: name,
    email: `owner@${domain}`,
    password: `${domain}-password`,
  });
  const actor = { userId: user.id, orgId: organisation.id, role: 'admin' as const };
  const createAccount = (email: string) =>
    container.services.accounts.create(actor, {
      type: 'own',
      name,
      email,
      smtp: { host: '127.0.0.1', port: smtpPort, security: 'none', requiresAuth: false },
    });
  const account = await createAccount(`sender@${domain}`);
  return { user, actor, account, createAccount };
}

/** The Message-ID in the header block of a message as a server received it, or `(none)`. */
export function messageIdOf(raw: Buffer): string {
  const head = raw.toString('latin1').split(/\r?\n\r?\n/)[0]!;
  return /^message-id:\s*(\S+)/im.exec(head)?.[1] ?? '(none)';
}
