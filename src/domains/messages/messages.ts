import { Type, type Static } from '@sinclair/typebox';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';
import { headerSafePattern } from '../../mail/header-value.ts';

export const messageStatuses = [
  'ready',
  'sending',
  'sent',
  'error',
  'uncertain',
  'cancelled',
  'received',
] as const;
export type MessageStatus = (typeof messageStatuses)[number];

const Address = Type.String({ minLength: 3, maxLength: 254, format: 'mailbox' });
const Mailbox = Type.Union([
  Address,
  StrictObject({
    name: Type.Optional(Nullable(Type.String({ maxLength: 200, pattern: headerSafePattern }))),
    address: Address,
  }),
]);
const Mailboxes = Type.Array(Mailbox, { maxItems: 500 });

/**
 * Extra headers a caller may set. Everything else (From, To, Date, Message-ID, MIME) is the
 * composer's, so no caller can forge a sender or break the message structure.
 */
export const allowedHeaderPattern =
  '^(?:[Xx]-[A-Za-z0-9-]{1,60}|List-Unsubscribe|List-Unsubscribe-Post|List-Id|In-Reply-To|References|Precedence|Auto-Submitted)$';

export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

export const NewMessageBody = StrictObject({
  accountId: Type.Optional(Nullable(Id)),
  to: Mailboxes,
  cc: Type.Optional(Mailboxes),
  bcc: Type.Optional(Mailboxes),
  subject: Type.String({ maxLength: 998, pattern: headerSafePattern }),
  text: Type.Optional(Nullable(Type.String({ maxLength: 5 * 1024 * 1024 }))),
  html: Type.Optional(Nullable(Type.String({ maxLength: 5 * 1024 * 1024 }))),
  attachments: Type.Optional(
    Type.Array(
      StrictObject({
        filename: Type.String({ minLength: 1, maxLength: 255, pattern: headerSafePattern }),
        contentType: Type.String({
          pattern: '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$',
          maxLength: 127,
        }),
        content: Type.String({ description: 'base64', contentEncoding: 'base64' }),
      }),
      { maxItems: 50, description: `at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB in all, decoded` },
    ),
  ),
  contactIds: Type.Optional(Type.Array(Id, { maxItems: 500, uniqueItems: true })),
  headers: Type.Optional(
    Type.Record(
      Type.String({ pattern: allowedHeaderPattern }),
      Type.String({ maxLength: 2000, pattern: headerSafePattern }),
      {
        // Without it the key pattern is no allow-list: any other name (From, Bcc) passes with any value.
        additionalProperties: false,
        maxProperties: 20,
        description:
          'X-* headers, List-Unsubscribe(-Post), List-Id, In-Reply-To, References, Precedence, Auto-Submitted',
      },
    ),
  ),
  sendAt: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
});
export type NewMessageInput = Static<typeof NewMessageBody>;

export const BatchBody = StrictObject({
  messages: Type.Array(NewMessageBody, { minItems: 1, maxItems: 1000 }),
});

const ReplySchema = StrictObject({
  code: Nullable(Type.Integer()),
  enhanced: Nullable(Type.String()),
  text: Type.String(),
  command: Nullable(Type.String()),
});

const RecipientSchema = StrictObject({
  kind: Type.Union([Type.Literal('to'), Type.Literal('cc'), Type.Literal('bcc')]),
  address: Type.String(),
  name: Nullable(Type.String()),
  contactId: Nullable(Id),
  status: Type.String({
    description:
      'pending, accepted, rejected, bounced (accepted, then a failure notice came back), or skipped_<why>',
  }),
  reply: Nullable(
    StrictObject({ code: Nullable(Type.Integer()), enhanced: Nullable(Type.String()), text: Type.String() }),
  ),
});

export const MessageSchema = StrictObject({
  id: Id,
  direction: Type.Union([Type.Literal('out'), Type.Literal('in')]),
  status: Type.Unsafe<MessageStatus>({ type: 'string', enum: [...messageStatuses] }),
  kind: Nullable(
    Type.Union(
      [
        Type.Literal('ordinary'),
        Type.Literal('bounce'),
        Type.Literal('auto_reply'),
        Type.Literal('complaint'),
        Type.Literal('delivery_report'),
      ],
      { description: 'incoming mail as the bounce classifier read it; null for outgoing mail' },
    ),
  ),
  accountId: Nullable(Id),
  messageId: Type.String({ description: 'the Message-ID header' }),
  subject: Type.String(),
  text: Nullable(Type.String()),
  html: Nullable(Type.String()),
  headers: Type.Record(Type.String(), Type.String()),
  private: Type.Boolean(),
  sendAt: Nullable(Timestamp),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Union([Timestamp, Type.Null()], {
    description: 'while ready: when the message is due (its sendAt, or its next retry)',
  }),
  sentAt: Nullable(Timestamp),
  errorCode: Nullable(Type.String()),
  reply: Nullable(ReplySchema),
  recipients: Type.Array(RecipientSchema),
  attachments: Type.Array(
    StrictObject({
      filename: Type.String(),
      contentType: Type.String({ description: 'as the message says; the download is sent as a safe type' }),
      size: Type.Integer(),
      contentId: Type.Union([Type.String(), Type.Null()], {
        description: 'incoming: the Content-ID (without brackets) an HTML body names as cid:…',
      }),
      inline: Type.Boolean({ description: 'incoming: shown inside the HTML body rather than attached' }),
    }),
    { description: 'each at GET /api/messages/{id}/attachments/{index}, as a download' },
  ),
  from: Type.Union([StrictObject({ name: Nullable(Type.String()), address: Type.String() }), Type.Null()], {
    description: 'incoming: the first From mailbox',
  }),
  receivedAt: Nullable(Timestamp),
  inReplyTo: Type.Union([Type.String(), Type.Null()], { description: 'the In-Reply-To header' }),
  threadParentId: Type.Union([Id, Type.Null()], {
    description: 'the stored message (sent or received) this one answers',
  }),
  placements: Type.Array(
    StrictObject({
      accountId: Id,
      folder: Type.String(),
      private: Type.Boolean(),
      contactId: Nullable(Id),
    }),
    { description: 'incoming: each account that received it (one stored message, seen in several places)' },
  ),
  raw: Type.Union(
    [
      StrictObject({
        size: Type.Integer({ description: 'bytes, as the server reported them' }),
        truncated: Type.Boolean({ description: 'above the size cap: only the header block is kept' }),
      }),
      Type.Null(),
    ],
    { description: 'incoming: the kept raw message, at GET /api/messages/{id}/raw' },
  ),
  quarantine: Type.Union([StrictObject({ error: Type.String() }), Type.Null()], {
    description: 'incoming mail the parser could not read: kept raw, never parsed again',
  }),
  sentCopy: Type.Union(
    [Type.Literal('pending'), Type.Literal('filed'), Type.Literal('failed'), Type.Null()],
    {
      description: 'outgoing from an account read over IMAP: its copy in the Sent folder',
    },
  ),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Message = Static<typeof MessageSchema>;

export const QueuedSchema = StrictObject({
  id: Id,
  status: Type.Unsafe<MessageStatus>({ type: 'string', enum: [...messageStatuses] }),
  recipients: Type.Array(RecipientSchema),
  suppressed: Type.Array(
    StrictObject({
      address: Type.String(),
      reason: Type.Union([Type.Literal('unsubscribed'), Type.Literal('complained'), Type.Literal('faulty')]),
    }),
    {
      description:
        'recipients whose contact is unsubscribed, complained or faulty: an own account sends anyway (a person chose to), a marketing account skips them',
    },
  ),
});
export type Queued = Static<typeof QueuedSchema>;

export const MessageListQuery = StrictObject({
  direction: Type.Optional(Type.Union([Type.Literal('out'), Type.Literal('in')])),
  status: Type.Optional(Type.Unsafe<MessageStatus>({ type: 'string', enum: [...messageStatuses] })),
  accountId: Type.Optional(Id),
  contactId: Type.Optional(Id),
  q: Type.Optional(
    Type.String({
      maxLength: 200,
      description: 'text anywhere in the subject, or in the name or address of the sender or a recipient',
    }),
  ),
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});
export type MessageListQuery = Static<typeof MessageListQuery>;

export const CountSchema = StrictObject({ count: Type.Integer({ minimum: 0 }) });

const outboxStatuses = ['ready', 'sending', 'sent', 'error', 'uncertain', 'cancelled'] as const;
export type OutboxStatus = (typeof outboxStatuses)[number];

export const OutboxCountsSchema = StrictObject(
  Object.fromEntries(outboxStatuses.map((status) => [status, Type.Integer({ minimum: 0 })])) as Record<
    OutboxStatus,
    ReturnType<typeof Type.Integer>
  >,
  {
    description:
      'the account’s outgoing messages in each state: what "Reset sending status" (sending) and "Clear error status" (error) would change',
  },
);
export type OutboxCounts = Static<typeof OutboxCountsSchema>;
export const emptyOutboxCounts = (): OutboxCounts =>
  Object.fromEntries(outboxStatuses.map((status) => [status, 0])) as OutboxCounts;
export const AttachmentParams = StrictObject({
  id: Id,
  index: Type.Integer({
    minimum: 0,
    maximum: 9999,
    description: 'the place in the message’s attachments, from 0',
  }),
});

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});
