import type { Container } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { createWebhookWorker, webhookPoster } from '../../src/workers/webhooks.ts';

/**
 * One pass of a fresh webhook worker (as after a restart): every delivery due by the container's
 * clock. `allowPrivateHosts` overrides the configuration's, for the connect-time address check.
 */
export function runWebhooksOnce(
  container: Container,
  options: { allowPrivateHosts?: boolean } = {},
): Promise<number> {
  const worker = createWebhookWorker({
    engine: container.services.webhookDelivery,
    post: webhookPoster({ ...container.config, ...options }),
    now: container.now,
    logger: createLogger('silent'),
    pollIntervalMs: 60_000,
    concurrency: 4,
  });
  return worker.runOnce(new AbortController().signal);
}
