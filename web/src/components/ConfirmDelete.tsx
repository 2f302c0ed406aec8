import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { ErrorNotice } from './ErrorNotice.tsx';

/** Asks before something is deleted for good: what goes, what stays, and the two choices. */
export function ConfirmDelete({
  opened,
  title,
  children,
  onCancel,
  onConfirm,
  pending,
  error,
  cancelLabel = 'Keep it',
  confirmLabel = 'Delete',
}: {
  opened: boolean;
  title: string;
  children: ReactNode;
  onCancel: () => void;
  onConfirm: () => void;
  pending: boolean;
  error?: unknown;
  cancelLabel?: string;
  confirmLabel?: string;
}) {
  return (
    <Modal opened={opened} onClose={onCancel} title={title} centered>
      <Stack>
        <Text size="sm">{children}</Text>
        {error ? <ErrorNotice error={error} title="Not deleted" /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel} data-autofocus>
            {cancelLabel}
          </Button>
          <Button color="red" loading={pending} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
