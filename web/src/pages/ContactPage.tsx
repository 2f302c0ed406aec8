import {
  Alert,
  Anchor,
  Button,
  Card,
  Group,
  Modal,
  SimpleGrid,
  Skeleton,
  Stack,
  TagsInput,
  Text,
  ThemeIcon,
  Title,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import {
  IconArrowLeft,
  IconBolt,
  IconMailForward,
  IconMailOpened,
  IconAlertTriangle,
  IconRefresh,
} from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { api, ApiError, type AppEvent, type Contact, type Message } from '../api.ts';
import { BounceVerdict, bounceReason } from '../components/BounceVerdict.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import {
  ContactStatusBadge,
  MessageKindBadge,
  MessageStatusChip,
  replyLine,
} from '../components/MailBadges.tsx';
import { recipientsLine, senderLine } from '../components/MessageParts.tsx';
import { formatCount, formatDateTime } from '../format.ts';

const TIMELINE_MESSAGES = 50;
const EVENT_PAGES = 4;

function Section({
  title,
  children,
  testId,
  action,
}: {
  title: string;
  children: ReactNode;
  testId?: string;
  action?: ReactNode;
}) {
  return (
    <Card withBorder padding="md" component="section" aria-label={title} data-testid={testId}>
      <Group justify="space-between" wrap="wrap" mb="sm">
        <Title order={2} size="h4">
          {title}
        </Title>
        {action}
      </Group>
      {children}
    </Card>
  );
}

function Fact({ name, children }: { name: string; children: ReactNode }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" fw={500}>
        {name}
      </Text>
      <Text size="sm" component="div" style={{ overflowWrap: 'anywhere' }}>
        {children}
      </Text>
    </Stack>
  );
}

function Owner({ id }: { id: string | null }) {
  const owner = useQuery({ queryKey: ['user', id], queryFn: () => api.user(id!), enabled: id !== null });
  if (id === null) return <>No owner</>;
  if (owner.isPending) return <Skeleton h={16} w={120} />;
  if (owner.isError) return <>Someone you cannot see</>;
  return <span title={owner.data.email}>{owner.data.name}</span>;
}

function Reactivate({ contact }: { contact: Contact }) {
  const [opened, { open, close }] = useDisclosure(false);
  const queryClient = useQueryClient();
  const reactivate = useMutation({
    mutationFn: () => api.reactivateContact(contact.id),
    onSuccess: async (updated) => {
      queryClient.setQueryData(['contact', contact.id], updated);
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ['contacts'] }),
        queryClient.invalidateQueries({ queryKey: ['contact-events', contact.id] }),
      ]);
      notifications.show({
        color: 'teal',
        title: 'Contact reactivated',
        message: `${contact.email} gets marketing mail again; its soft-bounce count starts afresh.`,
      });
      close();
    },
  });
  if (contact.status !== 'faulty' && contact.status !== 'complained') return null;
  return (
    <>
      <Button leftSection={<IconRefresh size={16} aria-hidden />} variant="light" color="teal" onClick={open}>
        Reactivate
      </Button>
      <Modal
        opened={opened}
        onClose={() => {
          reactivate.reset();
          close();
        }}
        title="Reactivate this contact?"
        centered
      >
        <Stack>
          <Text size="sm">
            <strong>{contact.email}</strong> is marked{' '}
            {contact.status === 'faulty'
              ? 'faulty because its mail bounced'
              : 'as having complained about spam'}
            . Reactivate it only if you know the mark was wrong: marketing mail will go to it again, and the
            soft-bounce count starts from zero. The audit log keeps that you did this.
          </Text>
          {reactivate.error && <ErrorNotice error={reactivate.error} title="Not reactivated" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={close} data-autofocus>
              Cancel
            </Button>
            <Button color="teal" loading={reactivate.isPending} onClick={() => reactivate.mutate()}>
              Reactivate contact
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

function TagEditor({ contact }: { contact: Contact }) {
  const queryClient = useQueryClient();
  const [tags, setTags] = useState(contact.tags);
  const save = useMutation({
    mutationFn: (next: string[]) => api.updateContact(contact.id, { tags: next }),
    onSuccess: async (updated) => {
      queryClient.setQueryData(['contact', contact.id], updated);
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ['contacts'] }),
        queryClient.invalidateQueries({ queryKey: ['contact-events', contact.id] }),
      ]);
      notifications.show({
        color: 'teal',
        title: 'Tags saved',
        message: `${contact.email} has ${updated.tags.length} tags.`,
      });
    },
  });
  const changed =
    tags.length !== contact.tags.length || tags.some((tag, index) => tag !== contact.tags[index]);
  const fieldError =
    save.error instanceof ApiError
      ? (Object.entries(save.error.fields).find(([field]) => field.startsWith('tags'))?.[1] ?? undefined)
      : undefined;
  return (
    <Stack gap="xs">
      <TagsInput
        label="Tags"
        description="Type a tag and press Enter; a comma also separates tags."
        value={tags}
        onChange={(next) => {
          save.reset();
          setTags(next);
        }}
        clearable
        error={fieldError}
        maxTags={100}
        splitChars={[',']}
      />
      {save.error && !fieldError && <ErrorNotice error={save.error} title="Tags not saved" />}
      <Group gap="xs">
        <Button size="xs" onClick={() => save.mutate(tags)} disabled={!changed} loading={save.isPending}>
          Save tags
        </Button>
        {changed && (
          <Button size="xs" variant="subtle" color="gray" onClick={() => setTags(contact.tags)}>
            Undo changes
          </Button>
        )}
      </Group>
    </Stack>
  );
}

function BounceHistory({ contact }: { contact: Contact }) {
  const bounces = useQuery({
    queryKey: ['bounces', { contactId: contact.id }],
    queryFn: () => api.bounces({ contactId: contact.id, pageSize: 50 }),
  });
  return (
    <Section title="Bounce history" testId="bounce-history">
      {bounces.isError ? (
        <ErrorNotice error={bounces.error} onRetry={() => void bounces.refetch()} />
      ) : bounces.isPending ? (
        <Skeleton h={150} />
      ) : bounces.data.items.length === 0 ? (
        <Text size="sm" c="dimmed">
          No bounces or complaints: every message to {contact.email} so far was accepted.
        </Text>
      ) : (
        <Stack gap="sm">
          {bounces.data.items.map((bounce) => (
            <BounceVerdict key={bounce.id} bounce={bounce} />
          ))}
          {bounces.data.total > bounces.data.items.length && (
            <Text size="xs" c="dimmed">
              The latest {bounces.data.items.length} of {formatCount(bounces.data.total)} are shown.
            </Text>
          )}
        </Stack>
      )}
    </Section>
  );
}

type TimelineItem =
  | { kind: 'message'; at: string; key: string; message: Message }
  | { kind: 'event'; at: string; key: string; event: AppEvent };

const data = (event: AppEvent) => event.data as Record<string, unknown>;
const str = (value: unknown) => (typeof value === 'string' ? value : '');

/** An event in plain words. */
function eventText(event: AppEvent): string {
  const d = data(event);
  switch (event.type) {
    case 'email.sent':
      return `Email sent: ${str(d.subject) || '(no subject)'}`;
    case 'email.received':
      return `Email received: ${str(d.subject) || '(no subject)'}`;
    case 'email.failed': {
      const reply = d.reply as Parameters<typeof replyLine>[0] | null;
      return `Email failed: ${str(d.subject) || '(no subject)'}${reply ? ` — ${replyLine(reply)}` : ''}`;
    }
    case 'email.bounced':
      return `Bounced (${d.bounceType === 'hard' ? 'hard' : d.bounceType === 'soft' ? 'soft' : 'unclassified'}): ${bounceReason(str(d.reason))}${d.status ? `, ${str(d.status)}` : ''}`;
    case 'contact.faulty':
      return d.cause === 'soft_bounces'
        ? `Marked faulty after ${String(d.softBounces ?? 'several')} soft bounces`
        : 'Marked faulty after a hard bounce';
    case 'contact.complained':
      return 'Marked complained: a spam complaint came back';
    case 'contact.reactivated': {
      const cleared = Array.isArray(d.cleared) ? (d.cleared as string[]).join(' and ') : '';
      return `Reactivated${cleared ? ` (the ${cleared} mark cleared)` : ''}`;
    }
    case 'contact.score_changed': {
      const delta = Number(d.delta ?? 0);
      return `Score ${delta >= 0 ? '+' : ''}${formatCount(delta)}, now ${formatCount(Number(d.to ?? 0))}`;
    }
    case 'contact.tags_changed': {
      const added = (d.added as string[] | undefined) ?? [];
      const removed = (d.removed as string[] | undefined) ?? [];
      return [
        added.length ? `Tagged ${added.join(', ')}` : '',
        removed.length ? `untagged ${removed.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ');
    }
    default:
      return event.type.replace(/[._]/g, ' ');
  }
}

function eventColour(event: AppEvent): string {
  if (event.type === 'contact.faulty' || event.type === 'email.bounced' || event.type === 'email.failed')
    return 'red';
  if (event.type === 'contact.complained') return 'orange';
  if (event.type === 'contact.reactivated') return 'teal';
  return 'indigo';
}

async function allEvents(contactId: string): Promise<{ items: AppEvent[]; more: boolean }> {
  const items: AppEvent[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < EVENT_PAGES; page += 1) {
    const result = await api.events({ contactId, limit: 500, ...(cursor && { cursor }) });
    items.push(...result.items);
    if (!result.nextCursor) return { items, more: false };
    cursor = result.nextCursor;
  }
  return { items, more: true };
}

function Timeline({ contact }: { contact: Contact }) {
  const location = useLocation();
  const messages = useQuery({
    queryKey: ['messages', { contactId: contact.id, pageSize: TIMELINE_MESSAGES }],
    queryFn: () => api.messages({ contactId: contact.id, pageSize: TIMELINE_MESSAGES }),
  });
  const events = useQuery({ queryKey: ['contact-events', contact.id], queryFn: () => allEvents(contact.id) });
  const error = messages.error ?? events.error;
  let body: ReactNode;
  if (error) {
    body = (
      <ErrorNotice
        error={error}
        onRetry={() => {
          void messages.refetch();
          void events.refetch();
        }}
      />
    );
  } else if (!messages.data || !events.data) {
    body = (
      <Stack gap="sm" aria-busy>
        {Array.from({ length: 4 }, (_, index) => (
          <Skeleton key={index} h={40} />
        ))}
      </Stack>
    );
  } else {
    const shown = new Set(messages.data.items.map((message) => message.id));
    const items: TimelineItem[] = [
      ...messages.data.items.map((message) => ({
        kind: 'message' as const,
        at: (message.direction === 'in' ? message.receivedAt : message.sentAt) ?? message.createdAt,
        key: `m-${message.id}`,
        message,
      })),
      // A sent or received message is already shown as itself.
      ...events.data.items
        .filter(
          (event) =>
            !(
              (event.type === 'email.sent' || event.type === 'email.received') &&
              event.messageId &&
              shown.has(event.messageId)
            ),
        )
        .map((event) => ({ kind: 'event' as const, at: event.createdAt, key: `e-${event.id}`, event })),
    ].sort((a, b) => b.at.localeCompare(a.at) || b.key.localeCompare(a.key));
    body =
      items.length === 0 ? (
        <EmptyState title="Nothing yet">
          Emails to and from {contact.email}, and what happened to it, appear here.
        </EmptyState>
      ) : (
        <Stack component="ol" gap={0} p={0} m={0} style={{ listStyle: 'none' }} aria-label="Timeline">
          {items.map((item) => (
            <Group
              key={item.key}
              component="li"
              gap="sm"
              wrap="nowrap"
              align="flex-start"
              py={8}
              style={{ borderTop: '1px solid var(--mantine-color-gray-2)' }}
              data-testid="timeline-item"
            >
              {item.kind === 'message' ? (
                <>
                  <ThemeIcon
                    variant="light"
                    color={item.message.direction === 'in' ? 'gray' : 'indigo'}
                    size={28}
                    radius="xl"
                    aria-hidden
                  >
                    {item.message.direction === 'in' ? (
                      <IconMailOpened size={16} />
                    ) : (
                      <IconMailForward size={16} />
                    )}
                  </ThemeIcon>
                  <Stack gap={2} style={{ minWidth: 0, flex: 1 }}>
                    <Group gap={6} wrap="wrap">
                      <Text size="sm">{item.message.direction === 'in' ? 'Received' : 'Sent'}:</Text>
                      <Anchor
                        component={Link}
                        to={`/messages/${item.message.id}`}
                        state={{ from: location.pathname }}
                        size="sm"
                        fw={500}
                        style={{ overflowWrap: 'anywhere' }}
                      >
                        {item.message.subject || '(no subject)'}
                      </Anchor>
                      {item.message.direction === 'out' ? (
                        <MessageStatusChip status={item.message.status} />
                      ) : (
                        <MessageKindBadge kind={item.message.kind} />
                      )}
                    </Group>
                    <Text size="xs" c="dimmed">
                      {formatDateTime(item.at)} ·{' '}
                      {item.message.direction === 'in'
                        ? `from ${senderLine(item.message)}`
                        : `to ${recipientsLine(item.message)}`}
                    </Text>
                  </Stack>
                </>
              ) : (
                <>
                  <ThemeIcon
                    variant="light"
                    color={eventColour(item.event)}
                    size={28}
                    radius="xl"
                    aria-hidden
                  >
                    {item.event.type.startsWith('contact.') ? (
                      <IconBolt size={16} />
                    ) : (
                      <IconAlertTriangle size={16} />
                    )}
                  </ThemeIcon>
                  <Stack gap={2} style={{ minWidth: 0, flex: 1 }}>
                    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                      {item.event.messageId && !item.event.type.startsWith('contact.') ? (
                        <Anchor
                          component={Link}
                          to={`/messages/${item.event.messageId}`}
                          state={{ from: location.pathname }}
                          size="sm"
                          c="inherit"
                        >
                          {eventText(item.event)}
                        </Anchor>
                      ) : (
                        eventText(item.event)
                      )}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {formatDateTime(item.at)}
                      {item.event.causedByRuleId ? ' · by an automation rule' : ''}
                    </Text>
                  </Stack>
                </>
              )}
            </Group>
          ))}
        </Stack>
      );
  }
  return (
    <Section title="Timeline" testId="timeline">
      {body}
      {messages.data && messages.data.total > messages.data.items.length && (
        <Text size="xs" c="dimmed" mt="xs">
          The latest {messages.data.items.length} of {formatCount(messages.data.total)} emails are shown.
        </Text>
      )}
    </Section>
  );
}

function ContactView({ contact }: { contact: Contact }) {
  const markedAt =
    contact.status === 'faulty'
      ? contact.faultyAt
      : contact.status === 'complained'
        ? contact.complainedAt
        : contact.status === 'unsubscribed'
          ? contact.unsubscribedAt
          : null;
  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap" gap="sm" align="flex-start">
        <Stack gap={4} style={{ minWidth: 0 }}>
          <Group gap="sm" wrap="wrap">
            <Title order={1} size="h2" style={{ overflowWrap: 'anywhere' }}>
              {contact.name ?? contact.email}
            </Title>
            <ContactStatusBadge status={contact.status} size="lg" />
          </Group>
          {contact.name && (
            <Text c="dimmed" size="sm" style={{ overflowWrap: 'anywhere' }}>
              {contact.email}
            </Text>
          )}
        </Stack>
        <Reactivate contact={contact} />
      </Group>

      {contact.status !== 'active' && (
        <Alert
          color={contact.status === 'unsubscribed' ? 'gray' : 'red'}
          variant="light"
          icon={<IconAlertTriangle aria-hidden />}
        >
          {contact.status === 'faulty'
            ? `Its address bounced${markedAt ? ` (marked ${formatDateTime(markedAt)})` : ''}: marketing mail skips it, and own accounts warn before sending. The bounce history below says why.`
            : contact.status === 'complained'
              ? `It reported mail as spam${markedAt ? ` on ${formatDateTime(markedAt)}` : ''}: marketing mail skips it.`
              : `It unsubscribed${markedAt ? ` on ${formatDateTime(markedAt)}` : ''}: marketing mail skips it. Only the contact can undo that.`}
        </Alert>
      )}

      <Card withBorder padding="md">
        <SimpleGrid cols={{ base: 2, sm: 4 }} spacing="md">
          <Fact name="Status">
            <ContactStatusBadge status={contact.status} />
          </Fact>
          <Fact name="Score">
            <span data-testid="contact-score">{formatCount(contact.score)}</span>
          </Fact>
          <Fact name="Owner">
            <Owner id={contact.ownerId} />
          </Fact>
          <Fact name="Added">{formatDateTime(contact.createdAt)}</Fact>
        </SimpleGrid>
        <Stack mt="md">
          {/* Saved tags that change (a rule, another person) start the editor afresh. */}
          <TagEditor key={contact.tags.join('\n')} contact={contact} />
        </Stack>
      </Card>

      <BounceHistory contact={contact} />
      <Timeline contact={contact} />
    </Stack>
  );
}

export function ContactPage() {
  const { id = '' } = useParams();
  const contact = useQuery({ queryKey: ['contact', id], queryFn: () => api.contact(id) });

  useEffect(() => {
    document.title = `${contact.data?.name ?? contact.data?.email ?? 'Contact'} · Mailroom`;
  }, [contact.data?.name, contact.data?.email]);

  return (
    <Stack gap="md" maw={960}>
      <Anchor component={Link} to="/contacts" size="sm">
        <Group gap={4} wrap="nowrap">
          <IconArrowLeft size={14} aria-hidden />
          All contacts
        </Group>
      </Anchor>
      {contact.isError ? (
        contact.error instanceof ApiError && contact.error.status === 404 ? (
          <EmptyState title="This contact is not here">
            It may have been removed, or the address is wrong.
          </EmptyState>
        ) : (
          <ErrorNotice error={contact.error} onRetry={() => void contact.refetch()} />
        )
      ) : contact.isPending ? (
        <Stack gap="md" aria-busy aria-label="Loading the contact">
          <Skeleton h={34} w="50%" />
          <Skeleton h={150} />
          <Skeleton h={200} />
        </Stack>
      ) : (
        <ContactView contact={contact.data} />
      )}
    </Stack>
  );
}
