import { Skeleton, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, type Message } from '../api.ts';

/** `Ada Lovelace <ada@example.com>`, or the bare address when there is no name. */
export function mailbox(person: { name: string | null; address: string }): string {
  return person.name ? `${person.name} <${person.address}>` : person.address;
}

/** Who a message went to, in a line: the first recipient and how many more. */
export function recipientsLine(message: Pick<Message, 'recipients'>): string {
  const to = message.recipients.filter((recipient) => recipient.kind !== 'bcc');
  const first = to[0] ?? message.recipients[0];
  if (!first) return '(no recipients)';
  const more = message.recipients.length - 1;
  return `${first.name ?? first.address}${more > 0 ? ` +${more} more` : ''}`;
}

/** Who sent an incoming message. */
export function senderLine(message: Pick<Message, 'from'>): string {
  return message.from ? (message.from.name ?? message.from.address) : '(unknown sender)';
}

/** An account's name, read once and cached for every row that names it. */
export function AccountName({ id, size = 'sm', c }: { id: string | null; size?: 'xs' | 'sm'; c?: string }) {
  const account = useQuery({
    queryKey: ['account', id],
    queryFn: () => api.account(id!),
    enabled: id !== null,
  });
  if (id === null)
    return (
      <Text size={size} c={c} span>
        —
      </Text>
    );
  if (account.isPending) return <Skeleton h={14} w={90} display="inline-block" />;
  if (account.isError)
    return (
      <Text size={size} c="dimmed" span>
        an account you cannot see
      </Text>
    );
  return (
    <Text size={size} c={c} truncate title={account.data.email} span display="block">
      {account.data.name}
    </Text>
  );
}

/**
 * The readable text of a message. The text part when there is one; otherwise the HTML part turned
 * into text by an inert parser (DOMParser runs no script and loads no image), never rendered.
 */
export function readableText(message: Pick<Message, 'text' | 'html'>): { text: string; fromHtml: boolean } {
  if (message.text && message.text.trim() !== '') return { text: message.text, fromHtml: false };
  if (message.html) {
    const doc = new DOMParser().parseFromString(message.html, 'text/html');
    doc.querySelectorAll('script, style, head, title').forEach((node) => node.remove());
    doc.querySelectorAll('br').forEach((node) => node.replaceWith('\n'));
    doc.querySelectorAll('p, div, tr, li, h1, h2, h3, h4, h5, h6').forEach((node) => node.append('\n'));
    const text = (doc.body.textContent ?? '').replace(/\n{3,}/g, '\n\n').trim();
    return { text, fromHtml: true };
  }
  return { text: '', fromHtml: false };
}
