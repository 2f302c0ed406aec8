import { Button, Group, Modal, Radio, Select, Stack, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, type TokenScope } from '../api.ts';
import { formatDate } from '../format.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

const DAY_MS = 86_400_000;

const formFields = ['name', 'scope', 'expiresAt'];

const expiryOptions = [
  { value: 'never', label: 'Never' },
  { value: '30', label: 'In 30 days' },
  { value: '90', label: 'In 90 days' },
  { value: '365', label: 'In 1 year' },
  { value: 'date', label: 'On a date…' },
];

/** What each scope lets a token do, in the words the form shows beside it. */
function scopeWords(role: string): Record<TokenScope, { label: string; description: string }> {
  return {
    read: {
      label: 'Read',
      description: 'Only reads (GET requests): accounts, messages, contacts. It can change and send nothing.',
    },
    send: {
      label: 'Send',
      description: 'Reads, and queues messages to send (POST /api/messages and /api/messages/batch).',
    },
    admin: {
      label: 'Admin',
      description: `Everything you may do yourself (your role: ${role}), changing and deleting included.`,
    },
  };
}

/** A yyyy-mm-dd day in the reader's time zone, as a date input wants it. */
function dayInput(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/**
 * The moment the chosen expiry means, counted from `now`: null for never, undefined when the
 * chosen day is missing.
 */
function expiryOf(choice: string, day: string, now: number): string | null | undefined {
  if (choice === 'never') return null;
  if (choice === 'date') {
    // The token works through the whole of the chosen day, in the reader's time zone.
    const end = day ? new Date(`${day}T23:59:59`) : null;
    return end && !Number.isNaN(end.getTime()) ? end.toISOString() : undefined;
  }
  return new Date(now + Number(choice) * DAY_MS).toISOString();
}

/** What is missing or wrong in the form, field by field, and the expiry to send when nothing is. */
function checkForm(name: string, expiry: string, day: string) {
  const now = Date.now();
  const expiresAt = expiryOf(expiry, day, now);
  const problems: Record<string, string> = {};
  if (!name.trim()) problems.name = 'Give the token a name, such as what will use it.';
  if (expiresAt === undefined) problems.expiresAt = 'Choose the day it stops working.';
  else if (expiresAt !== null && Date.parse(expiresAt) <= now)
    problems.expiresAt = 'Choose a day after today.';
  return { problems, expiresAt };
}

/**
 * The form that makes an API token: a name, a scope (read unless the person picks more) and when
 * it stops working. The secret goes to `onCreated` and nowhere else: not the URL, storage or a log.
 */
export function CreateApiToken({
  opened,
  role,
  returnFocus,
  onClose,
  onCreated,
}: {
  opened: boolean;
  role: string;
  returnFocus: boolean;
  onClose: () => void;
  onCreated: (secret: string, name: string) => void;
}) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [scope, setScope] = useState<TokenScope>('read');
  const [expiry, setExpiry] = useState('90');
  const [day, setDay] = useState('');
  const [missing, setMissing] = useState<Record<string, string>>({});
  // When the form was first shown: enough to say on which day a preset expiry falls.
  const [shownAt] = useState(Date.now);
  const create = useMutation({
    mutationFn: (expiresAt: string | null) => api.createApiToken({ name: name.trim(), scope, expiresAt }),
    onSuccess: async (created) => {
      await queryClient.invalidateQueries({ queryKey: ['api-tokens'] });
      onCreated(created.secret, created.token.name);
      // Forget the answer: the secret lives only in the page's state until the person closes it.
      create.reset();
      setName('');
      setScope('read');
      setExpiry('90');
      setDay('');
    },
  });
  const apiFields = create.error instanceof ApiError ? create.error.fields : {};
  const fields = { ...apiFields, ...missing };
  // The API's words go on their field where the form has one, and above the buttons otherwise.
  const onAField = Object.keys(apiFields).some((key) => formFields.includes(key));
  const words = scopeWords(role);
  const expiresAt = expiryOf(expiry, day, shownAt);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const { problems, expiresAt: sent } = checkForm(name, expiry, day);
    setMissing(problems);
    if (Object.keys(problems).length === 0 && sent !== undefined) create.mutate(sent);
  };
  const close = () => {
    setMissing({});
    create.reset();
    onClose();
  };

  return (
    <Modal opened={opened} onClose={close} title="Create an API token" size="lg" returnFocus={returnFocus}>
      <form onSubmit={submit} noValidate>
        <Stack>
          <TextInput
            label="Name"
            description="What will use it, such as “CRM sync”; only you see it."
            required
            data-autofocus
            maxLength={200}
            value={name}
            onChange={(event) => {
              setName(event.currentTarget.value);
              setMissing(({ name: _, ...rest }) => rest);
            }}
            error={fields.name}
          />
          <Radio.Group
            label="Scope"
            description="Give it no more than what will use it needs."
            value={scope}
            onChange={(value) => setScope(value as TokenScope)}
            error={fields.scope}
          >
            <Stack gap="xs" mt={6}>
              {(['read', 'send', 'admin'] as const).map((value) => (
                <Radio
                  key={value}
                  value={value}
                  label={words[value].label}
                  description={words[value].description}
                />
              ))}
            </Stack>
          </Radio.Group>
          <Select
            label="Expires"
            data={expiryOptions}
            value={expiry}
            onChange={(value) => setExpiry(value ?? 'never')}
            allowDeselect={false}
            description={
              expiry === 'never'
                ? 'It works until you revoke it.'
                : expiresAt
                  ? `It stops working on ${formatDate(expiresAt)}.`
                  : 'It stops working at the end of the day you choose.'
            }
            error={expiry === 'date' ? undefined : fields.expiresAt}
          />
          {expiry === 'date' && (
            <TextInput
              type="date"
              label="Expiry date"
              required
              min={dayInput(new Date(shownAt + DAY_MS))}
              value={day}
              onChange={(event) => {
                setDay(event.currentTarget.value);
                setMissing(({ expiresAt: _, ...rest }) => rest);
              }}
              error={fields.expiresAt}
            />
          )}
          {create.error && !onAField && <ErrorNotice error={create.error} title="Not created" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Create token
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
