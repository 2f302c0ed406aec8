import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type {
  WebhookDeliveryEngine,
  WebhookOutcome,
  WebhookRequest,
} from '../domains/automation/webhooks.delivery.ts';
import type { Metrics } from '../metrics.ts';
import { postJson } from '../net/http-post.ts';
import type { PeriodicTask } from './runner.ts';

/** The HTTP client as the configuration says: its timeout, http:// or not, private hosts or not. */
export function webhookPoster(config: Config): (request: WebhookRequest) => Promise<WebhookOutcome> {
  return (request) =>
    postJson(request.url, request.body, request.headers, {
      timeoutMs: config.webhooks.timeoutMs,
      allowInsecure: config.webhooks.allowInsecure,
      allowPrivateHosts: config.allowPrivateHosts,
    });
}

/**
 * The webhook worker: claims due deliveries, POSTs each and records how it went, until none is
 * due; several workers share the work through the deliveries' leases.
 */
export function createWebhookWorker(deps: {
  engine: WebhookDeliveryEngine;
  /** The HTTP client, with the timeout and the address policy applied (src/net/http-post.ts). */
  post: (request: WebhookRequest) => Promise<WebhookOutcome>;
  now: Clock;
  logger: Logger;
  pollIntervalMs: number;
  /** Deliveries in flight at once. */
  concurrency: number;
  /** Counts failed attempts (src/metrics.ts). */
  metrics?: Pick<Metrics, 'webhookFailures'>;
}) {
  const { engine, logger } = deps;
  const owner = `webhooks-${randomUUID()}`;

  async function deliver(claimed: Awaited<ReturnType<WebhookDeliveryEngine['claim']>>[number]) {
    const request = await engine.prepare(claimed, owner);
    if (!request) return;
    const startedAt = deps.now();
    const outcome = await deps.post(request);
    const status = await engine.record(claimed, owner, startedAt, outcome);
    // The endpoint and delivery ids only: the URL may carry a receiver's token, the headers our signature.
    const line = {
      deliveryId: claimed.id,
      endpointId: claimed.endpoint_id,
      eventId: claimed.event_id,
      statusCode: outcome.statusCode,
      latencyMs: outcome.latencyMs,
      status,
    };
    if (status === 'delivered') logger.debug(line, 'webhook delivered');
    else {
      deps.metrics?.webhookFailures.inc();
      logger.warn({ ...line, error: outcome.error }, 'webhook delivery failed');
    }
  }

  async function runOnce(signal: AbortSignal): Promise<number> {
    let attempted = 0;
    for (;;) {
      const claimed = await engine.claim(owner, deps.concurrency);
      await Promise.all(
        claimed.map((row) =>
          deliver(row).catch((error: unknown) =>
            logger.error({ err: error, deliveryId: row.id }, 'webhook delivery could not be recorded'),
          ),
        ),
      );
      attempted += claimed.length;
      if (claimed.length === 0 || signal.aborted) return attempted;
    }
  }

  const task: PeriodicTask = {
    name: 'webhooks',
    intervalMs: deps.pollIntervalMs,
    async run(signal) {
      await runOnce(signal);
    },
  };
  return { task, runOnce };
}
