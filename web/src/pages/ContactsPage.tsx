import {
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Select,
  Skeleton,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue, useMediaQuery } from '@mantine/hooks';
import { IconSearch, IconTag } from '@tabler/icons-react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { useUrlFilters } from '../url-filters.ts';
import { api, type Contact, type ContactQuery, type ContactStatus } from '../api.ts';
import { EmptyState } from '../components/EmptyState.tsx';
import { ListFooter } from '../components/ListFooter.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { ContactStatusBadge, contactStatusWords } from '../components/MailBadges.tsx';
import { formatCount, formatDate, formatDateTime } from '../format.ts';

const PAGE_SIZE = 25;
const statuses = ['active', 'faulty', 'complained', 'unsubscribed'] as const;

type Filters = { q: string; status: string; tag: string; page: number };

function writeFilters(filters: Filters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.q) params.set('q', filters.q);
  if (filters.status !== 'any') params.set('status', filters.status);
  if (filters.tag) params.set('tag', filters.tag);
  if (filters.page > 1) params.set('page', String(filters.page));
  return params;
}

function readFilters(params: URLSearchParams): Filters {
  const status = params.get('status') ?? 'any';
  return {
    q: params.get('q') ?? '',
    status: (statuses as readonly string[]).includes(status) ? status : 'any',
    tag: params.get('tag') ?? '',
    page: Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1),
  };
}

function toQuery(filters: Filters): ContactQuery {
  return {
    ...(filters.q.trim() && { q: filters.q.trim() }),
    ...(filters.status !== 'any' && { status: filters.status as ContactStatus }),
    // A tag holds no comma; one typed by mistake is no part of it.
    ...(filters.tag.replace(/,/g, '').trim() && { tag: filters.tag.replace(/,/g, '').trim() }),
    page: filters.page,
    pageSize: PAGE_SIZE,
  };
}

function ContactLink({ contact }: { contact: Contact }) {
  return (
    <Stack gap={0} style={{ minWidth: 0 }}>
      <Anchor component={Link} to={`/contacts/${contact.id}`} size="sm" fw={500} truncate>
        {contact.name ?? contact.email}
      </Anchor>
      {contact.name && (
        <Text size="xs" c="dimmed" truncate>
          {contact.email}
        </Text>
      )}
    </Stack>
  );
}

function Tags({ tags }: { tags: string[] }) {
  if (tags.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        —
      </Text>
    );
  }
  return (
    <Group gap={4} wrap="wrap">
      {tags.slice(0, 4).map((tag) => (
        <Badge key={tag} size="sm" variant="outline" color="gray" tt="none">
          {tag}
        </Badge>
      ))}
      {tags.length > 4 && (
        <Text size="xs" c="dimmed">
          +{tags.length - 4}
        </Text>
      )}
    </Group>
  );
}

function ContactsTable({ rows, loading }: { rows: Contact[]; loading: boolean }) {
  return (
    <Table.ScrollContainer minWidth={760} type="native">
      <Table
        verticalSpacing="xs"
        horizontalSpacing="sm"
        highlightOnHover
        aria-label="Contacts"
        aria-busy={loading}
      >
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Contact</Table.Th>
            <Table.Th w={140}>Status</Table.Th>
            <Table.Th w={80} ta="right">
              Score
            </Table.Th>
            <Table.Th>Tags</Table.Th>
            <Table.Th w={130}>Added</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {loading
            ? Array.from({ length: 8 }, (_, index) => (
                <Table.Tr key={index} data-testid="skeleton-row">
                  {Array.from({ length: 5 }, (_, cell) => (
                    <Table.Td key={cell}>
                      <Skeleton h={18} my={3} w="75%" />
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))
            : rows.map((contact) => (
                <Table.Tr key={contact.id} data-testid="contact-row">
                  <Table.Td style={{ maxWidth: 320 }}>
                    <ContactLink contact={contact} />
                  </Table.Td>
                  <Table.Td>
                    <ContactStatusBadge status={contact.status} />
                  </Table.Td>
                  <Table.Td ta="right">
                    <Text size="sm">{formatCount(contact.score)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Tags tags={contact.tags} />
                  </Table.Td>
                  <Table.Td>
                    <Text
                      size="sm"
                      title={formatDateTime(contact.createdAt)}
                      style={{ whiteSpace: 'nowrap' }}
                    >
                      {formatDate(contact.createdAt)}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function ContactCards({ rows, loading }: { rows: Contact[]; loading: boolean }) {
  if (loading) {
    return (
      <Stack gap="sm" aria-busy>
        {Array.from({ length: 6 }, (_, index) => (
          <Skeleton key={index} h={88} radius="md" data-testid="skeleton-row" />
        ))}
      </Stack>
    );
  }
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label="Contacts">
      {rows.map((contact) => (
        <Card key={contact.id} withBorder component="li" padding="sm" data-testid="contact-row">
          <Group justify="space-between" wrap="nowrap" align="flex-start">
            <ContactLink contact={contact} />
            <ContactStatusBadge status={contact.status} />
          </Group>
          <Group gap="xs" mt={6} wrap="wrap">
            <Text size="xs" c="dimmed">
              Score {formatCount(contact.score)} · added {formatDate(contact.createdAt)}
            </Text>
            <Tags tags={contact.tags} />
          </Group>
        </Card>
      ))}
    </Stack>
  );
}

export function ContactsPage() {
  const [filters, update, clearFilters] = useUrlFilters(readFilters, writeFilters);
  const [search, setSearch] = useState(filters.q);
  const [tag, setTag] = useState(filters.tag);
  const [debouncedSearch] = useDebouncedValue(search, 250);
  const [debouncedTag] = useDebouncedValue(tag, 250);
  const narrow = useMediaQuery('(max-width: 64em)');

  useEffect(() => {
    document.title = 'Contacts · Mailroom';
  }, []);

  useEffect(() => {
    if (debouncedSearch !== filters.q || debouncedTag !== filters.tag) {
      update({ q: debouncedSearch, tag: debouncedTag });
    }
    // Only the typed text drives this; the other filters are read fresh from the address.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedSearch, debouncedTag]);

  const query = toQuery(filters);
  const contacts = useQuery({
    queryKey: ['contacts', query],
    queryFn: () => api.contacts(query),
    placeholderData: keepPreviousData,
  });
  const rows = contacts.data?.items ?? [];
  const total = contacts.data?.total ?? 0;
  const filtered = filters.q !== '' || filters.status !== 'any' || filters.tag !== '';

  return (
    <Stack gap="md">
      <Title order={1} size="h2">
        Contacts
      </Title>

      <Group gap="sm" align="flex-end" wrap="wrap" role="search" aria-label="Filter contacts">
        <TextInput
          label="Search"
          placeholder="Name or address"
          leftSection={<IconSearch size={16} aria-hidden />}
          value={search}
          onChange={(event) => setSearch(event.currentTarget.value)}
          w={{ base: '100%', sm: 260 }}
          type="search"
        />
        <Select
          label="Status"
          value={filters.status}
          onChange={(status) => update({ status: status ?? 'any' })}
          allowDeselect={false}
          w={{ base: '100%', xs: 180 }}
          data={[
            { value: 'any', label: 'Any status' },
            ...statuses.map((status) => ({ value: status, label: contactStatusWords[status] })),
          ]}
        />
        <TextInput
          label="Tag"
          placeholder="e.g. customer"
          leftSection={<IconTag size={16} aria-hidden />}
          value={tag}
          onChange={(event) => setTag(event.currentTarget.value)}
          w={{ base: '100%', xs: 200 }}
        />
      </Group>

      {contacts.isError ? (
        <ErrorNotice error={contacts.error} onRetry={() => void contacts.refetch()} />
      ) : !contacts.isPending && rows.length === 0 ? (
        <Card withBorder>
          {filtered ? (
            <EmptyState
              title="No contacts match"
              action={
                <Button
                  variant="light"
                  onClick={() => {
                    setSearch('');
                    setTag('');
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
            <EmptyState title="No contacts yet">
              Contacts are added through the API or your CRM; mail you send and receive is filed on them.
            </EmptyState>
          )}
        </Card>
      ) : (
        <Card
          withBorder
          padding={narrow ? 'xs' : 0}
          style={{ opacity: contacts.isPlaceholderData ? 0.6 : 1 }}
        >
          {narrow ? (
            <ContactCards rows={rows} loading={contacts.isPending} />
          ) : (
            <ContactsTable rows={rows} loading={contacts.isPending} />
          )}
        </Card>
      )}

      <ListFooter
        noun="contacts"
        loading={contacts.isPending}
        page={filters.page}
        pageSize={PAGE_SIZE}
        shown={rows.length}
        total={total}
        narrow={narrow}
        onPage={(page) => update({ page })}
      />
    </Stack>
  );
}
