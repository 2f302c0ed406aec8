import { Type, type Static } from '@sinclair/typebox';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';
import { EventTypeSchema } from './rules.ts';

/** A delivery is retried until this long after its first attempt; an endpoint failing this long is turned off. */
export const WEBHOOK_GIVE_UP_MS = 24 * 60 * 60_000;
export const WEBHOOK_FIRST_RETRY_MS = 30_000;
export const WEBHOOK_MAX_RETRY_MS = 60 * 60_000;
export const WEBHOOK_USER_AGENT = 'Mailroom-Webhooks/1';

const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  description:
    'https:// (http:// only where MAILROOM_ALLOW_INSECURE_WEBHOOKS is set); its host must resolve to public ' +
    'addresses only (unless MAILROOM_ALLOW_PRIVATE_HOSTS is set), checked when saved and at each connection',
});
const EventTypes = Type.Array(EventTypeSchema, { minItems: 1, maxItems: 50, uniqueItems: true });
const Description = Nullable(Type.String({ maxLength: 500 }));

export const WebhookEndpointSchema = StrictObject({
  id: Id,
  url: Url,
  description: Description,
  eventTypes: EventTypes,
  enabled: Type.Boolean(),
  ownerId: Nullable(Id),
  failingSince: Nullable(Timestamp),
  disabledReason: Nullable(Type.String({ description: 'why it was turned off, when it was' })),
  disabledAt: Nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type WebhookEndpoint = Static<typeof WebhookEndpointSchema>;

export const WebhookEndpointWithSecretSchema = StrictObject({
  ...WebhookEndpointSchema.properties,
  secret: Type.String({
    description: 'the signing secret: shown here once, never again (rotate it to get a new one)',
  }),
});
export type WebhookEndpointWithSecret = Static<typeof WebhookEndpointWithSecretSchema>;

export const CreateWebhookBody = StrictObject({
  url: Url,
  eventTypes: EventTypes,
  description: Type.Optional(Description),
  enabled: Type.Optional(Type.Boolean({ default: true })),
});
export type CreateWebhookInput = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Partial(CreateWebhookBody, {
  additionalProperties: false,
  minProperties: 1,
  description: 'enabled: true turns a turned-off endpoint back on and forgets its failures',
});
export type UpdateWebhookInput = Static<typeof UpdateWebhookBody>;

export const WebhookAttemptSchema = StrictObject({
  at: Timestamp,
  statusCode: Nullable(Type.Integer({ description: 'the receiver’s answer; null when none came' })),
  latencyMs: Type.Integer(),
  error: Nullable(Type.String({ description: 'why no answer came (refused, timed out)' })),
});

export const WebhookDeliverySchema = StrictObject({
  id: Id,
  eventId: Id,
  eventType: EventTypeSchema,
  ruleId: Nullable(Id),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], {
    description:
      'pending: to send or to retry; failed: 24 hours of retries ran out, or the endpoint was turned off',
  }),
  attempts: Type.Array(WebhookAttemptSchema, { description: 'oldest first' }),
  nextAttemptAt: Nullable(Timestamp),
  deliveredAt: Nullable(Timestamp),
  createdAt: Timestamp,
});
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;

export const WebhookDeliveryQuery = StrictObject({
  status: Type.Optional(
    Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  ),
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});
export type WebhookDeliveryQuery = Static<typeof WebhookDeliveryQuery>;

/** What a receiver gets: the event as the event log has it, `data` with the ids it is about. */
export interface WebhookBody {
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}
