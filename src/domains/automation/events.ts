/** What `email.received` says: enough for a rule to act without reading the message again. */
export interface EmailReceivedPayload {
  messageId: string;
  accountId: string;
  contactId: string | null;
  folder: string;
  from: { name: string | null; address: string } | null;
  subject: string;
  receivedAt: string;
  /** The stored message this one answers, when it is a reply. */
  inReplyToMessageId: string | null;
}

/** What `email.bounced` says: a recipient's delivery failed (delays are recorded, not announced). */
export interface EmailBouncedPayload {
  bounceId: string;
  source: 'smtp' | 'mailbox' | 'verp';
  messageId: string | null;
  recipientId: string | null;
  accountId: string | null;
  contactId: string | null;
  recipient: string;
  bounceType: 'hard' | 'soft' | null;
  reason: string;
  status: string | null;
  diagnostic: string | null;
}

/**
 * What `email.sent` and `email.failed` say. A message to several contacts announces one event per
 * contact (so each contact's timeline shows it) and one for its recipients that are no contact.
 */
export interface EmailOutcomePayload {
  messageId: string;
  accountId: string | null;
  contactId: string | null;
  subject: string;
  /** The addresses this event is about: the contact's, or those of no contact. */
  recipients: string[];
  /** The server's reply: to the data when sent, the last refusal when failed. */
  reply: { code: number | null; enhanced: string | null; text: string | null } | null;
  /** Why it failed (email.failed only). */
  errorCode: string | null;
}

/** What `contact.faulty` and `contact.complained` say: which contact, and what marked it. */
export interface ContactMarkedPayload {
  contactId: string;
  email: string;
  cause: 'hard_bounce' | 'soft_bounces' | 'complaint';
  bounceId: string;
  /** For soft bounces: how many counted within the window. */
  softBounces?: number;
}

/** What `contact.reactivated` says: who undid which marks. */
export interface ContactReactivatedPayload {
  contactId: string;
  email: string;
  actorId: string | null;
  cleared: ('faulty' | 'complained')[];
}

/** What the account events say: which account, and its state after the change. */
export interface AccountEventPayload {
  accountId: string;
  name: string;
  email: string;
  type: 'own' | 'marketing';
  status: string;
  rejectionReason?: string | null;
}

/** What `account.health_changed` says: one direction's state, before and after. */
export interface AccountHealthPayload {
  accountId: string;
  direction: 'outgoing' | 'incoming';
  from: string;
  to: string;
  lastError: string | null;
}

/** What `contact.score_changed` says. */
export interface ContactScorePayload {
  contactId: string;
  from: number;
  to: number;
  delta: number;
}

/** What `contact.tags_changed` says. */
export interface ContactTagsPayload {
  contactId: string;
  added: string[];
  removed: string[];
}

export const eventTypes = [
  'account.created',
  'account.approved',
  'account.rejected',
  'account.health_changed',
  'email.received',
  'email.sent',
  'email.failed',
  'email.bounced',
  'contact.faulty',
  'contact.complained',
  'contact.reactivated',
  'contact.score_changed',
  'contact.tags_changed',
] as const;

export type EventType = (typeof eventTypes)[number];
