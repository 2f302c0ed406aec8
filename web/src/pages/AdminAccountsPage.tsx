import { Card, Skeleton, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue, useMediaQuery } from '@mantine/hooks';
import { IconSearch } from '@tabler/icons-react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { AdminTabs } from '../components/AdminTabs.tsx';
import { AccountStateCells } from '../components/Badges.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ListFooter } from '../components/ListFooter.tsx';
import { formatDate, label } from '../format.ts';
import { useSession } from '../session.ts';

const PAGE_SIZE = 25;

/** Every account of the organisation (admins), with whose default each one is. */
export function AdminAccountsPage() {
  const session = useSession();
  const narrow = useMediaQuery('(max-width: 48em)') ?? false;
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const [page, setPage] = useState(1);
  useEffect(() => {
    document.title = 'All accounts · Admin · Mailroom';
  }, []);
  const query = { ...(q && { q }), page, pageSize: PAGE_SIZE };
  const accounts = useQuery({
    queryKey: ['admin-accounts', 'all', query],
    queryFn: () => api.adminAccounts(query),
    placeholderData: keepPreviousData,
    enabled: session.data?.user.role === 'admin',
  });
  const rows = accounts.data?.items ?? [];
  const total = accounts.data?.total ?? 0;

  return (
    <Stack gap="md">
      <AdminTabs current="/admin/accounts" />
      <div>
        <Title order={1} size="h2">
          All accounts
        </Title>
        <Text c="dimmed" size="sm">
          Every account of the organisation, personal ones too, and whose default each one is.
        </Text>
      </div>
      <TextInput
        type="search"
        label="Search"
        placeholder="Name or address"
        leftSection={<IconSearch size={16} aria-hidden />}
        value={search}
        onChange={(event) => {
          setSearch(event.currentTarget.value);
          setPage(1);
        }}
        maw={420}
      />
      {accounts.isError ? (
        <ErrorNotice error={accounts.error} onRetry={() => void accounts.refetch()} />
      ) : !accounts.isPending && total === 0 ? (
        <Card withBorder>
          <EmptyState title={q ? 'No account matches' : 'No accounts yet'}>
            {q ? 'Try another name or address.' : 'Accounts your users add appear here.'}
          </EmptyState>
        </Card>
      ) : (
        <Card withBorder padding={0} style={{ opacity: accounts.isPlaceholderData ? 0.6 : 1 }}>
          <Table.ScrollContainer minWidth={narrow ? 640 : 900}>
            <Table verticalSpacing="xs" aria-label="All accounts" aria-busy={accounts.isPending}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Account</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Owner</Table.Th>
                  <Table.Th>Default for</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Sending</Table.Th>
                  <Table.Th>Receiving</Table.Th>
                  <Table.Th>Created</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {accounts.isPending
                  ? Array.from({ length: 5 }, (_, index) => (
                      <Table.Tr key={index} data-testid="skeleton-row">
                        <Table.Td colSpan={8}>
                          <Skeleton h={28} />
                        </Table.Td>
                      </Table.Tr>
                    ))
                  : rows.map((account) => (
                      <Table.Tr key={account.id} data-testid="admin-account-row">
                        <Table.Td>
                          <Text size="sm" fw={500}>
                            {account.name}
                          </Text>
                          <Text size="xs" c="dimmed">
                            {account.email}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          {label(account.type)}, {label(account.scope).toLowerCase()}
                        </Table.Td>
                        <Table.Td>{account.owner.name}</Table.Td>
                        <Table.Td>
                          {account.defaultFor.length === 0
                            ? '—'
                            : account.defaultFor.map((user) => user.name).join(', ')}
                        </Table.Td>
                        <AccountStateCells account={account} />
                        <Table.Td>{formatDate(account.createdAt)}</Table.Td>
                      </Table.Tr>
                    ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
      )}
      <ListFooter
        noun="accounts"
        loading={accounts.isPending}
        page={page}
        pageSize={PAGE_SIZE}
        shown={rows.length}
        total={total}
        narrow={narrow}
        onPage={setPage}
      />
    </Stack>
  );
}
