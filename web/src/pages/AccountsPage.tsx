import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Group,
  Menu,
  SegmentedControl,
  Select,
  Skeleton,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue, useDisclosure, useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconDots, IconPlus, IconSearch, IconSettings, IconStar, IconTrash } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { useUrlFilters } from '../url-filters.ts';
import { api, type AccountQuery, type AccountRow } from '../api.ts';
import { AddMarketingAccount } from '../components/AddMarketingAccount.tsx';
import { AccountStateCells, HealthBadge, StatusBadge } from '../components/Badges.tsx';
import { ConfirmDelete } from '../components/ConfirmDelete.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ListFooter } from '../components/ListFooter.tsx';
import { ErrorNotice, errorText } from '../components/ErrorNotice.tsx';
import { formatDate, formatDateTime, label } from '../format.ts';

const PAGE_SIZE = 25;
const types = ['all', 'marketing', 'own'] as const;
const scopes = ['any', 'personal', 'team'] as const;
const statuses = ['pending_approval', 'active', 'rejected', 'disabled'] as const;

type Filters = { q: string; type: string; scope: string; status: string; page: number };

function readFilters(params: URLSearchParams): Filters {
  const pick = (name: string, allowed: readonly string[], fallback: string) => {
    const value = params.get(name) ?? fallback;
    return allowed.includes(value) ? value : fallback;
  };
  return {
    q: params.get('q') ?? '',
    type: pick('type', types, 'all'),
    scope: pick('scope', scopes, 'any'),
    status: pick('status', ['any', ...statuses], 'any'),
    page: Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1),
  };
}

function writeFilters(filters: Filters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.q) params.set('q', filters.q);
  if (filters.type !== 'all') params.set('type', filters.type);
  if (filters.scope !== 'any') params.set('scope', filters.scope);
  if (filters.status !== 'any') params.set('status', filters.status);
  if (filters.page > 1) params.set('page', String(filters.page));
  return params;
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

function AccountsTable({
  rows,
  loading,
  onDelete,
}: {
  rows: AccountRow[];
  loading: boolean;
  onDelete: (account: AccountRow) => void;
}) {
  return (
    <Table.ScrollContainer minWidth={1000} type="native">
      <Table
        verticalSpacing="xs"
        horizontalSpacing={6}
        highlightOnHover
        aria-label="Email accounts"
        aria-busy={loading}
      >
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Address</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Scope</Table.Th>
            <Table.Th>Owner</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Sending</Table.Th>
            <Table.Th>Receiving</Table.Th>
            <Table.Th>
              <span className="visually-hidden">Actions</span>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {loading
            ? Array.from({ length: 8 }, (_, index) => (
                <Table.Tr key={index} data-testid="skeleton-row">
                  {Array.from({ length: 10 }, (_, cell) => (
                    <Table.Td key={cell}>
                      <Skeleton h={18} my={3} w={cell === 9 ? 24 : '80%'} />
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))
            : rows.map((account) => (
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
                    <Text
                      size="sm"
                      title={formatDateTime(account.createdAt)}
                      style={{ whiteSpace: 'nowrap' }}
                    >
                      {formatDate(account.createdAt)}
                    </Text>
                  </Table.Td>
                  <AccountStateCells account={account} />
                  <Table.Td>
                    <RowActions account={account} onDelete={onDelete} />
                  </Table.Td>
                </Table.Tr>
              ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** The same rows as cards, for narrow screens. */
function AccountCards({
  rows,
  loading,
  onDelete,
}: {
  rows: AccountRow[];
  loading: boolean;
  onDelete: (account: AccountRow) => void;
}) {
  if (loading) {
    return (
      <Stack gap="sm" aria-busy>
        {Array.from({ length: 5 }, (_, index) => (
          <Skeleton key={index} h={132} radius="md" data-testid="skeleton-row" />
        ))}
      </Stack>
    );
  }
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label="Email accounts">
      {rows.map((account) => (
        <Card key={account.id} withBorder component="li" padding="sm" data-testid="account-row">
          <Group justify="space-between" wrap="nowrap" align="flex-start">
            <Stack gap={2} style={{ minWidth: 0 }}>
              <NameCell account={account} />
              <Text size="sm" c="dimmed" truncate>
                {account.email}
              </Text>
            </Stack>
            <RowActions account={account} onDelete={onDelete} />
          </Group>
          <Text size="xs" c="dimmed" mt={6}>
            {label(account.type)} · {label(account.scope)} · {account.owner.name} · created{' '}
            {formatDate(account.createdAt)}
          </Text>
          <Group gap="xs" mt={8}>
            <StatusBadge status={account.status} />
            <Group gap={4} wrap="nowrap">
              <Text size="xs" c="dimmed">
                Sending
              </Text>
              <HealthBadge direction="Sending" health={account.health.outgoing} />
            </Group>
            <Group gap={4} wrap="nowrap">
              <Text size="xs" c="dimmed">
                Receiving
              </Text>
              <HealthBadge direction="Receiving" health={account.health.incoming} />
            </Group>
          </Group>
        </Card>
      ))}
    </Stack>
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
  const [filters, update, clearFilters] = useUrlFilters(readFilters, writeFilters);
  const [search, setSearch] = useState(filters.q);
  const [debounced] = useDebouncedValue(search, 250);
  const narrow = useMediaQuery('(max-width: 64em)');
  const [adding, addingControls] = useDisclosure(false);
  const [deleting, setDeleting] = useState<AccountRow | null>(null);

  useEffect(() => {
    document.title = 'Accounts · Mailroom';
  }, []);

  useEffect(() => {
    if (debounced !== filters.q) update({ q: debounced });
    // Only the typed text drives this; the filters are read fresh from the address.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);

  const query = toQuery(filters);
  const accounts = useQuery({
    queryKey: ['accounts', query],
    queryFn: () => api.accounts(query),
    placeholderData: keepPreviousData,
  });
  const rows = accounts.data?.items ?? [];
  const total = accounts.data?.total ?? 0;
  const filtered =
    filters.q !== '' || filters.type !== 'all' || filters.scope !== 'any' || filters.status !== 'any';

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

      <Group gap="sm" align="flex-end" wrap="wrap" role="search" aria-label="Filter accounts">
        <TextInput
          label="Search"
          placeholder="Name or address"
          leftSection={<IconSearch size={16} aria-hidden />}
          value={search}
          onChange={(event) => setSearch(event.currentTarget.value)}
          w={{ base: '100%', sm: 260 }}
          type="search"
        />
        <Stack gap={4}>
          <Text size="sm" fw={500} id="type-filter">
            Type
          </Text>
          <SegmentedControl
            aria-labelledby="type-filter"
            value={filters.type}
            onChange={(type) => update({ type })}
            data={[
              { value: 'all', label: 'All' },
              { value: 'marketing', label: 'Marketing' },
              { value: 'own', label: 'Own' },
            ]}
          />
        </Stack>
        <Stack gap={4}>
          <Text size="sm" fw={500} id="scope-filter">
            Scope
          </Text>
          <SegmentedControl
            aria-labelledby="scope-filter"
            value={filters.scope}
            onChange={(scope) => update({ scope })}
            data={[
              { value: 'any', label: 'Any' },
              { value: 'personal', label: 'Personal' },
              { value: 'team', label: 'Team' },
            ]}
          />
        </Stack>
        <Select
          label="Status"
          value={filters.status}
          onChange={(status) => update({ status: status ?? 'any' })}
          allowDeselect={false}
          w={{ base: '100%', xs: 190 }}
          data={[
            { value: 'any', label: 'Any status' },
            ...statuses.map((status) => ({ value: status, label: label(status) })),
          ]}
        />
      </Group>

      {accounts.isError ? (
        <ErrorNotice error={accounts.error} onRetry={() => void accounts.refetch()} />
      ) : !accounts.isPending && rows.length === 0 ? (
        <Card withBorder>
          {filtered ? (
            <EmptyState
              title="No accounts match"
              action={
                <Button
                  variant="light"
                  onClick={() => {
                    setSearch('');
                    clearFilters();
                  }}
                >
                  Clear search and filters
                </Button>
              }
            >
              Nothing matches {filters.q ? `“${filters.q}”` : 'these filters'}. Try fewer letters or another
              filter.
            </EmptyState>
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
          )}
        </Card>
      ) : (
        <Card
          withBorder
          padding={narrow ? 'xs' : 0}
          style={{ opacity: accounts.isPlaceholderData ? 0.6 : 1 }}
        >
          {narrow ? (
            <AccountCards rows={rows} loading={accounts.isPending} onDelete={setDeleting} />
          ) : (
            <AccountsTable rows={rows} loading={accounts.isPending} onDelete={setDeleting} />
          )}
        </Card>
      )}

      <ListFooter
        noun="accounts"
        loading={accounts.isPending}
        page={filters.page}
        pageSize={PAGE_SIZE}
        shown={rows.length}
        total={total}
        narrow={narrow}
        onPage={(page) => update({ page })}
      />

      <AddMarketingAccount opened={adding} onClose={addingControls.close} />
      <DeleteAccount account={deleting} onClose={() => setDeleting(null)} />
    </Stack>
  );
}
