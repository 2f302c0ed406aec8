import { ActionIcon, Badge, Button, Group, Menu, Stack, Table, Text, Title } from '@mantine/core';
import { useDisclosure, useDocumentTitle, useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconDots, IconPlus, IconSettings, IconStar, IconTrash } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ComponentProps } from 'react';
import { Link } from 'react-router';
import { readChoice, readPage, useListFilters, useTypedFilter } from '../list-filters.ts';
import { usePagedList } from '../paged-list.ts';
import { api, type AccountQuery, type AccountRow } from '../api.ts';
import { AddMarketingAccount } from '../components/AddMarketingAccount.tsx';
import { AccountStateCells, HealthBadge, StatusBadge } from '../components/Badges.tsx';
import { ConfirmDelete } from '../components/ConfirmDelete.tsx';
import { Day } from '../components/Day.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { FilterBar, SearchInput, SegmentedFilter, StatusFilter } from '../components/FilterBar.tsx';
import { CardHead, CardList, ListCard } from '../components/CardList.tsx';
import { ListResults, NoMatches } from '../components/ListResults.tsx';
import { ListTable, type Column } from '../components/ListTable.tsx';
import { errorText } from '../components/ErrorNotice.tsx';
import { formatDate, label } from '../format.ts';

const PAGE_SIZE = 25;
const types = { all: 'All', marketing: 'Marketing', own: 'Own' };
const scopes = { any: 'Any', personal: 'Personal', team: 'Team' };
const statuses = ['pending_approval', 'active', 'rejected', 'disabled'] as const;

type Filters = { q: string; type: string; scope: string; status: string; page: number };

const defaults: Filters = { q: '', type: 'all', scope: 'any', status: 'any', page: 1 };

function readFilters(params: URLSearchParams): Filters {
  return {
    q: params.get('q') ?? '',
    type: readChoice(params, 'type', Object.keys(types), 'all'),
    scope: readChoice(params, 'scope', Object.keys(scopes), 'any'),
    status: readChoice(params, 'status', statuses, 'any'),
    page: readPage(params),
  };
}

function toQuery(filters: Filters): AccountQuery {
  return {
    ...(filters.q.trim() && { q: filters.q.trim() }),
    type: filters.type as AccountQuery['type'],
    ...(filters.scope !== 'any' && { scope: filters.scope as AccountQuery['scope'] }),
    ...(filters.status !== 'any' && { status: filters.status as AccountQuery['status'] }),
    page: filters.page,
    pageSize: PAGE_SIZE,
  };
}

function RowActions({ account, onDelete }: { account: AccountRow; onDelete: (account: AccountRow) => void }) {
  const queryClient = useQueryClient();
  const makeDefault = useMutation({
    mutationFn: () => api.setDefaultAccount(account.id),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['accounts'] });
      notifications.show({
        color: 'teal',
        title: 'Default account changed',
        message: `Mail you send without naming an account now goes from ${account.email}.`,
      });
    },
    onError: (error) => notifications.show({ color: 'red', title: 'Not changed', message: errorText(error) }),
  });
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${account.name}`}>
          <IconDots size={18} aria-hidden />
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item
          component={Link}
          to={`/accounts/${account.id}`}
          leftSection={<IconSettings size={16} aria-hidden />}
        >
          Edit settings
        </Menu.Item>
        <Menu.Item
          leftSection={<IconStar size={16} aria-hidden />}
          disabled={account.isDefault || account.status !== 'active'}
          onClick={() => makeDefault.mutate()}
        >
          {account.isDefault ? 'Your default account' : 'Make my default'}
        </Menu.Item>
        <Menu.Divider />
        <Menu.Item
          color="red"
          leftSection={<IconTrash size={16} aria-hidden />}
          onClick={() => onDelete(account)}
        >
          Delete…
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

function NameCell({ account }: { account: AccountRow }) {
  return (
    <Group gap={6} wrap="nowrap">
      <Text size="sm" fw={500} truncate maw={200}>
        {account.name}
      </Text>
      {account.isDefault && (
        <Badge size="xs" variant="filled" color="indigo" aria-label="your default account">
          Default
        </Badge>
      )}
    </Group>
  );
}

const columns: Column[] = [
  'Name',
  'Address',
  'Type',
  'Scope',
  'Owner',
  'Created',
  'Status',
  'Sending',
  'Receiving',
  { title: 'Actions', hidden: true },
];

/** What the table and the cards show: the rows, or that they are loading. */
type RowsProps = { rows: AccountRow[]; loading: boolean; onDelete: (account: AccountRow) => void };

function AccountsTable({ rows, loading, onDelete }: RowsProps) {
  return (
    <ListTable
      label="Email accounts"
      columns={columns}
      loading={loading}
      minWidth={1000}
      horizontalSpacing={6}
    >
      {rows.map((account) => (
        <Table.Tr key={account.id} data-testid="account-row">
          <Table.Td>
            <NameCell account={account} />
          </Table.Td>
          <Table.Td>
            <Text size="sm" truncate maw={200} title={account.email}>
              {account.email}
            </Text>
          </Table.Td>
          <Table.Td>{label(account.type)}</Table.Td>
          <Table.Td>{label(account.scope)}</Table.Td>
          <Table.Td>
            <Text size="sm" truncate maw={160} title={account.owner.email}>
              {account.owner.name}
            </Text>
          </Table.Td>
          <Table.Td>
            <Day iso={account.createdAt} />
          </Table.Td>
          <AccountStateCells account={account} />
          <Table.Td>
            <RowActions account={account} onDelete={onDelete} />
          </Table.Td>
        </Table.Tr>
      ))}
    </ListTable>
  );
}

/** A health badge with its direction written before it, where no column header names it. */
function LabelledHealth(props: ComponentProps<typeof HealthBadge>) {
  return (
    <Group gap={4} wrap="nowrap">
      <Text size="xs" c="dimmed">
        {props.direction}
      </Text>
      <HealthBadge {...props} />
    </Group>
  );
}

/** The same rows as cards, for narrow screens. */
function AccountCards({ rows, loading, onDelete }: RowsProps) {
  return (
    <CardList label="Email accounts" loading={loading} skeletons={{ count: 5, height: 132 }}>
      {rows.map((account) => (
        <ListCard key={account.id} testId="account-row">
          <CardHead
            title={<NameCell account={account} />}
            line={account.email}
            actions={<RowActions account={account} onDelete={onDelete} />}
          />
          <Text size="xs" c="dimmed" mt={6}>
            {label(account.type)} · {label(account.scope)} · {account.owner.name} · created{' '}
            {formatDate(account.createdAt)}
          </Text>
          <Group gap="xs" mt={8}>
            <StatusBadge status={account.status} />
            <LabelledHealth direction="Sending" health={account.health.outgoing} />
            <LabelledHealth direction="Receiving" health={account.health.incoming} />
          </Group>
        </ListCard>
      ))}
    </CardList>
  );
}

function DeleteAccount({ account, onClose }: { account: AccountRow | null; onClose: () => void }) {
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: (id: string) => api.deleteAccount(id),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['accounts'] });
      notifications.show({ color: 'teal', title: 'Account deleted', message: `${account?.name} is gone.` });
      remove.reset();
      onClose();
    },
  });
  const cancel = () => {
    remove.reset();
    onClose();
  };
  return (
    <ConfirmDelete
      opened={account !== null}
      title="Delete this account?"
      onCancel={cancel}
      onConfirm={() => account && remove.mutate(account.id)}
      pending={remove.isPending}
      error={remove.error}
      cancelLabel="Cancel"
      confirmLabel="Delete account"
    >
      <strong>{account?.name}</strong> ({account?.email}) will be removed for everyone who uses it. Mail
      already sent stays on the contacts; this cannot be undone.
    </ConfirmDelete>
  );
}

export function AccountsPage() {
  const { filters, update, clear, bind, filtered, paging } = useListFilters(readFilters, defaults, PAGE_SIZE);
  const [search, setSearch] = useTypedFilter(filters.q, (q) => update({ q }));
  const narrow = useMediaQuery('(max-width: 64em)');
  const [adding, addingControls] = useDisclosure(false);
  const [deleting, setDeleting] = useState<AccountRow | null>(null);

  useDocumentTitle('Accounts · Mailroom');

  const query = toQuery(filters);
  const accounts = usePagedList({ queryKey: ['accounts', query], queryFn: () => api.accounts(query) });
  const view: RowsProps = { rows: accounts.rows, loading: accounts.list.isPending, onDelete: setDeleting };
  const clearAll = () => {
    setSearch('');
    clear();
  };
  const empty = filtered ? (
    <NoMatches title="No accounts match" q={filters.q} onClear={clearAll} />
  ) : (
    <EmptyState
      title="No accounts yet"
      action={
        <Button variant="light" onClick={addingControls.open}>
          Add marketing account
        </Button>
      }
    >
      Accounts you may send from, yours and your team&apos;s, appear here.
    </EmptyState>
  );

  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap">
        <Title order={1} size="h2">
          Accounts
        </Title>
        <Group gap="sm">
          <Button variant="default" onClick={addingControls.open}>
            Add marketing account
          </Button>
          <Button component={Link} to="/accounts/new" leftSection={<IconPlus size={16} aria-hidden />}>
            Add account
          </Button>
        </Group>
      </Group>

      <FilterBar label="Filter accounts">
        <SearchInput value={search} onChange={setSearch} w={{ base: '100%', sm: 260 }} />
        <SegmentedFilter label="Type" data={types} {...bind('type')} />
        <SegmentedFilter label="Scope" data={scopes} {...bind('scope')} />
        <StatusFilter statuses={statuses} words={label} width={190} {...bind('status')} />
      </FilterBar>

      <ListResults paged={accounts} noun="accounts" paging={paging} narrow={narrow} empty={empty} cards>
        {narrow ? <AccountCards {...view} /> : <AccountsTable {...view} />}
      </ListResults>

      <AddMarketingAccount opened={adding} onClose={addingControls.close} />
      <DeleteAccount account={deleting} onClose={() => setDeleting(null)} />
    </Stack>
  );
}
