import { Badge, Button, Card, Group, SegmentedControl, Skeleton, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../api.ts';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { formatDateTime } from '../format.ts';

/** Your alerts from rules (and from webhooks turned off), newest first. */
export function NotificationsPanel() {
  const queryClient = useQueryClient();
  const [show, setShow] = useState<'unread' | 'all'>('unread');
  const list = useQuery({
    queryKey: ['notifications', show],
    queryFn: () => api.notifications(show === 'unread'),
  });
  const markRead = useMutation({
    mutationFn: (id: string) => api.markNotificationRead(id),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['notifications'] }),
  });
  return (
    <Stack gap="md">
      <SegmentedControl
        value={show}
        onChange={(value) => setShow(value as 'unread' | 'all')}
        data={[
          { value: 'unread', label: 'Unread' },
          { value: 'all', label: 'All' },
        ]}
        aria-label="Which alerts"
        w="fit-content"
      />
      {list.isPending ? (
        <Stack gap="sm" aria-busy aria-label="Loading your alerts">
          <Skeleton h={64} />
          <Skeleton h={64} />
        </Stack>
      ) : list.isError ? (
        <ErrorNotice error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <EmptyState title={show === 'unread' ? 'No unread alerts' : 'No alerts yet'}>
          Rules that alert you put their alerts here.
        </EmptyState>
      ) : (
        <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }}>
          {list.data.items.map((alert) => (
            <Card withBorder component="li" key={alert.id} data-testid="notification" padding="sm">
              <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
                <Stack gap={2} style={{ minWidth: 0, flex: 1 }}>
                  <Group gap="xs">
                    <Title order={2} size="h5">
                      {alert.title}
                    </Title>
                    {alert.readAt === null && (
                      <Badge size="xs" color="blue">
                        New
                      </Badge>
                    )}
                  </Group>
                  <Text size="sm">{alert.body}</Text>
                  <Text size="xs" c="dimmed">
                    {formatDateTime(alert.createdAt)}
                    {alert.contactId && (
                      <>
                        {' · '}
                        <Link to={`/contacts/${alert.contactId}`}>Open the contact</Link>
                      </>
                    )}
                  </Text>
                </Stack>
                {alert.readAt === null && (
                  <Button
                    size="xs"
                    variant="light"
                    loading={markRead.isPending && markRead.variables === alert.id}
                    onClick={() => markRead.mutate(alert.id)}
                    aria-label={`Mark “${alert.title}” read`}
                  >
                    Mark read
                  </Button>
                )}
              </Group>
            </Card>
          ))}
        </Stack>
      )}
    </Stack>
  );
}
