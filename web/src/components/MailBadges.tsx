import { Badge, Text } from '@mantine/core';
import type { Bounce, ContactStatus, Message, MessageStatus } from '../api.ts';

/** Plain words for the states of a message, as the product names them. */
export const messageStatusWords: Record<MessageStatus, string> = {
  ready: 'Ready to send',
  sending: 'Sending',
  sent: 'Sent',
  error: 'Error',
  uncertain: 'Uncertain',
  cancelled: 'Cancelled',
  received: 'Received',
};

const messageStatusColour: Record<MessageStatus, string> = {
  ready: 'blue',
  sending: 'cyan',
  sent: 'teal',
  error: 'red',
  uncertain: 'orange',
  cancelled: 'gray',
  received: 'gray',
};

/** What each state means, for the chip's title and screen readers. */
const messageStatusHint: Record<MessageStatus, string> = {
  ready: 'waits for its turn to be sent',
  sending: 'a worker is sending it now',
  sent: 'the server accepted it',
  error: 'it was not sent; the server’s reply says why',
  uncertain:
    'the worker stopped while the server may have accepted it: a person decides whether to send again',
  cancelled: 'it will not be sent',
  received: 'incoming mail',
};

export function MessageStatusChip({ status }: { status: MessageStatus }) {
  return (
    <Badge
      size="sm"
      variant="light"
      color={messageStatusColour[status]}
      title={messageStatusHint[status]}
      style={{ minWidth: 'max-content' }}
      data-testid="message-status"
    >
      {messageStatusWords[status]}
    </Badge>
  );
}

const kindWords: Record<NonNullable<Message['kind']>, string> = {
  ordinary: 'Mail',
  bounce: 'Bounce',
  auto_reply: 'Auto-reply',
  complaint: 'Complaint',
  delivery_report: 'Delivery report',
};
const kindColour: Record<NonNullable<Message['kind']>, string> = {
  ordinary: 'gray',
  bounce: 'red',
  auto_reply: 'grape',
  complaint: 'orange',
  delivery_report: 'teal',
};

/** How the classifier read an incoming message; nothing for ordinary mail. */
export function MessageKindBadge({ kind }: { kind: Message['kind'] }) {
  if (!kind || kind === 'ordinary') return null;
  return (
    <Badge size="sm" variant="outline" color={kindColour[kind]} style={{ minWidth: 'max-content' }}>
      {kindWords[kind]}
    </Badge>
  );
}

export const contactStatusWords: Record<ContactStatus, string> = {
  active: 'Active',
  faulty: 'Faulty',
  complained: 'Complained',
  unsubscribed: 'Unsubscribed',
};
const contactStatusColour: Record<ContactStatus, string> = {
  active: 'teal',
  faulty: 'red',
  complained: 'orange',
  unsubscribed: 'gray',
};

export function ContactStatusBadge({ status, size = 'sm' }: { status: ContactStatus; size?: 'sm' | 'lg' }) {
  return (
    <Badge
      size={size}
      variant="dot"
      color={contactStatusColour[status]}
      style={{ minWidth: 'max-content' }}
      data-testid="contact-status"
    >
      {contactStatusWords[status]}
    </Badge>
  );
}

export function BounceTypeBadge({ bounce }: { bounce: Pick<Bounce, 'bounceType' | 'action'> }) {
  if (bounce.action === 'complained') {
    return (
      <Badge size="sm" color="orange" variant="light">
        Complaint
      </Badge>
    );
  }
  if (bounce.action === 'delayed') {
    return (
      <Badge size="sm" color="yellow" variant="light">
        Delayed
      </Badge>
    );
  }
  return (
    <Badge size="sm" color={bounce.bounceType === 'hard' ? 'red' : 'yellow'} variant="light">
      {bounce.bounceType === 'hard' ? 'Hard bounce' : bounce.bounceType === 'soft' ? 'Soft bounce' : 'Bounce'}
    </Badge>
  );
}

/** The server's reply in one line: `550 5.1.1 user unknown (after RCPT TO)`. */
export function replyLine(reply: {
  code: number | null;
  enhanced: string | null;
  text: string | null;
  command?: string | null;
}): string {
  const words = [reply.code, reply.enhanced, reply.text].filter((part) => part !== null && part !== '');
  const line = words.join(' ');
  return reply.command ? `${line} (after ${reply.command})` : line;
}

/** The server's own words, as it said them. */
export function ServerReply({
  reply,
  size = 'xs',
}: {
  reply: Parameters<typeof replyLine>[0];
  size?: 'xs' | 'sm';
}) {
  return (
    <Text
      size={size}
      ff="monospace"
      c="red.8"
      style={{ overflowWrap: 'anywhere' }}
      data-testid="server-reply"
    >
      {replyLine(reply)}
    </Text>
  );
}
