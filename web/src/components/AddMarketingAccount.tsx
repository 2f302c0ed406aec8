import { Alert, Button, Group, Modal, SegmentedControl, Stack, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api.ts';
import { errorText } from './ErrorNotice.tsx';

const shownFields = ['name', 'email', 'displayName', 'scope'];

/**
 * A marketing account: a sending identity on the platform's relay, which waits for an admin's
 * approval. (Own accounts, with their servers, get the add-account wizard.)
 */
export function AddMarketingAccount({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [values, setValues] = useState({ name: '', email: '', displayName: '', scope: 'team' });
  const create = useMutation({
    mutationFn: () =>
      api.createAccount({
        type: 'marketing',
        scope: values.scope as 'team' | 'personal',
        name: values.name,
        email: values.email,
        displayName: values.displayName,
      }),
    onSuccess: async (account) => {
      await queryClient.invalidateQueries({ queryKey: ['accounts'] });
      notifications.show({
        color: 'teal',
        title: 'Account added',
        message: `${account.name} waits for an administrator's approval before it can send.`,
      });
      setValues({ name: '', email: '', displayName: '', scope: 'team' });
      create.reset();
      onClose();
    },
  });
  const error = create.error;
  const fieldError = (field: string) => (error instanceof ApiError ? error.fields[field] : undefined);
  const general = !error
    ? null
    : !(error instanceof ApiError)
      ? errorText(error)
      : Object.keys(error.fields).every((field) => shownFields.includes(field)) &&
          Object.keys(error.fields).length > 0
        ? null
        : error.message;
  const change = (field: keyof typeof values) => (event: { currentTarget: { value: string } }) => {
    const value = event.currentTarget.value;
    setValues((current) => ({ ...current, [field]: value }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };

  return (
    <Modal opened={opened} onClose={onClose} title="Add a marketing account" centered>
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm" c="dimmed">
            Marketing mail goes out through the platform&apos;s relay, signed for your domain. An
            administrator checks the sending domain and approves the account before it can send.
          </Text>
          {general && (
            <Alert color="red" role="alert">
              {general}
            </Alert>
          )}
          <TextInput
            label="Account name"
            description="How it appears in lists"
            required
            data-autofocus
            value={values.name}
            onChange={change('name')}
            error={fieldError('name')}
          />
          <TextInput
            label="Email address"
            type="email"
            required
            value={values.email}
            onChange={change('email')}
            error={fieldError('email')}
          />
          <TextInput
            label="Display name"
            description="Shown to recipients as the sender"
            value={values.displayName}
            onChange={change('displayName')}
            error={fieldError('displayName')}
          />
          <Stack gap={4}>
            <Text size="sm" fw={500} id="scope-label">
              Who may send from it
            </Text>
            <SegmentedControl
              aria-labelledby="scope-label"
              value={values.scope}
              onChange={(scope) => setValues((current) => ({ ...current, scope }))}
              data={[
                { value: 'team', label: 'Everyone (team)' },
                { value: 'personal', label: 'Only me' },
              ]}
            />
          </Stack>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={create.isPending}>
              Add account
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
