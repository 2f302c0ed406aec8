import {
  Badge,
  Button,
  Card,
  Code,
  Group,
  Modal,
  Pagination,
  Skeleton,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconCheck, IconX } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, type AdminAccountRow, type DomainCheck } from '../api.ts';
import { AdminPageHead } from '../components/AdminPageHead.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice, errorText } from '../components/ErrorNotice.tsx';
import { formatCount, formatDateTime, label } from '../format.ts';
import { useSession } from '../session.ts';

const PAGE_SIZE = 20;

const checkColour: Record<string, string> = { pass: 'teal', fail: 'red', missing: 'orange' };
const checkWord: Record<string, string> = { pass: 'Pass', fail: 'Fail', missing: 'Missing' };

function DomainCheckResult({ accountId }: { accountId: string }) {
  const check = useQuery({
    queryKey: ['domain-check', accountId],
    queryFn: () => api.domainCheck(accountId),
    staleTime: 60_000,
  });
  if (check.isPending) {
    return (
      <Stack gap={6} aria-busy aria-label="Checking the sending domain">
        <Skeleton h={20} />
        <Skeleton h={20} />
        <Skeleton h={20} />
      </Stack>
    );
  }
  if (check.isError) {
    return (
      <ErrorNotice
        title="The domain could not be checked"
        error={check.error}
        onRetry={() => void check.refetch()}
      />
    );
  }
  const report: DomainCheck = check.data;
  const parts = [
    { name: 'SPF', part: report.spf },
    { name: 'DKIM', part: report.dkim },
    { name: 'DMARC', part: report.dmarc },
  ];
  return (
    <Stack gap={6}>
      <Group gap="xs">
        <Text size="sm" fw={500}>
          Sending domain {report.domain}
        </Text>
        <Badge color={report.ok ? 'teal' : 'orange'} variant="light">
          {report.ok ? 'Ready to send' : 'Needs attention'}
        </Badge>
        <Button
          variant="subtle"
          size="compact-xs"
          onClick={() => void check.refetch()}
          loading={check.isFetching}
        >
          Check again
        </Button>
      </Group>
      <Table.ScrollContainer minWidth={520}>
        <Table withRowBorders={false} verticalSpacing={4} aria-label={`DNS checks for ${report.domain}`}>
          <Table.Tbody>
            {parts.map(({ name, part }) => (
              <Table.Tr key={name}>
                <Table.Th w={70} fw={500}>
                  {name}
                </Table.Th>
                <Table.Td w={110}>
                  <Badge color={checkColour[part.status] ?? 'gray'} variant="light">
                    {checkWord[part.status] ?? part.status}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{part.detail}</Text>
                  {part.record && (
                    <Code block mt={4} style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
                      {part.record}
                    </Code>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}

function PendingAccount({ account, onReject }: { account: AdminAccountRow; onReject: () => void }) {
  const queryClient = useQueryClient();
  const approve = useMutation({
    mutationFn: () => api.approveAccount(account.id),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['admin-accounts'] });
      await queryClient.invalidateQueries({ queryKey: ['accounts'] });
      notifications.show({ color: 'teal', title: 'Approved', message: `${account.name} can send now.` });
    },
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not approved', message: errorText(error) }),
  });
  return (
    <Card withBorder component="li" data-testid="pending-account">
      <Stack gap="sm">
        <Group justify="space-between" align="flex-start" wrap="wrap">
          <Stack gap={2} style={{ minWidth: 0 }}>
            <Title order={2} size="h4">
              {account.name}
            </Title>
            <Text size="sm">{account.email}</Text>
            <Text size="xs" c="dimmed">
              {label(account.scope)} account of {account.owner.name} ({account.owner.email}), asked for{' '}
              {formatDateTime(account.createdAt)}
            </Text>
          </Stack>
          <Group gap="xs">
            <Button
              color="teal"
              leftSection={<IconCheck size={16} aria-hidden />}
              loading={approve.isPending}
              onClick={() => approve.mutate()}
              aria-label={`Approve ${account.name}`}
            >
              Approve
            </Button>
            <Button
              color="red"
              variant="light"
              leftSection={<IconX size={16} aria-hidden />}
              onClick={onReject}
              aria-label={`Reject ${account.name}`}
            >
              Reject…
            </Button>
          </Group>
        </Group>
        <DomainCheckResult accountId={account.id} />
      </Stack>
    </Card>
  );
}

function RejectAccount({ account, onClose }: { account: AdminAccountRow | null; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const reject = useMutation({
    mutationFn: (id: string) => api.rejectAccount(id, reason.trim()),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['admin-accounts'] });
      await queryClient.invalidateQueries({ queryKey: ['accounts'] });
      notifications.show({
        color: 'teal',
        title: 'Rejected',
        message: `${account?.name} was rejected; its owner sees why.`,
      });
      close();
    },
  });
  function close() {
    setReason('');
    reject.reset();
    onClose();
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (account) reject.mutate(account.id);
  };
  const reasonError =
    reject.error instanceof ApiError ? (reject.error.fields.reason ?? undefined) : undefined;
  return (
    <Modal opened={account !== null} onClose={close} title={`Reject ${account?.name ?? ''}?`} centered>
      <form onSubmit={submit} noValidate>
        <Stack>
          <Textarea
            label="Reason"
            description="The account's owner sees this."
            required
            autosize
            minRows={3}
            data-autofocus
            value={reason}
            onChange={(event) => setReason(event.currentTarget.value)}
            error={reasonError}
          />
          {reject.error && !reasonError && <ErrorNotice error={reject.error} title="Not rejected" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" color="red" loading={reject.isPending} disabled={reason.trim() === ''}>
              Reject account
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function ApprovalsPage() {
  const session = useSession();
  const isAdmin = session.data?.user.role === 'admin';
  const [page, setPage] = useState(1);
  const [rejecting, setRejecting] = useState<AdminAccountRow | null>(null);
  useEffect(() => {
    document.title = 'Admin · Mailroom';
  }, []);
  const query = { type: 'marketing', status: 'pending_approval', page, pageSize: PAGE_SIZE } as const;
  const pending = useQuery({
    queryKey: ['admin-accounts', query],
    queryFn: () => api.adminAccounts(query),
    placeholderData: keepPreviousData,
    enabled: isAdmin,
  });

  if (!isAdmin) {
    return (
      <Stack>
        <Title order={1} size="h2">
          Admin
        </Title>
        <EmptyState title="For administrators">
          Only an administrator of your organisation can see this page.
        </EmptyState>
      </Stack>
    );
  }
  const total = pending.data?.total ?? 0;
  return (
    <Stack gap="md">
      <AdminPageHead current="/admin" title="Approval queue">
        Marketing accounts waiting for approval. Check that each sending domain lets the platform send for it
        before you approve.
      </AdminPageHead>
      {pending.isError ? (
        <ErrorNotice error={pending.error} onRetry={() => void pending.refetch()} />
      ) : pending.isPending ? (
        <Stack aria-busy aria-label="Loading the approval queue">
          <Skeleton h={220} radius="md" />
          <Skeleton h={220} radius="md" />
        </Stack>
      ) : total === 0 ? (
        <Card withBorder>
          <EmptyState title="Nothing waits for approval">
            When someone adds a marketing account, it appears here for you to check and approve.
          </EmptyState>
        </Card>
      ) : (
        <Stack
          gap="md"
          component="ul"
          p={0}
          m={0}
          style={{ listStyle: 'none' }}
          aria-label="Accounts waiting for approval"
        >
          {pending.data.items.map((account) => (
            <PendingAccount key={account.id} account={account} onReject={() => setRejecting(account)} />
          ))}
        </Stack>
      )}
      {total > PAGE_SIZE && (
        <Group justify="space-between">
          <Text size="sm" c="dimmed">
            {formatCount(total)} waiting
          </Text>
          <Pagination total={Math.ceil(total / PAGE_SIZE)} value={page} onChange={setPage} size="sm" />
        </Group>
      )}
      <RejectAccount account={rejecting} onClose={() => setRejecting(null)} />
    </Stack>
  );
}
