import { Anchor, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useDocumentTitle, useMediaQuery } from '@mantine/hooks';
import { Link, useLocation } from 'react-router';
import { useUrlFilters } from '../url-filters.ts';
import { filterParams, readChoice, readPage, useTypedFilter, type Paging } from '../list-filters.ts';
import { usePagedList } from '../paged-list.ts';
import { api, type Message, type MessageQuery, type MessageStatus } from '../api.ts';
import { AccountPicker } from '../components/AccountPicker.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { FilterBar, SearchInput, SegmentedFilter, StatusFilter } from '../components/FilterBar.tsx';
import { CardHead, CardList, ListCard } from '../components/CardList.tsx';
import { ListResults, NoMatches } from '../components/ListResults.tsx';
import { ListTable, type Column } from '../components/ListTable.tsx';
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

type Filters = { direction: 'in' | 'out'; accountId: string | null; status: string; q: string; page: number };

const defaults: Filters = { direction: 'in', accountId: null, status: 'any', q: '', page: 1 };

function writeFilters(filters: Filters): URLSearchParams {
  // A status filters the outbox only.
  return filterParams({ ...filters, status: filters.direction === 'out' ? filters.status : 'any' }, defaults);
}

function readFilters(params: URLSearchParams): Filters {
  const direction = params.get('direction') === 'out' ? 'out' : 'in';
  return {
    direction,
    accountId: params.get('accountId') || null,
    status: direction === 'out' ? readChoice(params, 'status', outStatuses, 'any') : 'any',
    q: params.get('q') ?? '',
    page: readPage(params),
  };
}

function toQuery(filters: Filters): MessageQuery {
  return {
    direction: filters.direction,
    ...(filters.accountId && { accountId: filters.accountId }),
    ...(filters.status !== 'any' && { status: filters.status as MessageStatus }),
    ...(filters.q.trim() && { q: filters.q.trim() }),
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

function labelOf(direction: 'in' | 'out'): string {
  return direction === 'out' ? 'Outbox' : 'Inbox';
}

function columnsOf(direction: 'in' | 'out'): Column[] {
  const out = direction === 'out';
  return [
    { title: out ? 'To' : 'From', w: '22%' },
    'Subject',
    { title: 'Account', w: '16%' },
    ...(out ? [{ title: 'Status', w: 130 }] : []),
    { title: out ? 'Sent or queued' : 'Received', w: 170 },
    { title: 'Actions', hidden: true, w: 52 },
  ];
}

/** What the table and the cards show: the rows of a folder, or that they are loading. */
type RowsProps = { rows: Message[]; loading: boolean; direction: 'in' | 'out' };

function MessagesTable({ rows, loading, direction }: RowsProps) {
  return (
    <ListTable
      label={labelOf(direction)}
      columns={columnsOf(direction)}
      loading={loading}
      minWidth={860}
      layout="fixed"
    >
      {rows.map((message) => (
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
    </ListTable>
  );
}

/** The same rows as cards, for narrow screens. */
function MessageCards({ rows, loading, direction }: RowsProps) {
  return (
    <CardList label={labelOf(direction)} loading={loading} skeletons={{ count: 5, height: 104 }}>
      {rows.map((message) => (
        <ListCard key={message.id} testId="message-row">
          <CardHead
            title={<SubjectLink message={message} />}
            line={direction === 'out' ? `To ${recipientsLine(message)}` : `From ${senderLine(message)}`}
            actions={<MessageActionsMenu message={message} />}
          />
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
        </ListCard>
      ))}
    </CardList>
  );
}

export function MailboxPage() {
  const [filters, update] = useUrlFilters(readFilters, writeFilters);
  const narrow = useMediaQuery('(max-width: 64em)');

  useDocumentTitle(`${labelOf(filters.direction)} · Mailroom`);

  const query = toQuery(filters);
  const messages = usePagedList({ queryKey: ['messages', query], queryFn: () => api.messages(query) });
  const view: RowsProps = {
    rows: messages.rows,
    loading: messages.list.isPending,
    direction: filters.direction,
  };
  const [search, setSearch] = useTypedFilter(filters.q, (q) => update({ q }));
  const filtered = filters.accountId !== null || filters.status !== 'any' || filters.q !== '';
  const outbox = filters.direction === 'out';
  const paging: Paging = { page: filters.page, pageSize: PAGE_SIZE, onPage: (page) => update({ page }) };
  const empty = filtered ? (
    <NoMatches
      title="No messages match"
      q={filters.q}
      onClear={() => {
        setSearch('');
        update({ accountId: null, status: 'any', q: '' });
      }}
    />
  ) : outbox ? (
    <EmptyState title="Nothing sent yet">
      Mail sent from your accounts, through the API or by automation, appears here with its state.
    </EmptyState>
  ) : (
    <EmptyState title="No mail received yet">
      Mail read from your accounts&apos; incoming servers appears here, bounces and replies included.
    </EmptyState>
  );

  return (
    <Stack gap="md">
      <Title order={1} size="h2">
        Mailbox
      </Title>

      <FilterBar label="Filter messages">
        <SegmentedFilter
          label="Folder"
          data={{ in: 'Inbox', out: 'Outbox' }}
          value={filters.direction}
          onChange={(direction) => update({ direction, status: 'any' })}
        />
        <SearchInput
          value={search}
          onChange={setSearch}
          placeholder="Subject, name or address"
          w={{ base: '100%', sm: 260 }}
        />
        <AccountPicker
          value={filters.accountId}
          onChange={(accountId) => update({ accountId })}
          w={{ base: '100%', xs: 300 }}
        />
        {outbox && (
          <StatusFilter
            statuses={outStatuses}
            words={messageStatusWords}
            width={190}
            value={filters.status}
            onChange={(status) => update({ status })}
          />
        )}
      </FilterBar>

      <ListResults paged={messages} noun="messages" paging={paging} narrow={narrow} empty={empty} cards>
        {narrow ? <MessageCards {...view} /> : <MessagesTable {...view} />}
      </ListResults>
    </Stack>
  );
}
