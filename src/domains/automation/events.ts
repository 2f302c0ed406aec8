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

export type EventType = 'email.received';
