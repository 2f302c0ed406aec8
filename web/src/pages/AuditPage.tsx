import { Card, Code, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { AdminTabs } from '../components/AdminTabs.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ListFooter } from '../components/ListFooter.tsx';
import { formatDateTime } from '../format.ts';
import { useSession } from '../session.ts';

const PAGE_SIZE = 50;

/** Who changed what and when (admins): the names of the fields changed, never their values. */
export function AuditPage() {
  const session = useSession();
  const narrow = useMediaQuery('(max-width: 48em)') ?? false;
  const [page, setPage] = useState(1);
  useEffect(() => {
    document.title = 'Audit log · Admin · Mailroom';
  }, []);
  const isAdmin = session.data?.user.role === 'admin';
  const entries = useQuery({
    queryKey: ['audit', page],
    queryFn: () => api.audit({ page, pageSize: PAGE_SIZE }),
    placeholderData: keepPreviousData,
    enabled: isAdmin,
  });
  const users = useQuery({ queryKey: ['users'], queryFn: api.users, enabled: isAdmin });
  const names = new Map((users.data?.items ?? []).map((user) => [user.id, user.name]));
  const rows = entries.data?.items ?? [];
  const total = entries.data?.total ?? 0;

  return (
    <Stack gap="md">
      <AdminTabs current="/admin/audit" />
      <div>
        <Title order={1} size="h2">
          Audit log
        </Title>
        <Text c="dimmed" size="sm">
          Who changed what and when, newest first. It names the fields changed, never a password or other
          secret.
        </Text>
      </div>
      {entries.isError ? (
        <ErrorNotice error={entries.error} onRetry={() => void entries.refetch()} />
      ) : !entries.isPending && total === 0 ? (
        <Card withBorder>
          <EmptyState title="Nothing recorded yet">
            Changes to accounts, users and settings appear here.
          </EmptyState>
        </Card>
      ) : (
        <Card withBorder padding={0} style={{ opacity: entries.isPlaceholderData ? 0.6 : 1 }}>
          <Table.ScrollContainer minWidth={narrow ? 600 : 800}>
            <Table verticalSpacing="xs" aria-label="Audit log, newest first" aria-busy={entries.isPending}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>Who</Table.Th>
                  <Table.Th>What</Table.Th>
                  <Table.Th>On</Table.Th>
                  <Table.Th>Fields</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {entries.isPending
                  ? Array.from({ length: 6 }, (_, index) => (
                      <Table.Tr key={index} data-testid="skeleton-row">
                        <Table.Td colSpan={5}>
                          <Skeleton h={24} />
                        </Table.Td>
                      </Table.Tr>
                    ))
                  : rows.map((entry) => (
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
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
      )}
      <ListFooter
        noun="entries"
        loading={entries.isPending}
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
