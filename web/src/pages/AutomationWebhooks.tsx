import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  MultiSelect,
  Skeleton,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconKey, IconListDetails, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, type EventType, type WebhookEndpoint } from '../api.ts';
import { ConfirmDelete } from '../components/ConfirmDelete.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice, errorText } from '../components/ErrorNotice.tsx';
import { SecretValue } from '../components/SecretValue.tsx';
import { formatDateTime } from '../format.ts';
import { eventTypeLabels, eventTypeOptions } from './AutomationRules.tsx';

/** The signing secret, shown once: the API never returns it again. */
function SecretOnce({ secret, onClose }: { secret: string | null; onClose: () => void }) {
  return (
    <Modal opened={secret !== null} onClose={onClose} title="The signing secret" centered size="lg">
      <Stack>
        <Alert color="yellow" variant="light">
          Copy it now: it is shown only this once. Receivers check each delivery’s Mailroom-Signature with it.
        </Alert>
        <SecretValue secret={secret ?? ''} testId="webhook-secret" doneLabel="Done" onDone={onClose} />
      </Stack>
    </Modal>
  );
}

function AddWebhook({
  opened,
  onClose,
  onSecret,
}: {
  opened: boolean;
  onClose: () => void;
  onSecret: (secret: string) => void;
}) {
  const queryClient = useQueryClient();
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState<string[]>(['email.received']);
  const create = useMutation({
    mutationFn: () => api.createWebhook({ url: url.trim(), eventTypes: types as EventType[] }),
    onSuccess: async (created) => {
      await queryClient.invalidateQueries({ queryKey: ['webhooks'] });
      setUrl('');
      onClose();
      onSecret(created.secret);
    },
  });
  const fields = create.error instanceof ApiError ? create.error.fields : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <Modal opened={opened} onClose={onClose} title="Add a webhook" size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <TextInput
            label="URL"
            description="https://, on a public address"
            required
            data-autofocus
            value={url}
            onChange={(event) => setUrl(event.currentTarget.value)}
            error={fields.url}
          />
          <MultiSelect
            label="Events"
            data={eventTypeOptions}
            value={types}
            onChange={setTypes}
            searchable
            error={fields.eventTypes}
          />
          {create.error && Object.keys(fields).length === 0 && <ErrorNotice error={create.error} />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Add webhook
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

const deliveryColour: Record<string, string> = { delivered: 'teal', pending: 'yellow', failed: 'red' };

function DeliveryLog({ endpoint, onClose }: { endpoint: WebhookEndpoint | null; onClose: () => void }) {
  const deliveries = useQuery({
    queryKey: ['webhook-deliveries', endpoint?.id],
    queryFn: () => api.webhookDeliveries(endpoint!.id),
    enabled: endpoint !== null,
  });
  return (
    <Modal
      opened={endpoint !== null}
      onClose={onClose}
      title={`Deliveries to ${endpoint?.url ?? ''}`}
      size="xl"
    >
      {deliveries.isPending ? (
        <Stack gap="xs" aria-busy aria-label="Loading the deliveries">
          <Skeleton h={28} />
          <Skeleton h={28} />
        </Stack>
      ) : deliveries.isError ? (
        <ErrorNotice error={deliveries.error} onRetry={() => void deliveries.refetch()} />
      ) : deliveries.data.items.length === 0 ? (
        <EmptyState title="Nothing delivered yet">
          Deliveries appear here when a subscribed event happens.
        </EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={600}>
          <Table verticalSpacing="xs" aria-label="Deliveries, newest first">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Event</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Attempts</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {deliveries.data.items.map((delivery) => (
                <Table.Tr key={delivery.id} data-testid="webhook-delivery">
                  <Table.Td>
                    <Text size="sm">{eventTypeLabels[delivery.eventType]}</Text>
                    <Text size="xs" c="dimmed">
                      {formatDateTime(delivery.createdAt)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={deliveryColour[delivery.status] ?? 'gray'} variant="light">
                      {delivery.status}
                    </Badge>
                    {delivery.status === 'pending' && delivery.nextAttemptAt && (
                      <Text size="xs" c="dimmed">
                        next {formatDateTime(delivery.nextAttemptAt)}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Stack gap={2}>
                      {delivery.attempts.map((attempt, index) => (
                        <Text key={index} size="xs">
                          {formatDateTime(attempt.at)}: {attempt.statusCode ?? 'no answer'} in{' '}
                          {attempt.latencyMs} ms
                          {attempt.error ? ` (${attempt.error})` : ''}
                        </Text>
                      ))}
                    </Stack>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Modal>
  );
}

export function WebhooksPanel() {
  const queryClient = useQueryClient();
  const webhooks = useQuery({ queryKey: ['webhooks'], queryFn: api.webhooks });
  const [adding, setAdding] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [logOf, setLogOf] = useState<WebhookEndpoint | null>(null);
  const [deleting, setDeleting] = useState<WebhookEndpoint | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['webhooks'] });
  const toggle = useMutation({
    mutationFn: (endpoint: WebhookEndpoint) => api.updateWebhook(endpoint.id, { enabled: !endpoint.enabled }),
    onSuccess: refresh,
    onError: (error) => notifications.show({ color: 'red', title: 'Not changed', message: errorText(error) }),
  });
  const rotate = useMutation({
    mutationFn: (endpoint: WebhookEndpoint) => api.rotateWebhookSecret(endpoint.id),
    onSuccess: (rotated) => setSecret(rotated.secret),
    onError: (error) => notifications.show({ color: 'red', title: 'Not rotated', message: errorText(error) }),
  });
  const remove = useMutation({
    mutationFn: (endpoint: WebhookEndpoint) => api.deleteWebhook(endpoint.id),
    onSuccess: async () => {
      await refresh();
      setDeleting(null);
    },
    onError: (error) => notifications.show({ color: 'red', title: 'Not deleted', message: errorText(error) }),
  });

  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap">
        <Text size="sm" c="dimmed" maw={640}>
          Each event of the chosen types is POSTed as JSON, signed with the endpoint’s secret. Failed
          deliveries are retried for 24 hours; an endpoint failing that long is turned off and its owner
          alerted.
        </Text>
        <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
          Add webhook
        </Button>
      </Group>
      {webhooks.isPending ? (
        <Stack gap="sm" aria-busy aria-label="Loading the webhooks">
          <Skeleton h={80} />
        </Stack>
      ) : webhooks.isError ? (
        <ErrorNotice error={webhooks.error} onRetry={() => void webhooks.refetch()} />
      ) : webhooks.data.items.length === 0 ? (
        <EmptyState title="No webhooks yet">Add one to send events to another system.</EmptyState>
      ) : (
        <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }}>
          {webhooks.data.items.map((endpoint) => (
            <Card withBorder component="li" key={endpoint.id} data-testid="webhook">
              <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
                <Stack gap={4} style={{ minWidth: 0, flex: 1 }}>
                  <Group gap="xs">
                    <Text fw={600} style={{ overflowWrap: 'anywhere' }}>
                      {endpoint.url}
                    </Text>
                    {!endpoint.enabled && (
                      <Badge color="gray" variant="light">
                        Off
                      </Badge>
                    )}
                    {endpoint.failingSince && endpoint.enabled && (
                      <Badge color="orange" variant="light">
                        Failing since {formatDateTime(endpoint.failingSince)}
                      </Badge>
                    )}
                  </Group>
                  <Text size="sm">{endpoint.eventTypes.map((type) => eventTypeLabels[type]).join(', ')}</Text>
                  {endpoint.disabledReason && (
                    <Text size="xs" c="red">
                      Turned off {formatDateTime(endpoint.disabledAt)}: {endpoint.disabledReason}
                    </Text>
                  )}
                </Stack>
                <Group gap="xs">
                  <Switch
                    checked={endpoint.enabled}
                    onChange={() => toggle.mutate(endpoint)}
                    aria-label={`${endpoint.enabled ? 'Turn off' : 'Turn on'} ${endpoint.url}`}
                  />
                  <Button
                    variant="default"
                    size="xs"
                    leftSection={<IconListDetails size={14} aria-hidden />}
                    onClick={() => setLogOf(endpoint)}
                    aria-label={`Deliveries to ${endpoint.url}`}
                  >
                    Deliveries
                  </Button>
                  <ActionIcon
                    variant="subtle"
                    onClick={() => rotate.mutate(endpoint)}
                    aria-label={`New secret for ${endpoint.url}`}
                  >
                    <IconKey size={16} aria-hidden />
                  </ActionIcon>
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    onClick={() => setDeleting(endpoint)}
                    aria-label={`Delete ${endpoint.url}`}
                  >
                    <IconTrash size={16} aria-hidden />
                  </ActionIcon>
                </Group>
              </Group>
            </Card>
          ))}
        </Stack>
      )}
      <AddWebhook opened={adding} onClose={() => setAdding(false)} onSecret={setSecret} />
      <SecretOnce secret={secret} onClose={() => setSecret(null)} />
      <DeliveryLog endpoint={logOf} onClose={() => setLogOf(null)} />
      <ConfirmDelete
        opened={deleting !== null}
        title="Delete this webhook?"
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
        pending={remove.isPending}
      >
        {deleting?.url} and its delivery log are deleted; nothing more is sent to it.
      </ConfirmDelete>
    </Stack>
  );
}
