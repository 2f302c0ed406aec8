import { createHmac } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import type { Db, Dialect, Row, Tx } from '../../db/database.ts';
import { claimDueWork } from '../../db/claims.ts';
import { newId } from '../../db/ids.ts';
import type { Keyring } from '../../secrets/keyring.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Notifier } from './notify.ts';
import { findEvent } from './rules.repository.ts';
import * as repo from './webhooks.repository.ts';
import { readSecret } from './webhooks.service.ts';
import {
  WEBHOOK_FIRST_RETRY_MS,
  WEBHOOK_GIVE_UP_MS,
  WEBHOOK_MAX_RETRY_MS,
  WEBHOOK_USER_AGENT,
  type WebhookBody,
} from './webhooks.ts';

export type WebhookDeliveryEngine = ReturnType<typeof createWebhookDeliveryEngine>;

/** What the sender is asked to POST. */
export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** How the receiver answered, as the sender (src/net/http-post.ts) reports it. */
export interface WebhookOutcome {
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
}

/** The JSON a receiver gets: the event, with the ids it is about in `data` as well. */
export function webhookBody(event: Row<'events'>): WebhookBody {
  const payload = JSON.parse(event.payload) as Record<string, unknown>;
  return {
    id: event.id,
    type: event.type,
    createdAt: event.created_at,
    data: {
      ...payload,
      ...(event.account_id !== null && { accountId: event.account_id }),
      ...(event.message_id !== null && { messageId: event.message_id }),
      ...(event.contact_id !== null && { contactId: event.contact_id }),
    },
  };
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, keyed with the secret's text. */
export function signatureHeader(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

const OFF_REASON = 'deliveries failed for 24 hours';

/**
 * Webhook deliveries: claimed with a lease (several workers never send one twice at once), turned
 * into a signed request, and each attempt recorded. A failure is retried with exponential backoff
 * and jitter until 24 hours after the first attempt; an endpoint whose deliveries have failed for
 * 24 hours is turned off and its owner alerted. Sending itself is the worker's (it holds the HTTP
 * client), so everything here is database work and can be driven by a test clock.
 */
export function createWebhookDeliveryEngine(deps: {
  db: Db;
  dialect: Dialect;
  now: Clock;
  keyring: Keyring;
  audit: AuditService;
  notifier: Notifier;
  leaseMs: number;
  /** Counts items whose lease ran out and which this worker took over. */
  onTakeover?: (count: number) => void;
  random?: () => number;
}) {
  const { db, dialect, now, keyring } = deps;
  const random = deps.random ?? Math.random;

  function retryDelayMs(attempts: number): number {
    const base = Math.min(WEBHOOK_MAX_RETRY_MS, WEBHOOK_FIRST_RETRY_MS * 2 ** (attempts - 1));
    return Math.round(base * (0.5 + random() / 2));
  }

  /** An endpoint turned off: recorded in the audit log, and its owner (or, gone, the admins) alerted. */
  async function announceTurnedOff(tx: Tx, endpoint: Row<'webhook_endpoints'>): Promise<void> {
    await deps.audit.record(tx, {
      orgId: endpoint.org_id,
      actorId: null,
      action: 'webhook.disabled',
      targetType: 'webhook',
      targetId: endpoint.id,
      fields: ['enabled'],
    });
    await deps.notifier.notifyUsers(tx, {
      orgId: endpoint.org_id,
      userIds: endpoint.owner_id ? [endpoint.owner_id] : await repo.findAdminIds(tx, endpoint.org_id),
      title: 'Webhook turned off',
      // The origin only: a receiver's path or query may carry a token of its own.
      body:
        `Deliveries to ${new URL(endpoint.url).origin} (webhook ${endpoint.id}) failed for 24 hours, so it ` +
        'was turned off. Fix the receiver, then turn the webhook back on.',
    });
  }

  return {
    /** Due deliveries, leased to this worker. */
    async claim(owner: string, limit: number): Promise<Row<'webhook_deliveries'>[]> {
      const ids = await claimDueWork(db, dialect, 'webhook_deliveries', {
        owner,
        now: now(),
        leaseMs: deps.leaseMs,
        limit,
        onTakeover: deps.onTakeover,
      });
      return repo.findDeliveries(db, ids);
    },

    /**
     * The signed request for a claimed delivery, or null when there is nothing to send: the
     * endpoint was turned off (the delivery is closed as failed) or the event is gone.
     */
    async prepare(claimed: Row<'webhook_deliveries'>, owner: string): Promise<WebhookRequest | null> {
      const endpoint = await repo.findEndpointById(db, claimed.endpoint_id);
      const event = await findEvent(db, claimed.event_id);
      if (!endpoint || endpoint.enabled !== 1 || !event) {
        await repo.updateDelivery(db, claimed.id, owner, {
          status: 'failed',
          next_attempt_at: null,
          last_error: 'the endpoint was turned off before the delivery was made',
          lease_owner: null,
          lease_until: null,
          updated_at: now().toISOString(),
        });
        return null;
      }
      const body = JSON.stringify(webhookBody(event));
      const unixSeconds = Math.floor(now().getTime() / 1000);
      return {
        url: endpoint.url,
        body,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': WEBHOOK_USER_AGENT,
          'Mailroom-Event-Id': event.id,
          'Mailroom-Signature': signatureHeader(readSecret(keyring, endpoint), unixSeconds, body),
        },
      };
    },

    /** Records an attempt and what follows from it; returns the delivery's status after it. */
    async record(
      claimed: Row<'webhook_deliveries'>,
      owner: string,
      startedAt: Date,
      outcome: WebhookOutcome,
    ): Promise<Row<'webhook_deliveries'>['status']> {
      return db.transaction().execute(async (tx) => {
        const at = now();
        const atIso = at.toISOString();
        const firstAttemptAt = claimed.first_attempt_at ?? startedAt.toISOString();
        const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
        await repo.insertAttempt(tx, {
          id: newId(),
          delivery_id: claimed.id,
          started_at: startedAt.toISOString(),
          status_code: outcome.statusCode,
          latency_ms: outcome.latencyMs,
          error: outcome.error?.slice(0, 1000) ?? null,
        });
        const common = {
          attempts: claimed.attempts + 1,
          first_attempt_at: firstAttemptAt,
          last_status_code: outcome.statusCode,
          last_error: outcome.error?.slice(0, 1000) ?? null,
          lease_owner: null,
          lease_until: null,
          updated_at: atIso,
        };
        if (ok) {
          await repo.updateDelivery(tx, claimed.id, owner, {
            ...common,
            status: 'delivered',
            next_attempt_at: null,
            delivered_at: atIso,
          });
          await repo.updateEndpoint(tx, claimed.endpoint_id, { failing_since: null });
          return 'delivered';
        }
        const deadline = new Date(firstAttemptAt).getTime() + WEBHOOK_GIVE_UP_MS;
        // The last retry falls at the deadline itself, so a delivery is tried for the full 24 hours.
        const next = Math.min(at.getTime() + retryDelayMs(claimed.attempts + 1), deadline);
        // From the start of the failed attempt, so the one at the deadline counts the full 24 hours.
        await repo.markEndpointFailing(tx, claimed.endpoint_id, startedAt.toISOString());
        const endpoint = await repo.findEndpointById(tx, claimed.endpoint_id);
        const turnOff =
          endpoint?.failing_since != null &&
          at.getTime() - new Date(endpoint.failing_since).getTime() >= WEBHOOK_GIVE_UP_MS &&
          (await repo.disableEndpoint(tx, endpoint.id, OFF_REASON, atIso));
        const status = turnOff || at.getTime() >= deadline ? 'failed' : 'pending';
        await repo.updateDelivery(tx, claimed.id, owner, {
          ...common,
          status,
          next_attempt_at: status === 'pending' ? new Date(next).toISOString() : null,
        });
        if (turnOff) await announceTurnedOff(tx, endpoint!);
        return status;
      });
    },
  };
}
