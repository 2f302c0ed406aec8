import { Button, Fieldset, Group, Modal, Skeleton, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconRefresh } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api.ts';
import { formatCount } from '../format.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

type Action = 'reset' | 'clear';

const messages = (count: number) => `${formatCount(count)} ${count === 1 ? 'message' : 'messages'}`;
const go = (count: number) => (count === 1 ? 'goes' : 'go');

const actions: Record<
  Action,
  {
    button: string;
    title: string;
    explain: (count: number) => string;
    confirm: (count: number) => string;
    done: (count: number) => string;
  }
> = {
  reset: {
    button: 'Reset sending status',
    title: 'Reset sending status?',
    explain: (count) =>
      count === 0
        ? 'No message is stuck in Sending.'
        : `${messages(count)} in Sending ${go(count)} back to Ready to send.`,
    confirm: (count) =>
      `${messages(count)} in Sending ${go(count)} back to Ready to send and will be sent again. A message the server ` +
      'may already have taken could then arrive twice; reset only when you know the sending stopped.',
    done: (count) => `${messages(count)} back to Ready to send.`,
  },
  clear: {
    button: 'Clear error status',
    title: 'Clear error status?',
    explain: (count) =>
      count === 0 ? 'No message is in Error.' : `${messages(count)} in Error will be tried again.`,
    confirm: (count) =>
      `${messages(count)} in Error ${go(count)} back to Ready to send and will be tried again.`,
    done: (count) => `${messages(count)} will be tried again.`,
  },
};

/**
 * The Other tab's outbox buttons for a saved account: Reset sending status and Clear error status,
 * each with the number of messages it affects, confirmed first, and the counts read again after.
 */
export function AccountOutboxControls({ accountId }: { accountId: string }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<Action | null>(null);
  const counts = useQuery({
    queryKey: ['account-outbox', accountId],
    queryFn: () => api.accountOutbox(accountId),
    staleTime: 0,
  });
  const run = useMutation({
    mutationFn: (action: Action) =>
      action === 'reset' ? api.resetAccountSending(accountId) : api.clearAccountErrors(accountId),
    onSuccess: async ({ count }, action) => {
      setConfirming(null);
      notifications.show({
        color: 'teal',
        title: actions[action].button,
        message: actions[action].done(count),
      });
      await queryClient.invalidateQueries({ queryKey: ['account-outbox', accountId] });
      await queryClient.invalidateQueries({ queryKey: ['messages'] });
    },
  });

  const countOf = (action: Action) => (action === 'reset' ? counts.data?.sending : counts.data?.error) ?? 0;

  return (
    <Fieldset legend="Outgoing messages">
      <Stack gap="md">
        {counts.isError && <ErrorNotice error={counts.error} onRetry={() => void counts.refetch()} />}
        {(['reset', 'clear'] as const).map((action) => (
          <Group key={action} justify="space-between" align="center" wrap="wrap" gap="sm">
            <Stack gap={2} style={{ minWidth: 0, flex: '1 1 240px' }}>
              <Text size="sm" fw={500}>
                {actions[action].button}
              </Text>
              {counts.isPending ? (
                <Skeleton h={16} w={220} my={2} />
              ) : (
                <Text size="sm" c="dimmed" data-testid={`${action}-count`} aria-live="polite">
                  {actions[action].explain(countOf(action))}
                </Text>
              )}
            </Stack>
            <Button
              variant="default"
              leftSection={
                action === 'reset' ? (
                  <IconRefresh size={16} aria-hidden />
                ) : (
                  <IconAlertTriangle size={16} aria-hidden />
                )
              }
              disabled={counts.isPending || countOf(action) === 0}
              onClick={() => {
                run.reset();
                setConfirming(action);
              }}
            >
              {actions[action].button}
              {!counts.isPending && ` (${formatCount(countOf(action))})`}
            </Button>
          </Group>
        ))}
        {!counts.isPending && counts.data && (
          <Text size="xs" c="dimmed">
            Also: {formatCount(counts.data.ready)} ready to send, {formatCount(counts.data.uncertain)}{' '}
            uncertain, {formatCount(counts.data.sent)} sent.
          </Text>
        )}
      </Stack>

      <Modal
        opened={confirming !== null}
        onClose={() => setConfirming(null)}
        title={confirming ? actions[confirming].title : ''}
        centered
      >
        {confirming && (
          <Stack>
            <Text size="sm">{actions[confirming].confirm(countOf(confirming))}</Text>
            {run.error && <ErrorNotice error={run.error} title="Nothing changed" />}
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setConfirming(null)} data-autofocus>
                Cancel
              </Button>
              <Button loading={run.isPending} onClick={() => run.mutate(confirming)}>
                {actions[confirming].button}
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </Fieldset>
  );
}
