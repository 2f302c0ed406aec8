import { Type, type Static } from '@sinclair/typebox';
import type { BounceAction } from '../../db/database.ts';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';

/** How a bounce was tied to what was sent, strongest first (a reply at send time needs no matching). */
export type MatchedBy = 'verp' | 'envid' | 'message_id' | 'address' | 'rcpt_reply';

/**
 * One normalised record for every way a bounce is learnt (a 5xx at send time, a notice in a
 * mailbox, a notice at the VERP intake), written through one path: BouncesService.record.
 */
export interface BounceRecord {
  orgId: string;
  source: 'smtp' | 'mailbox' | 'verp';
  action: BounceAction;
  /** Null when nothing sent was found; the record is kept, on the contact when the address is one. */
  matchedBy: MatchedBy | null;
  messageId: string | null;
  recipientId: string | null;
  accountId: string | null;
  contactId: string | null;
  recipient: string;
  reason: string;
  bounceType: 'hard' | 'soft' | null;
  status: string | null;
  replyCode: number | null;
  diagnostic: string | null;
  remoteMta: string | null;
  /** The raw notice in the raw store; null for a reply at send time, whose text is the diagnostic. */
  rawKey: string | null;
  /** The stored incoming message that carried the notice (mailbox bounces). */
  noticeMessageId: string | null;
}

export const BounceSchema = StrictObject({
  id: Id,
  source: Type.Union([Type.Literal('smtp'), Type.Literal('mailbox'), Type.Literal('verp')], {
    description:
      'smtp: refused at send time; mailbox: a notice read from the account; verp: the bounce intake',
  }),
  action: Type.Union([Type.Literal('failed'), Type.Literal('delayed'), Type.Literal('complained')], {
    description: 'delayed notices are recorded but never counted',
  }),
  matchedBy: Nullable(
    Type.Union([
      Type.Literal('verp'),
      Type.Literal('envid'),
      Type.Literal('message_id'),
      Type.Literal('address'),
      Type.Literal('rcpt_reply'),
    ]),
  ),
  messageId: Nullable(Id),
  recipientId: Nullable(Id),
  accountId: Nullable(Id),
  contactId: Nullable(Id),
  recipient: Type.String(),
  bounceType: Nullable(Type.Union([Type.Literal('hard'), Type.Literal('soft')])),
  reason: Type.String({ description: 'userunknown, mailboxfull, … (the classifier’s reason)' }),
  status: Nullable(Type.String({ description: 'enhanced status code, e.g. 5.1.1' })),
  replyCode: Nullable(Type.Integer()),
  diagnostic: Nullable(Type.String()),
  remoteMta: Nullable(Type.String()),
  hasRawNotice: Type.Boolean({ description: 'GET /api/bounces/{id}/raw returns the notice as received' }),
  noticeMessageId: Type.Union([Id, Type.Null()], {
    description: 'the stored incoming message that carried the notice (GET /api/bounces?noticeMessageId=)',
  }),
  createdAt: Timestamp,
});
export type Bounce = Static<typeof BounceSchema>;

export const BounceListQuery = StrictObject({
  contactId: Type.Optional(Id),
  messageId: Type.Optional(Id),
  noticeMessageId: Type.Optional(Id),
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});
export type BounceListQuery = Static<typeof BounceListQuery>;

export const BounceSettingsSchema = StrictObject({
  softBounceLimit: Type.Integer({
    minimum: 2,
    maximum: 1000,
    description: 'this many soft bounces within the window mark a contact faulty (a single one never does)',
  }),
  softBounceWindowDays: Type.Integer({ minimum: 1, maximum: 3650 }),
});
export type BounceSettings = Static<typeof BounceSettingsSchema>;
