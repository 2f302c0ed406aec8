import { Type, type Static } from '@sinclair/typebox';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';

const FieldValue = Type.Union([Type.String({ maxLength: 2000 }), Type.Number(), Type.Boolean(), Type.Null()]);
const FieldKey = '^[A-Za-z0-9_-]{1,100}$';
// additionalProperties: a record's key pattern alone lets any other key through, with any value.
const Fields = Type.Record(Type.String({ pattern: FieldKey }), FieldValue, {
  additionalProperties: false,
  maxProperties: 200,
  description: 'custom fields, which sender templates read as {{contact.fields.<key>}}',
});

export const Tag = Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\s,]([^,]*[^\\s,])?$' });
const Tags = Type.Array(Tag, {
  maxItems: 100,
  uniqueItems: true,
  description: 'replaces the contact’s tags',
});

export const ContactStatusSchema = Type.Union(
  [Type.Literal('active'), Type.Literal('faulty'), Type.Literal('complained'), Type.Literal('unsubscribed')],
  {
    description:
      'faulty: its address bounced (hard, or too many soft bounces); complained: it reported mail as spam; ' +
      'unsubscribed: it used an unsubscribe link; active: none of these',
  },
);
export type ContactStatus = Static<typeof ContactStatusSchema>;

export const ContactSchema = StrictObject({
  id: Id,
  email: Type.String(),
  name: Nullable(Type.String()),
  ownerId: Nullable(Id),
  status: ContactStatusSchema,
  score: Type.Integer(),
  tags: Type.Array(Type.String()),
  fields: Type.Record(Type.String(), FieldValue),
  suppressed: Type.Union(
    [Type.Literal('unsubscribed'), Type.Literal('complained'), Type.Literal('faulty'), Type.Null()],
    { description: 'why marketing mail skips this contact (own accounts warn but send)' },
  ),
  unsubscribedAt: Nullable(Timestamp),
  complainedAt: Nullable(Timestamp),
  faultyAt: Nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Contact = Static<typeof ContactSchema>;
export type Suppression = NonNullable<Contact['suppressed']>;

/** The contact's status: its strongest mark, else active. */
export const statusOf = (row: Parameters<typeof suppressionOf>[0]): ContactStatus =>
  suppressionOf(row) ?? 'active';

/** Why marketing mail skips a contact, the strongest reason first; null when it may be mailed. */
export function suppressionOf(row: {
  unsubscribed_at: string | null;
  complained_at: string | null;
  faulty_at: string | null;
}): Suppression | null {
  if (row.complained_at) return 'complained';
  if (row.unsubscribed_at) return 'unsubscribed';
  if (row.faulty_at) return 'faulty';
  return null;
}

export const CreateContactBody = StrictObject({
  email: Type.String({ minLength: 1, maxLength: 254, format: 'mailbox' }),
  name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  ownerId: Type.Optional(Nullable(Id)),
  fields: Type.Optional(Fields),
  tags: Type.Optional(Tags),
  score: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
});
export type CreateContactInput = Static<typeof CreateContactBody>;

export const UpdateContactBody = StrictObject({
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 254, format: 'mailbox' })),
  name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  ownerId: Type.Optional(Nullable(Id)),
  tags: Type.Optional(Tags),
  score: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
  fields: Type.Optional(
    Nullable(
      Type.Record(Type.String({ pattern: FieldKey }), FieldValue, {
        additionalProperties: false,
        maxProperties: 200,
        description: 'merged; null removes a key',
      }),
    ),
  ),
});
export type UpdateContactInput = Static<typeof UpdateContactBody>;

export const ContactListQuery = StrictObject({
  q: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(ContactStatusSchema),
  tag: Type.Optional(Tag),
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});
export type ContactListQuery = Static<typeof ContactListQuery>;

/** Addresses match case-insensitively, as people and mail servers treat them. */
export function foldAddress(address: string): string {
  return address.trim().toLowerCase();
}
