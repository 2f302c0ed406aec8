import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, NewRow, Row, Timestamp } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import { hostRefusal } from '../../net/address-policy.ts';
import { toPageWindow, type PageResult } from '../../pagination.ts';
import { decryptSecret, encryptSecret } from '../../secrets/cipher.ts';
import type { Keyring } from '../../secrets/keyring.ts';
import type { SecretStore } from '../../secrets/rotate.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { requireAdmin } from '../users/policy.ts';
import type { Actor } from '../users/users.ts';
import type { EventType } from './events.ts';
import * as repo from './webhooks.repository.ts';
import type {
  CreateWebhookInput,
  UpdateWebhookInput,
  WebhookDelivery,
  WebhookDeliveryQuery,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
} from './webhooks.ts';

export type WebhooksService = ReturnType<typeof createWebhooksService>;

/** The secret's ciphertext is bound to its endpoint: copied onto another row, it does not decrypt. */
export const secretContext = (endpointId: string) => `webhook:${endpointId}`;

export function readSecret(keyring: Keyring, row: Row<'webhook_endpoints'>): string {
  return decryptSecret(keyring, row.secret, secretContext(row.id));
}

function toEndpoint(row: Row<'webhook_endpoints'>): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as EventType[],
    enabled: row.enabled === 1,
    ownerId: row.owner_id,
    failingSince: row.failing_since,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function newDelivery(
  orgId: string,
  endpointId: string,
  eventId: string,
  ruleId: string | null,
  at: Timestamp,
): NewRow<'webhook_deliveries'> {
  return {
    id: newId(),
    org_id: orgId,
    endpoint_id: endpointId,
    event_id: eventId,
    rule_id: ruleId,
    status: 'pending',
    attempts: 0,
    first_attempt_at: null,
    next_attempt_at: at,
    lease_owner: null,
    lease_until: null,
    last_status_code: null,
    last_error: null,
    delivered_at: null,
    created_at: at,
    updated_at: at,
  };
}

/**
 * Queues one delivery per enabled endpoint subscribed to each event, in the rule engine's dispatch
 * transaction: an event is offered to the endpoints exactly when the rules see it, once.
 */
export async function queueEventDeliveries(
  tx: DbOrTx,
  events: readonly Pick<Row<'events'>, 'id' | 'org_id' | 'type'>[],
  at: Timestamp,
): Promise<void> {
  const endpoints = await repo.findEnabledEndpoints(tx, [...new Set(events.map((event) => event.org_id))]);
  if (endpoints.length === 0) return;
  const subscribed = endpoints.map((endpoint) => ({
    ...endpoint,
    types: new Set(JSON.parse(endpoint.event_types) as string[]),
  }));
  const rows = events.flatMap((event) =>
    subscribed
      .filter((endpoint) => endpoint.org_id === event.org_id && endpoint.types.has(event.type))
      .map((endpoint) => newDelivery(event.org_id, endpoint.id, event.id, null, at)),
  );
  await repo.insertDeliveries(tx, rows);
}

/**
 * A rule's "call a webhook" action: queues the event for that endpoint, once however often it is
 * asked (a subscription may have queued it already). A missing or turned-off endpoint fails the
 * action, so the run log says so and the action is retried.
 */
export async function queueRuleDelivery(
  tx: DbOrTx,
  ruleId: string,
  orgId: string,
  endpointId: string,
  event: Pick<Row<'events'>, 'id'>,
  at: Timestamp,
): Promise<string> {
  const endpoint = await repo.findEndpoint(tx, orgId, endpointId);
  if (!endpoint) throw new Error(`webhook endpoint ${endpointId} does not exist`);
  if (endpoint.enabled !== 1) throw new Error(`webhook endpoint ${endpointId} is turned off`);
  const inserted = await repo.insertDeliveries(tx, [newDelivery(orgId, endpointId, event.id, ruleId, at)]);
  return inserted > 0 ? `queued for webhook ${endpointId}` : `already queued for webhook ${endpointId}`;
}

/** `whsec_` and 32 random bytes: what receivers key their HMAC with, as the text it is. */
function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * Webhook endpoints (admins only: an endpoint receives the organisation's events, and its secret
 * signs them) and their delivery logs. Deliveries are made by the worker (webhooks.delivery.ts).
 */
export function createWebhooksService(deps: {
  db: Db;
  now: Clock;
  keyring: Keyring;
  audit: AuditService;
  allowInsecure: boolean;
  allowPrivateHosts: boolean;
}) {
  const { db, now, keyring, audit } = deps;

  /** The URL rules, checked on save (and again by the sender at every connection). */
  async function checkUrl(url: string): Promise<void> {
    const refuse = (message: string) => {
      throw new AppError('VALIDATION_FAILED', `The webhook URL is not allowed: it ${message}.`, {
        fields: { url: message },
      });
    };
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return refuse('is not a valid URL');
    }
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && deps.allowInsecure)) {
      return refuse(deps.allowInsecure ? 'must be an https:// or http:// URL' : 'must be an https:// URL');
    }
    if (!parsed.hostname) return refuse('has no host');
    const refusal = await hostRefusal(parsed.hostname, { allowPrivate: deps.allowPrivateHosts });
    if (refusal) {
      throw new AppError('VALIDATION_FAILED', `The webhook URL is not allowed: ${refusal}.`, {
        fields: { url: refusal },
      });
    }
  }

  async function load(tx: DbOrTx, actor: Actor, id: string): Promise<Row<'webhook_endpoints'>> {
    const row = await repo.findEndpoint(tx, actor.orgId, id);
    if (!row) throw new AppError('WEBHOOK_NOT_FOUND', `No webhook endpoint ${id}.`);
    return row;
  }

  function recordChange(tx: DbOrTx, actor: Actor, action: string, id: string, fields: string[]) {
    return audit.record(tx, {
      orgId: actor.orgId,
      actorId: actor.userId,
      action,
      targetType: 'webhook',
      targetId: id,
      fields,
    });
  }

  return {
    async list(actor: Actor): Promise<PageResult<WebhookEndpoint>> {
      requireAdmin(actor, 'read webhooks');
      const rows = await repo.listEndpoints(db, actor.orgId);
      return { items: rows.map(toEndpoint), total: rows.length };
    },

    async get(actor: Actor, id: string): Promise<WebhookEndpoint> {
      requireAdmin(actor, 'read webhooks');
      return toEndpoint(await load(db, actor, id));
    },

    async create(actor: Actor, input: CreateWebhookInput): Promise<WebhookEndpointWithSecret> {
      requireAdmin(actor, 'create webhooks');
      await checkUrl(input.url);
      const secret = generateSecret();
      return db.transaction().execute(async (tx) => {
        const at = now().toISOString();
        const id = newId();
        const row: Row<'webhook_endpoints'> = {
          id,
          org_id: actor.orgId,
          url: input.url,
          description: input.description ?? null,
          event_types: JSON.stringify(input.eventTypes),
          secret: encryptSecret(keyring, secret, secretContext(id)),
          enabled: input.enabled === false ? 0 : 1,
          owner_id: actor.userId,
          failing_since: null,
          disabled_reason: null,
          disabled_at: null,
          created_at: at,
          updated_at: at,
        };
        await repo.insertEndpoint(tx, row);
        await recordChange(tx, actor, 'webhook.created', id, [...Object.keys(input), 'secret'].sort());
        return { ...toEndpoint(row), secret };
      });
    },

    async update(actor: Actor, id: string, input: UpdateWebhookInput): Promise<WebhookEndpoint> {
      requireAdmin(actor, 'change webhooks');
      if (input.url !== undefined) await checkUrl(input.url);
      return db.transaction().execute(async (tx) => {
        const before = await load(tx, actor, id);
        const enabling = input.enabled === true && before.enabled !== 1;
        await repo.updateEndpoint(tx, id, {
          ...(input.url !== undefined && { url: input.url }),
          ...(input.description !== undefined && { description: input.description }),
          ...(input.eventTypes !== undefined && { event_types: JSON.stringify(input.eventTypes) }),
          ...(input.enabled !== undefined && { enabled: input.enabled ? 1 : 0 }),
          // Turned back on: its past failures no longer count towards turning it off again.
          ...(enabling && { failing_since: null, disabled_reason: null, disabled_at: null }),
          ...(input.enabled === false && before.enabled === 1 && { disabled_at: now().toISOString() }),
          updated_at: now().toISOString(),
        });
        await recordChange(tx, actor, 'webhook.updated', id, Object.keys(input).sort());
        return toEndpoint(await load(tx, actor, id));
      });
    },

    async remove(actor: Actor, id: string): Promise<void> {
      requireAdmin(actor, 'delete webhooks');
      await db.transaction().execute(async (tx) => {
        await load(tx, actor, id);
        await repo.deleteEndpoint(tx, id);
        await recordChange(tx, actor, 'webhook.deleted', id, []);
      });
    },

    /** A new secret, in force at once: receivers must switch to it (the old one signs nothing more). */
    async rotateSecret(actor: Actor, id: string): Promise<WebhookEndpointWithSecret> {
      requireAdmin(actor, 'rotate webhook secrets');
      const secret = generateSecret();
      return db.transaction().execute(async (tx) => {
        await load(tx, actor, id);
        await repo.updateEndpoint(tx, id, {
          secret: encryptSecret(keyring, secret, secretContext(id)),
          updated_at: now().toISOString(),
        });
        await recordChange(tx, actor, 'webhook.secret_rotated', id, ['secret']);
        return { ...toEndpoint(await load(tx, actor, id)), secret };
      });
    },

    /** The delivery log, newest first: each delivery's event, status and every attempt. */
    async deliveries(
      actor: Actor,
      id: string,
      query: WebhookDeliveryQuery,
    ): Promise<PageResult<WebhookDelivery>> {
      requireAdmin(actor, 'read webhook deliveries');
      await load(db, actor, id);
      const rows = await repo.listDeliveries(db, id, query.status, toPageWindow(query));
      const attempts = await repo.listAttempts(
        db,
        rows.map((row) => row.id),
      );
      return {
        items: rows.map((row) => ({
          id: row.id,
          eventId: row.event_id,
          eventType: row.event_type as EventType,
          ruleId: row.rule_id,
          status: row.status,
          attempts: attempts
            .filter((attempt) => attempt.delivery_id === row.id)
            .map((attempt) => ({
              at: attempt.started_at,
              statusCode: attempt.status_code,
              latencyMs: attempt.latency_ms,
              error: attempt.error,
            })),
          nextAttemptAt: row.next_attempt_at,
          deliveredAt: row.delivered_at,
          createdAt: row.created_at,
        })),
        total: await repo.countDeliveries(db, id, query.status),
      };
    },

    /** The encrypted signing secrets, for `mailroom secrets rotate`. */
    secretStore(): SecretStore {
      return {
        async list(afterId, limit) {
          const rows = await repo.listSecretRows(db, afterId, limit);
          return rows.map((row) => ({ id: row.id, context: secretContext(row.id), ciphertext: row.secret }));
        },
        replace: (id, expected, next) => repo.replaceSecret(db, id, expected, next),
      };
    },
  };
}
