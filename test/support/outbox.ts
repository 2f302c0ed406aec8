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
