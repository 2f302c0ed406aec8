import {
  Alert,
  Anchor,
  Badge,
  Card,
  Group,
  List,
  SegmentedControl,
  Skeleton,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { IconAlertTriangle, IconArrowLeft, IconPaperclip } from '@tabler/icons-react';
import { useQueries, useQuery } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { api, ApiError, type Message } from '../api.ts';
import { BounceVerdict } from '../components/BounceVerdict.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import {
  ContactStatusBadge,
  MessageKindBadge,
  MessageStatusChip,
  ServerReply,
  replyLine,
} from '../components/MailBadges.tsx';
import { MessageActionButtons } from '../components/MessageActions.tsx';
import { MessageHtml } from '../components/MessageHtml.tsx';
import { AccountName, mailbox, readableText } from '../components/MessageParts.tsx';
import { formatCount, formatDateTime } from '../format.ts';

const recipientWords: Record<string, string> = {
  pending: 'Pending',
  accepted: 'Accepted',
  rejected: 'Refused',
  bounced: 'Bounced',
};
const recipientColour: Record<string, string> = {
  pending: 'gray',
  accepted: 'teal',
  rejected: 'red',
  bounced: 'red',
};

function recipientStatus(status: string): string {
  if (status.startsWith('skipped_')) return `Skipped (${status.slice('skipped_'.length).replace(/_/g, ' ')})`;
  return recipientWords[status] ?? status;
}

function Facts({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <Table withRowBorders={false} verticalSpacing={3} horizontalSpacing="xs" layout="fixed">
      <Table.Tbody>
        {rows.map(([name, value]) => (
          <Table.Tr key={name}>
            <Table.Th w={{ base: 96, sm: 130 }} fw={500} c="dimmed" fz="sm" style={{ verticalAlign: 'top' }}>
              {name}
            </Table.Th>
            <Table.Td fz="sm" style={{ overflowWrap: 'anywhere' }}>
              {value}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** What went wrong, in the server's own words, and what a person can do about it. */
function Problem({ message }: { message: Message }) {
  if (message.status === 'error') {
    return (
      <Alert
        color="red"
        variant="light"
        title="Not sent"
        icon={<IconAlertTriangle aria-hidden />}
        role="alert"
      >
        <Stack gap={6}>
          <Text size="sm">
            {message.reply
              ? 'The server refused it. Its reply:'
              : `It failed (${message.errorCode ?? 'no reason recorded'}) after ${formatCount(message.attempts)} attempts.`}
          </Text>
          {message.reply && <ServerReply reply={message.reply} size="sm" />}
          {message.errorCode && message.reply && (
            <Text size="xs" c="dimmed">
              Error code {message.errorCode}, after {formatCount(message.attempts)}{' '}
              {message.attempts === 1 ? 'attempt' : 'attempts'}.
            </Text>
          )}
        </Stack>
      </Alert>
    );
  }
  if (message.status === 'uncertain') {
    return (
      <Alert
        color="orange"
        variant="light"
        title="It may have been sent"
        icon={<IconAlertTriangle aria-hidden />}
      >
        The worker stopped while the server may already have accepted this message. Check with the recipient
        before sending it again; Mailroom never sends it twice by itself.
      </Alert>
    );
  }
  return null;
}

function Recipients({ message }: { message: Message }) {
  return (
    <Table.ScrollContainer minWidth={520} type="native">
      <Table verticalSpacing={4} horizontalSpacing="xs" aria-label="Recipients">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Recipient</Table.Th>
            <Table.Th w={60}>As</Table.Th>
            <Table.Th w={150}>Delivery</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {message.recipients.map((recipient) => (
            <Table.Tr key={`${recipient.kind}:${recipient.address}`} data-testid="recipient-row">
              <Table.Td>
                <Stack gap={2}>
                  <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                    {recipient.contactId ? (
                      <Anchor component={Link} to={`/contacts/${recipient.contactId}`} size="sm">
                        {mailbox(recipient)}
                      </Anchor>
                    ) : (
                      mailbox(recipient)
                    )}
                  </Text>
                  {recipient.reply && (recipient.status === 'rejected' || recipient.status === 'bounced') && (
                    <ServerReply reply={recipient.reply} />
                  )}
                </Stack>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{recipient.kind.toUpperCase()}</Text>
              </Table.Td>
              <Table.Td>
                <Badge
                  size="sm"
                  variant="light"
                  color={recipientColour[recipient.status] ?? 'gray'}
                  title={recipient.reply ? replyLine(recipient.reply) : undefined}
                >
                  {recipientStatus(recipient.status)}
                </Badge>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** The contacts this message is filed on (and, for a notice, the contacts its bounces name). */
function Contacts({ ids }: { ids: string[] }) {
  const contacts = useQueries({
    queries: ids.map((id) => ({ queryKey: ['contact', id], queryFn: () => api.contact(id) })),
  });
  if (ids.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        Not filed on any contact.
      </Text>
    );
  }
  return (
    <Stack gap={6} component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label="Contacts">
      {contacts.map((contact, index) => (
        <Group key={ids[index]} component="li" gap="xs" wrap="wrap" data-testid="message-contact">
          {contact.isPending ? (
            <Skeleton h={18} w={220} />
          ) : contact.isError ? (
            <Text size="sm" c="dimmed">
              A contact you cannot see
            </Text>
          ) : (
            <>
              <Anchor
                component={Link}
                to={`/contacts/${contact.data.id}`}
                size="sm"
                style={{ overflowWrap: 'anywhere' }}
              >
                {contact.data.name ? `${contact.data.name} <${contact.data.email}>` : contact.data.email}
              </Anchor>
              <ContactStatusBadge status={contact.data.status} />
            </>
          )}
        </Group>
      ))}
    </Stack>
  );
}

type BodyView = 'html' | 'text';

function Body({ message }: { message: Message }) {
  const { text, fromHtml } = readableText(message);
  const hasHtml = Boolean(message.html && message.html.trim() !== '');
  const [view, setView] = useState<BodyView>(hasHtml ? 'html' : 'text');
  return (
    <Stack gap="xs">
      {message.quarantine && (
        <Alert color="orange" variant="light" title="This message could not be read">
          {message.quarantine.error}
        </Alert>
      )}
      {hasHtml && (
        <SegmentedControl
          size="xs"
          w="fit-content"
          aria-label="Show the message as"
          value={view}
          onChange={(value) => setView(value as BodyView)}
          data={[
            { value: 'html', label: 'Formatted' },
            { value: 'text', label: 'Plain text' },
          ]}
        />
      )}
      {view === 'html' && hasHtml ? (
        <MessageHtml message={message} />
      ) : (
        <>
          {fromHtml && (
            <Text size="xs" c="dimmed">
              This message has only an HTML version. It is shown here as plain text, so no remote image,
              script or tracking pixel is loaded.
            </Text>
          )}
          {text ? (
            <Text
              component="pre"
              size="sm"
              m={0}
              p="sm"
              tabIndex={0}
              aria-label="Message text"
              data-testid="message-text"
              style={{
                whiteSpace: 'pre-wrap',
                overflowWrap: 'anywhere',
                fontFamily: 'inherit',
                background: 'var(--mantine-color-gray-0)',
                borderRadius: 6,
                maxHeight: 480,
                overflowY: 'auto',
              }}
            >
              {text}
            </Text>
          ) : (
            <Text size="sm" c="dimmed">
              This message has no text.
            </Text>
          )}
        </>
      )}
      {message.attachments.length > 0 && (
        <List size="sm" spacing={2} icon={<IconPaperclip size={14} aria-hidden />} aria-label="Attachments">
          {message.attachments.map((attachment, index) => (
            <List.Item key={`${attachment.filename}-${index}`}>
              <Anchor
                href={api.attachmentUrl(message.id, index)}
                download={attachment.filename || true}
                size="sm"
              >
                {attachment.filename || 'Unnamed attachment'}
              </Anchor>{' '}
              <Text span size="xs" c="dimmed">
                ({attachment.contentType}, {formatCount(Math.ceil(attachment.size / 1024))} KB)
              </Text>
            </List.Item>
          ))}
        </List>
      )}
    </Stack>
  );
}

function Section({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <Card withBorder padding="md" component="section" aria-label={title} data-testid={testId}>
      <Title order={2} size="h4" mb="sm">
        {title}
      </Title>
      {children}
    </Card>
  );
}

function MessageView({ message }: { message: Message }) {
  const notice = message.direction === 'in' && (message.kind === 'bounce' || message.kind === 'complaint');
  const verdicts = useQuery({
    queryKey: ['bounces', { noticeMessageId: message.id }],
    queryFn: () => api.bounces({ noticeMessageId: message.id }),
    enabled: notice,
  });
  const ownBounces = useQuery({
    queryKey: ['bounces', { messageId: message.id }],
    queryFn: () => api.bounces({ messageId: message.id }),
    enabled: message.direction === 'out',
  });
  const contactIds = [
    ...new Set(
      [
        ...message.recipients.map((recipient) => recipient.contactId),
        ...message.placements.map((placement) => placement.contactId),
        ...(verdicts.data?.items ?? []).map((bounce) => bounce.contactId),
      ].filter((id): id is string => id !== null),
    ),
  ];
  const accountId = message.accountId ?? message.placements[0]?.accountId ?? null;
  const facts: [string, ReactNode][] =
    message.direction === 'out'
      ? [
          ['Status', <MessageStatusChip key="s" status={message.status} />],
          ['From account', <AccountName key="a" id={accountId} />],
          ['Queued', formatDateTime(message.createdAt)],
          ...(message.sentAt ? ([['Sent', formatDateTime(message.sentAt)]] as [string, ReactNode][]) : []),
          ...(message.status === 'ready' && message.nextAttemptAt
            ? ([['Due', formatDateTime(message.nextAttemptAt)]] as [string, ReactNode][])
            : []),
          ['Attempts', formatCount(message.attempts)],
          ...(message.status === 'sent' && message.reply
            ? ([['Server said', replyLine(message.reply)]] as [string, ReactNode][])
            : []),
          ['Message-ID', message.messageId],
        ]
      : [
          ['From', message.from ? mailbox(message.from) : '(unknown sender)'],
          ['Account', <AccountName key="a" id={accountId} />],
          ['Received', formatDateTime(message.receivedAt ?? message.createdAt)],
          ...(message.kind && message.kind !== 'ordinary'
            ? ([['Read as', <MessageKindBadge key="k" kind={message.kind} />]] as [string, ReactNode][])
            : []),
          ['Message-ID', message.messageId],
        ];

  return (
    <Stack gap="md">
      <Problem message={message} />
      <MessageActionButtons message={message} />
      <Card withBorder padding="md">
        <Facts rows={facts} />
      </Card>
      {notice && (
        <Section title="The classifier's verdict" testId="verdict">
          {verdicts.isError ? (
            <ErrorNotice error={verdicts.error} onRetry={() => void verdicts.refetch()} />
          ) : verdicts.isPending ? (
            <Skeleton h={180} />
          ) : verdicts.data.items.length === 0 ? (
            <Text size="sm" c="dimmed">
              No bounce was recorded from this notice.
            </Text>
          ) : (
            <Stack gap="sm">
              {verdicts.data.items.map((bounce) => (
                <BounceVerdict key={bounce.id} bounce={bounce} showContact />
              ))}
            </Stack>
          )}
        </Section>
      )}
      <Section title={contactIds.length > 1 ? 'Contacts' : 'Contact'}>
        {notice && verdicts.isPending ? <Skeleton h={20} w={240} /> : <Contacts ids={contactIds} />}
      </Section>
      {message.direction === 'out' && message.recipients.length > 0 && (
        <Section title="Recipients">
          <Recipients message={message} />
        </Section>
      )}
      {message.direction === 'out' && (ownBounces.data?.items.length ?? 0) > 0 && (
        <Section title="Bounces">
          <Stack gap="sm">
            {ownBounces.data!.items.map((bounce) => (
              <BounceVerdict key={bounce.id} bounce={bounce} showMessage={false} showContact />
            ))}
          </Stack>
        </Section>
      )}
      <Section title="Message">
        <Body message={message} />
      </Section>
    </Stack>
  );
}

export function MessagePage() {
  const { id = '' } = useParams();
  const location = useLocation();
  const message = useQuery({ queryKey: ['message', id], queryFn: () => api.message(id) });
  const from = (location.state as { from?: string } | null)?.from;
  const back = from ?? (message.data?.direction === 'out' ? '/mailbox?direction=out' : '/mailbox');

  useEffect(() => {
    document.title = `${message.data?.subject || 'Message'} · Mailroom`;
  }, [message.data?.subject]);

  return (
    <Stack gap="md" maw={960}>
      <Anchor component={Link} to={back} size="sm">
        <Group gap={4} wrap="nowrap">
          <IconArrowLeft size={14} aria-hidden />
          {from?.startsWith('/contacts') ? 'Back to the contact' : 'Back to the mailbox'}
        </Group>
      </Anchor>
      {message.isError ? (
        message.error instanceof ApiError && message.error.status === 404 ? (
          <EmptyState title="This message is not here">
            It may have been deleted, or it belongs to an account you cannot see.
          </EmptyState>
        ) : (
          <ErrorNotice error={message.error} onRetry={() => void message.refetch()} />
        )
      ) : message.isPending ? (
        <Stack gap="md" aria-busy aria-label="Loading the message">
          <Skeleton h={34} w="60%" />
          <Skeleton h={160} />
          <Skeleton h={240} />
        </Stack>
      ) : (
        <>
          <Group gap="sm" wrap="wrap" align="center">
            <Title order={1} size="h2" style={{ overflowWrap: 'anywhere' }}>
              {message.data.subject || '(no subject)'}
            </Title>
            {message.data.direction === 'out' ? (
              <MessageStatusChip status={message.data.status} />
            ) : (
              <MessageKindBadge kind={message.data.kind} />
            )}
          </Group>
          <MessageView message={message.data} />
        </>
      )}
    </Stack>
  );
}
