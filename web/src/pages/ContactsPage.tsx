import { Anchor, Badge, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDocumentTitle, useMediaQuery } from '@mantine/hooks';
import { IconTag } from '@tabler/icons-react';
import { Link } from 'react-router';
import { readChoice, readPage, useListFilters, useTypedFilter } from '../list-filters.ts';
import { usePagedList } from '../paged-list.ts';
import { api, type Contact, type ContactQuery, type ContactStatus } from '../api.ts';
import { Day } from '../components/Day.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { FilterBar, SearchInput, StatusFilter } from '../components/FilterBar.tsx';
import { CardList, ListCard } from '../components/CardList.tsx';
import { ListResults, NoMatches } from '../components/ListResults.tsx';
import { ListTable, type Column } from '../components/ListTable.tsx';
import { ContactStatusBadge, contactStatusWords } from '../components/MailBadges.tsx';
import { formatCount, formatDate } from '../format.ts';

const PAGE_SIZE = 25;
const statuses = ['active', 'faulty', 'complained', 'unsubscribed'] as const;

type Filters = { q: string; status: string; tag: string; page: number };

const defaults: Filters = { q: '', status: 'any', tag: '', page: 1 };

function readFilters(params: URLSearchParams): Filters {
  return {
    q: params.get('q') ?? '',
    status: readChoice(params, 'status', statuses, 'any'),
    tag: params.get('tag') ?? '',
    page: readPage(params),
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

const columns: Column[] = [
  'Contact',
  { title: 'Status', w: 140 },
  { title: 'Score', w: 80, ta: 'right' },
  'Tags',
  { title: 'Added', w: 130 },
];

/** What the table and the cards show: the rows, or that they are loading. */
type RowsProps = { rows: Contact[]; loading: boolean };

function ContactsTable({ rows, loading }: RowsProps) {
  return (
    <ListTable label="Contacts" columns={columns} loading={loading} minWidth={760} skeletonWidth="75%">
      {rows.map((contact) => (
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
            <Day iso={contact.createdAt} />
          </Table.Td>
        </Table.Tr>
      ))}
    </ListTable>
  );
}

function ContactCards({ rows, loading }: RowsProps) {
  return (
    <CardList label="Contacts" loading={loading} skeletons={{ count: 6, height: 88 }}>
      {rows.map((contact) => (
        <ListCard key={contact.id} testId="contact-row">
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
        </ListCard>
      ))}
    </CardList>
  );
}

export function ContactsPage() {
  const { filters, update, clear, bind, filtered, paging } = useListFilters(readFilters, defaults, PAGE_SIZE);
  const [search, setSearch] = useTypedFilter(filters.q, (q) => update({ q }));
  const [tag, setTag] = useTypedFilter(filters.tag, (tag) => update({ tag }));
  const narrow = useMediaQuery('(max-width: 64em)');

  useDocumentTitle('Contacts · Mailroom');

  const query = toQuery(filters);
  const contacts = usePagedList({ queryKey: ['contacts', query], queryFn: () => api.contacts(query) });
  const view: RowsProps = { rows: contacts.rows, loading: contacts.list.isPending };
  const clearAll = () => {
    setSearch('');
    setTag('');
    clear();
  };
  const empty = filtered ? (
    <NoMatches title="No contacts match" q={filters.q} onClear={clearAll} />
  ) : (
    <EmptyState title="No contacts yet">
      Contacts are added through the API or your CRM; mail you send and receive is filed on them.
    </EmptyState>
  );

  return (
    <Stack gap="md">
      <Title order={1} size="h2">
        Contacts
      </Title>

      <FilterBar label="Filter contacts">
        <SearchInput value={search} onChange={setSearch} w={{ base: '100%', sm: 260 }} />
        <StatusFilter statuses={statuses} words={contactStatusWords} width={180} {...bind('status')} />
        <TextInput
          label="Tag"
          placeholder="e.g. customer"
          leftSection={<IconTag size={16} aria-hidden />}
          value={tag}
          onChange={(event) => setTag(event.currentTarget.value)}
          w={{ base: '100%', xs: 200 }}
        />
      </FilterBar>

      <ListResults paged={contacts} noun="contacts" paging={paging} narrow={narrow} empty={empty} cards>
        {narrow ? <ContactCards {...view} /> : <ContactsTable {...view} />}
      </ListResults>
    </Stack>
  );
}
