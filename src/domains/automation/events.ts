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

export type EventType =
  'email.received' | 'email.bounced' | 'contact.faulty' | 'contact.complained' | 'contact.reactivated';
