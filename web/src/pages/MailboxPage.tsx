import {
  Anchor,
  Button,
  Card,
  Group,
  SegmentedControl,
  Select,
  Skeleton,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';
import { Link, useLocation } from 'react-router';
import { useUrlFilters } from '../url-filters.ts';
import { api, type Message, type MessageQuery, type MessageStatus } from '../api.ts';
import { AccountPicker } from '../components/AccountPicker.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ListFooter } from '../components/ListFooter.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import {
  MessageStatusChip,
  MessageKindBadge,
  ServerReply,
  messageStatusWords,
} from '../components/MailBadges.tsx';
import { MessageActionsMenu } from '../components/MessageActions.tsx';
import { AccountName, recipientsLine, senderLine } from '../components/MessageParts.tsx';
import { formatDateTime } from '../format.ts';

const PAGE_SIZE = 25;
const outStatuses = ['ready', 'sending', 'sent', 'error', 'uncertain', 'cancelled'] as const;

type Filters = { direction: 'in' | 'out'; accountId: string | null; status: string; page: number };

function writeFilters(filters: Filters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.direction === 'out') params.set('direction', 'out');
  if (filters.accountId) params.set('accountId', filters.accountId);
  if (filters.direction === 'out' && filters.status !== 'any') params.set('status', filters.status);
  if (filters.page > 1) params.set('page', String(filters.page));
  return params;
}

function readFilters(params: URLSearchParams): Filters {
  const direction = params.get('direction') === 'out' ? 'out' : 'in';
  const status = params.get('status') ?? 'any';
  return {
    direction,
    accountId: params.get('accountId') || null,
    status: direction === 'out' && (outStatuses as readonly string[]).includes(status) ? status : 'any',
    page: Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1),
  };
}

function toQuery(filters: Filters): MessageQuery {
  return {
    direction: filters.direction,
    ...(filters.accountId && { accountId: filters.accountId }),
    ...(filters.status !== 'any' && { status: filters.status as MessageStatus }),
    page: filters.page,
    pageSize: PAGE_SIZE,
  };
}

/** When the row's message happened: sent, received, or queued. */
function whenOf(message: Message): string | null {
  return message.direction === 'in'
    ? (message.receivedAt ?? message.createdAt)
    : (message.sentAt ?? message.createdAt);
}

function SubjectLink({ message }: { message: Message }) {
  const location = useLocation();
  return (
    <Anchor
      component={Link}
      to={`/messages/${message.id}`}
      state={{ from: location.pathname + location.search }}
      size="sm"
      fw={500}
      c="inherit"
      style={{ overflowWrap: 'anywhere' }}
    >
      {message.subject || '(no subject)'}
    </Anchor>
  );
}

function ErrorReply({ message }: { message: Message }) {
  if (message.status !== 'error' || !message.reply) return null;
  return <ServerReply reply={message.reply} />;
}

function MessagesTable({
  rows,
  loading,
  direction,
}: {
  rows: Message[];
  loading: boolean;
  direction: 'in' | 'out';
}) {
  const columns = direction === 'out' ? 6 : 5;
  return (
    <Table.ScrollContainer minWidth={860} type="native">
      <Table
        verticalSpacing="xs"
        horizontalSpacing="sm"
        highlightOnHover
        aria-label={direction === 'out' ? 'Outbox' : 'Inbox'}
        aria-busy={loading}
        layout="fixed"
      >
        <Table.Thead>
          <Table.Tr>
            <Table.Th w="22%">{direction === 'out' ? 'To' : 'From'}</Table.Th>
            <Table.Th>Subject</Table.Th>
            <Table.Th w="16%">Account</Table.Th>
            {direction === 'out' && <Table.Th w={130}>Status</Table.Th>}
            <Table.Th w={170}>{direction === 'out' ? 'Sent or queued' : 'Received'}</Table.Th>
            <Table.Th w={52}>
              <span className="visually-hidden">Actions</span>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {loading
            ? Array.from({ length: 8 }, (_, index) => (
                <Table.Tr key={index} data-testid="skeleton-row">
                  {Array.from({ length: columns }, (_, cell) => (
                    <Table.Td key={cell}>
                      <Skeleton h={18} my={3} w={cell === columns - 1 ? 24 : '80%'} />
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))
            : rows.map((message) => (
                <Table.Tr key={message.id} data-testid="message-row">
                  <Table.Td>
                    <Text
                      size="sm"
                      truncate
                      title={direction === 'out' ? undefined : (message.from?.address ?? undefined)}
                    >
                      {direction === 'out' ? recipientsLine(message) : senderLine(message)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Stack gap={4}>
                      <Group gap={6} wrap="nowrap" align="center">
                        <MessageKindBadge kind={message.kind} />
                        <SubjectLink message={message} />
                      </Group>
                      <ErrorReply message={message} />
                    </Stack>
                  </Table.Td>
                  <Table.Td>
                    <AccountName id={message.accountId ?? message.placements[0]?.accountId ?? null} />
                  </Table.Td>
                  {direction === 'out' && (
                    <Table.Td>
                      <MessageStatusChip status={message.status} />
                    </Table.Td>
                  )}
                  <Table.Td>
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {formatDateTime(whenOf(message))}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <MessageActionsMenu message={message} />
                  </Table.Td>
                </Table.Tr>
              ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** The same rows as cards, for narrow screens. */
function MessageCards({
  rows,
  loading,
  direction,
}: {
  rows: Message[];
  loading: boolean;
  direction: 'in' | 'out';
}) {
  if (loading) {
    return (
      <Stack gap="sm" aria-busy>
        {Array.from({ length: 5 }, (_, index) => (
          <Skeleton key={index} h={104} radius="md" data-testid="skeleton-row" />
        ))}
      </Stack>
    );
  }
  return (
    <Stack
      gap="sm"
      component="ul"
      p={0}
      m={0}
      style={{ listStyle: 'none' }}
      aria-label={direction === 'out' ? 'Outbox' : 'Inbox'}
    >
      {rows.map((message) => (
        <Card key={message.id} withBorder component="li" padding="sm" data-testid="message-row">
          <Group justify="space-between" wrap="nowrap" align="flex-start">
            <Stack gap={2} style={{ minWidth: 0 }}>
              <SubjectLink message={message} />
              <Text size="sm" c="dimmed" truncate>
                {direction === 'out' ? `To ${recipientsLine(message)}` : `From ${senderLine(message)}`}
              </Text>
            </Stack>
            <MessageActionsMenu message={message} />
          </Group>
          <Group gap="xs" mt={6} wrap="wrap">
            {direction === 'out' ? (
              <MessageStatusChip status={message.status} />
            ) : (
              <MessageKindBadge kind={message.kind} />
            )}
            <Text size="xs" c="dimmed">
              {formatDateTime(whenOf(message))}
            </Text>
            <AccountName
              id={message.accountId ?? message.placements[0]?.accountId ?? null}
              size="xs"
              c="dimmed"
            />
          </Group>
          {message.status === 'error' && message.reply && (
            <Stack mt={6} gap={0}>
              <ErrorReply message={message} />
            </Stack>
          )}
        </Card>
      ))}
    </Stack>
  );
}

export function MailboxPage() {
  const [filters, update] = useUrlFilters(readFilters, writeFilters);
  const narrow = useMediaQuery('(max-width: 64em)');

  useEffect(() => {
    document.title = `${filters.direction === 'out' ? 'Outbox' : 'Inbox'} · Mailroom`;
  }, [filters.direction]);

  const query = toQuery(filters);
  const messages = useQuery({
    queryKey: ['messages', query],
    queryFn: () => api.messages(query),
    placeholderData: keepPreviousData,
  });
  const rows = messages.data?.items ?? [];
  const total = messages.data?.total ?? 0;
  const filtered = filters.accountId !== null || filters.status !== 'any';
  const outbox = filters.direction === 'out';

  return (
    <Stack gap="md">
      <Title order={1} size="h2">
        Mailbox
      </Title>

      <Group gap="sm" align="flex-end" wrap="wrap" role="search" aria-label="Filter messages">
        <Stack gap={4}>
          <Text size="sm" fw={500} id="folder-filter">
            Folder
          </Text>
          <SegmentedControl
            aria-labelledby="folder-filter"
            value={filters.direction}
            onChange={(direction) => update({ direction: direction as 'in' | 'out', status: 'any' })}
            data={[
              { value: 'in', label: 'Inbox' },
              { value: 'out', label: 'Outbox' },
            ]}
          />
        </Stack>
        <AccountPicker
          value={filters.accountId}
          onChange={(accountId) => update({ accountId })}
          w={{ base: '100%', xs: 300 }}
        />
        {outbox && (
          <Select
            label="Status"
            value={filters.status}
            onChange={(status) => update({ status: status ?? 'any' })}
            allowDeselect={false}
            w={{ base: '100%', xs: 190 }}
            data={[
              { value: 'any', label: 'Any status' },
              ...outStatuses.map((status) => ({ value: status, label: messageStatusWords[status] })),
            ]}
          />
        )}
      </Group>

      {messages.isError ? (
        <ErrorNotice error={messages.error} onRetry={() => void messages.refetch()} />
      ) : !messages.isPending && rows.length === 0 ? (
        <Card withBorder>
          {filtered ? (
            <EmptyState
              title="No messages match"
              action={
                <Button variant="light" onClick={() => update({ accountId: null, status: 'any' })}>
                  Show all accounts and states
                </Button>
              }
            >
              Nothing in the {outbox ? 'outbox' : 'inbox'} matches these filters.
            </EmptyState>
          ) : outbox ? (
            <EmptyState title="Nothing sent yet">
              Mail sent from your accounts, through the API or by automation, appears here with its state.
            </EmptyState>
          ) : (
            <EmptyState title="No mail received yet">
              Mail read from your accounts&apos; incoming servers appears here, bounces and replies included.
            </EmptyState>
          )}
        </Card>
      ) : (
        <Card
          withBorder
          padding={narrow ? 'xs' : 0}
          style={{ opacity: messages.isPlaceholderData ? 0.6 : 1 }}
        >
          {narrow ? (
            <MessageCards rows={rows} loading={messages.isPending} direction={filters.direction} />
          ) : (
            <MessagesTable rows={rows} loading={messages.isPending} direction={filters.direction} />
          )}
        </Card>
      )}

      <ListFooter
        noun="messages"
        loading={messages.isPending}
        page={filters.page}
        pageSize={PAGE_SIZE}
        shown={rows.length}
        total={total}
        narrow={narrow}
        onPage={(page) => update({ page })}
      />
    </Stack>
  );
}
