import { Code, Stack, Table, Text } from '@mantine/core';
import { useDocumentTitle, useMediaQuery } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api.ts';
import { AdminPageHead } from '../components/AdminPageHead.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ListResults } from '../components/ListResults.tsx';
import { ListTable } from '../components/ListTable.tsx';
import type { Paging } from '../list-filters.ts';
import { formatDateTime } from '../format.ts';
import { usePagedList } from '../paged-list.ts';
import { useSession } from '../session.ts';

const PAGE_SIZE = 50;

/** Who changed what and when (admins): the names of the fields changed, never their values. */
export function AuditPage() {
  const session = useSession();
  const narrow = useMediaQuery('(max-width: 48em)') ?? false;
  const [page, setPage] = useState(1);
  useDocumentTitle('Audit log · Admin · Mailroom');
  const isAdmin = session.data?.user.role === 'admin';
  const entries = usePagedList({
    queryKey: ['audit', page],
    queryFn: () => api.audit({ page, pageSize: PAGE_SIZE }),
    enabled: isAdmin,
  });
  const users = useQuery({ queryKey: ['users'], queryFn: api.users, enabled: isAdmin });
  const names = new Map((users.data?.items ?? []).map((user) => [user.id, user.name]));

  const paging: Paging = { page, pageSize: PAGE_SIZE, onPage: setPage };
  const empty = entries.total === 0 && (
    <EmptyState title="Nothing recorded yet">Changes to accounts, users and settings appear here.</EmptyState>
  );

  return (
    <Stack gap="md">
      <AdminPageHead current="/admin/audit" title="Audit log">
        Who changed what and when, newest first. It names the fields changed, never a password or other
        secret.
      </AdminPageHead>
      <ListResults paged={entries} noun="entries" paging={paging} narrow={narrow} empty={empty}>
        <ListTable
          label="Audit log, newest first"
          loading={entries.list.isPending}
          minWidth={narrow ? 600 : 800}
          columns={['When', 'Who', 'What', 'On', 'Fields']}
          skeletonLines={{ count: 6, height: 24 }}
          plain
        >
          {entries.rows.map((entry) => (
            <Table.Tr key={entry.id} data-testid="audit-row">
              <Table.Td>{formatDateTime(entry.createdAt)}</Table.Td>
              <Table.Td>
                {entry.actorId === null
                  ? 'The operator (command line)'
                  : (names.get(entry.actorId) ?? 'A former user')}
              </Table.Td>
              <Table.Td>
                <Code>{entry.action}</Code>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{entry.targetType}</Text>
                <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                  {entry.targetId}
                </Text>
              </Table.Td>
              <Table.Td>{entry.fields.length === 0 ? '—' : entry.fields.join(', ')}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      </ListResults>
    </Stack>
  );
}
