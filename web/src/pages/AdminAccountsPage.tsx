import { Stack, Table, Text } from '@mantine/core';
import { useDebouncedValue, useDocumentTitle, useMediaQuery } from '@mantine/hooks';
import { useState } from 'react';
import { api } from '../api.ts';
import { AdminPageHead } from '../components/AdminPageHead.tsx';
import { AccountStateCells } from '../components/Badges.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { SearchInput } from '../components/FilterBar.tsx';
import { ListResults } from '../components/ListResults.tsx';
import { ListTable } from '../components/ListTable.tsx';
import type { Paging } from '../list-filters.ts';
import { formatDate, label } from '../format.ts';
import { usePagedList } from '../paged-list.ts';
import { useSession } from '../session.ts';

const PAGE_SIZE = 25;

/** Every account of the organisation (admins), with whose default each one is. */
export function AdminAccountsPage() {
  const session = useSession();
  const narrow = useMediaQuery('(max-width: 48em)') ?? false;
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const [page, setPage] = useState(1);
  useDocumentTitle('All accounts · Admin · Mailroom');
  const query = { ...(q && { q }), page, pageSize: PAGE_SIZE };
  const accounts = usePagedList({
    queryKey: ['admin-accounts', 'all', query],
    queryFn: () => api.adminAccounts(query),
    enabled: session.data?.user.role === 'admin',
  });

  const paging: Paging = { page, pageSize: PAGE_SIZE, onPage: setPage };
  const empty = accounts.total === 0 && (
    <EmptyState title={q ? 'No account matches' : 'No accounts yet'}>
      {q ? 'Try another name or address.' : 'Accounts your users add appear here.'}
    </EmptyState>
  );

  return (
    <Stack gap="md">
      <AdminPageHead current="/admin/accounts" title="All accounts">
        Every account of the organisation, personal ones too, and whose default each one is.
      </AdminPageHead>
      <SearchInput
        value={search}
        onChange={(text) => {
          setSearch(text);
          setPage(1);
        }}
        maw={420}
      />
      <ListResults paged={accounts} noun="accounts" paging={paging} narrow={narrow} empty={empty}>
        <ListTable
          label="All accounts"
          loading={accounts.list.isPending}
          minWidth={narrow ? 640 : 900}
          columns={['Account', 'Type', 'Owner', 'Default for', 'Status', 'Sending', 'Receiving', 'Created']}
          skeletonLines={{ count: 5, height: 28 }}
          plain
        >
          {accounts.rows.map((account) => (
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
        </ListTable>
      </ListResults>
    </Stack>
  );
}
