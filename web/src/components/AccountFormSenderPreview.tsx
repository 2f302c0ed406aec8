import { Card, Group, Select, Skeleton, Stack, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, type SenderPreview } from '../api.ts';
import type { AccountFormValues } from './AccountFormModel.ts';
import { errorText } from './ErrorNotice.tsx';

function NamedAddress({ label, value }: { label: string; value: SenderPreview['from'] }) {
  return (
    <Group gap="xs" wrap="nowrap" align="baseline">
      <Text size="sm" c="dimmed" w={72} style={{ flexShrink: 0 }}>
        {label}
      </Text>
      <Text size="sm" style={{ overflowWrap: 'anywhere' }} data-testid={`preview-${label.toLowerCase()}`}>
        {value.name ? (
          <>
            <strong>{value.name}</strong> &lt;{value.address}&gt;
          </>
        ) : (
          value.address
        )}
      </Text>
    </Group>
  );
}

/**
 * From and Reply-To as a chosen contact would see them, from the settings as they stand in the form
 * (saved or not), filled in by the server the way the dispatcher fills them.
 */
export function AccountFormSenderPreview({ values }: { values: AccountFormValues }) {
  const [search, setSearch] = useState('');
  const [debouncedSearch] = useDebouncedValue(search, 250);
  const [contactId, setContactId] = useState<string | null>(null);
  const [chosenLabel, setChosenLabel] = useState<string | null>(null);

  const contacts = useQuery({
    queryKey: ['contacts', 'sender-preview', debouncedSearch],
    queryFn: () => api.contacts({ q: debouncedSearch || undefined, pageSize: 20 }),
    placeholderData: keepPreviousData,
  });
  const options = (contacts.data?.items ?? []).map((contact) => ({
    value: contact.id,
    label: contact.name ? `${contact.name} <${contact.email}>` : contact.email,
  }));
  if (contactId && chosenLabel && !options.some((option) => option.value === contactId)) {
    options.unshift({ value: contactId, label: chosenLabel });
  }

  const sender = {
    email: values.email.trim(),
    displayName: values.displayName.trim() || null,
    replyTo: values.replyTo.trim() || null,
    replyToName: values.replyToName.trim() || null,
    fromNameTemplate: values.personalise ? values.fromNameTemplate.trim() || null : null,
    replyToNameTemplate: values.personalise ? values.replyToNameTemplate.trim() || null : null,
  };
  // Debounced as text: a new object every render would restart the wait for ever.
  const [debouncedJson] = useDebouncedValue(JSON.stringify(sender), 300);
  const debouncedSender = JSON.parse(debouncedJson) as typeof sender;
  const ready = contactId !== null && debouncedSender.email !== '';
  const preview = useQuery({
    queryKey: ['sender-preview', contactId, debouncedJson],
    queryFn: () => api.senderPreview({ ...debouncedSender, contactId: contactId! }),
    enabled: ready,
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: 60_000,
  });

  const noContacts = contacts.isSuccess && contacts.data.total === 0 && debouncedSearch === '';
  const previewError =
    preview.error instanceof ApiError && Object.keys(preview.error.fields).length > 0
      ? `Fix ${Object.entries(preview.error.fields)
          .map(([field, message]) => `${field === 'email' ? 'the email address' : field} (${message})`)
          .join(', ')} to see the preview.`
      : preview.error
        ? errorText(preview.error)
        : null;

  return (
    <Card withBorder padding="sm" bg="gray.0" data-testid="sender-preview">
      <Stack gap="xs">
        <Select
          label="Preview for a contact"
          description="See From and Reply-To as this contact would."
          placeholder={noContacts ? 'No contacts yet' : 'Search contacts by name or address'}
          searchable
          clearable
          disabled={noContacts}
          data={options}
          value={contactId}
          searchValue={search}
          onSearchChange={setSearch}
          onChange={(value, option) => {
            setContactId(value);
            setChosenLabel(option?.label ?? null);
          }}
          nothingFoundMessage={contacts.isFetching ? 'Searching…' : 'No contact matches'}
          filter={({ options: all }) => all}
        />
        <div aria-live="polite" style={{ minHeight: 48 }}>
          {noContacts ? (
            <Text size="sm" c="dimmed">
              Once your organisation has contacts, pick one to see the sender they would get.
            </Text>
          ) : !contactId ? (
            <Text size="sm" c="dimmed">
              Pick a contact to see the sender they would get.
            </Text>
          ) : !sender.email ? (
            <Text size="sm" c="dimmed">
              Enter the email address first.
            </Text>
          ) : previewError ? (
            <Text size="sm" c="red.8">
              {previewError}
            </Text>
          ) : preview.data ? (
            <Stack gap={4} style={{ opacity: preview.isFetching ? 0.6 : 1 }}>
              <NamedAddress label="From" value={preview.data.from} />
              <NamedAddress label="Reply-To" value={preview.data.replyTo} />
            </Stack>
          ) : (
            <Stack gap={6}>
              <Skeleton h={18} w="70%" />
              <Skeleton h={18} w="60%" />
            </Stack>
          )}
        </div>
      </Stack>
    </Card>
  );
}
