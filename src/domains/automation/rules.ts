import { Type, type Static } from '@sinclair/typebox';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';
import { Tag } from '../contacts/contacts.ts';
import { eventTypes } from './events.ts';

export const EventTypeSchema = Type.Union(
  eventTypes.map((type) => Type.Literal(type)),
  { description: 'the event type' },
);

export const RuleConditionsSchema = StrictObject(
  {
    accountId: Type.Optional(Id),
    subjectContains: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    bodyContains: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    contactHasTag: Type.Optional(Tag),
    scoreAbove: Type.Optional(Type.Integer()),
    scoreBelow: Type.Optional(Type.Integer()),
    senderDomain: Type.Optional(Type.String({ minLength: 1, maxLength: 253, format: 'domain' })),
  },
  {
    description:
      'all must hold. subjectContains and bodyContains (case-insensitive) and senderDomain read the event’s ' +
      'message; contactHasTag, scoreAbove and scoreBelow its contact. A condition the event cannot answer ' +
      '(no message, no contact) does not hold.',
  },
);
export type RuleConditions = Static<typeof RuleConditionsSchema>;

const AlertTarget = Type.Union([
  Type.Literal('contact_owner'),
  StrictObject({ userId: Id }),
  StrictObject({ teamId: Id }),
]);

export const RuleActionSchema = Type.Union([
  StrictObject({
    type: Type.Literal('add_score'),
    amount: Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, not: { const: 0 } }),
  }),
  StrictObject({ type: Type.Literal('add_tag'), tag: Tag }),
  StrictObject({ type: Type.Literal('remove_tag'), tag: Tag }),
  StrictObject({
    type: Type.Literal('alert'),
    to: AlertTarget,
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  }),
  StrictObject(
    { type: Type.Literal('webhook'), endpointId: Id },
    {
      description:
        'POST the event to this webhook endpoint of the organisation (once per endpoint and event)',
    },
  ),
]);
export type RuleAction = Static<typeof RuleActionSchema>;

export const RuleSchema = StrictObject({
  id: Id,
  name: Type.String(),
  trigger: EventTypeSchema,
  conditions: RuleConditionsSchema,
  actions: Type.Array(RuleActionSchema),
  enabled: Type.Boolean(),
  createdBy: Nullable(Id),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Rule = Static<typeof RuleSchema>;

export const CreateRuleBody = StrictObject({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  trigger: EventTypeSchema,
  conditions: Type.Optional(RuleConditionsSchema),
  actions: Type.Array(RuleActionSchema, { minItems: 1, maxItems: 10 }),
  enabled: Type.Optional(Type.Boolean({ default: true })),
});
export type CreateRuleInput = Static<typeof CreateRuleBody>;

export const UpdateRuleBody = Type.Partial(CreateRuleBody, { additionalProperties: false, minProperties: 1 });
export type UpdateRuleInput = Static<typeof UpdateRuleBody>;

export const ActionResultSchema = StrictObject({
  type: Type.String(),
  status: Type.Union(
    [Type.Literal('pending'), Type.Literal('done'), Type.Literal('skipped'), Type.Literal('failed')],
    {
      description: 'skipped: nothing to act on (no contact, no owner); failed: the last attempt failed',
    },
  ),
  detail: Nullable(Type.String({ description: 'what was done, or why not' })),
  at: Nullable(Timestamp),
});
export type ActionResult = Static<typeof ActionResultSchema>;

export const RuleRunSchema = StrictObject({
  id: Id,
  ruleId: Id,
  eventId: Id,
  status: Type.Union(
    [Type.Literal('pending'), Type.Literal('done'), Type.Literal('skipped'), Type.Literal('failed')],
    {
      description:
        'pending: to run or to retry; skipped: the conditions did not hold; failed: retries ran out',
    },
  ),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Timestamp),
  actions: Type.Array(ActionResultSchema),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type RuleRun = Static<typeof RuleRunSchema>;

export const EventSchema = StrictObject({
  id: Id,
  type: EventTypeSchema,
  createdAt: Timestamp,
  actorId: Nullable(Id),
  causedByRuleId: Nullable(Id),
  accountId: Nullable(Id),
  messageId: Nullable(Id),
  contactId: Nullable(Id),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type Event = Static<typeof EventSchema>;

export const EventListQuery = StrictObject({
  type: Type.Optional(EventTypeSchema),
  contactId: Type.Optional(Id),
  since: Type.Optional(Timestamp),
  cursor: Type.Optional(Id),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export type EventListQuery = Static<typeof EventListQuery>;

export const NotificationSchema = StrictObject({
  id: Id,
  title: Type.String(),
  body: Type.String(),
  eventId: Nullable(Id),
  ruleId: Nullable(Id),
  contactId: Nullable(Id),
  readAt: Nullable(Timestamp),
  createdAt: Timestamp,
});
export type Notification = Static<typeof NotificationSchema>;
