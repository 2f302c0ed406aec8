import { ActionIcon, Box, Button, Group, Menu, Modal, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconDots, IconPlayerPlay, IconRotateClockwise, IconX } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, type Message } from '../api.ts';
import { ErrorNotice, errorText } from './ErrorNotice.tsx';

export type MessageAction = 'cancel' | 'reset-sending' | 'clear-error';

/** The actions the API allows on a message in its present state. */
export function actionsFor(message: Pick<Message, 'direction' | 'status'>): MessageAction[] {
  if (message.direction !== 'out') return [];
  const actions: MessageAction[] = [];
  if (message.status === 'error') actions.push('clear-error');
  if (message.status === 'sending' || message.status === 'uncertain') actions.push('reset-sending');
  if (message.status === 'ready' || message.status === 'error' || message.status === 'uncertain') {
    actions.push('cancel');
  }
  return actions;
}

const words: Record<MessageAction, { menu: string; done: string; said: string }> = {
  'clear-error': {
    menu: 'Retry (clear the error)',
    done: 'Retrying',
    said: 'The message is ready to send again; the worker sends it shortly.',
  },
  'reset-sending': {
    menu: 'Send again (reset sending)',
    done: 'Ready to send again',
    said: 'The message goes back in the queue. Check first that it did not arrive already.',
  },
  cancel: { menu: 'Cancel sending…', done: 'Cancelled', said: 'The message will not be sent.' },
};

function useMessageAction(message: Pick<Message, 'id' | 'subject'>, onDone?: () => void) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (action: MessageAction) =>
      action === 'cancel'
        ? api.cancelMessage(message.id)
        : action === 'reset-sending'
          ? api.resetMessageSending(message.id)
          : api.clearMessageError(message.id),
    onSuccess: async (_, action) => {
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ['messages'] }),
        queryClient.invalidateQueries({ queryKey: ['message', message.id] }),
      ]);
      notifications.show({ color: 'teal', title: words[action].done, message: words[action].said });
      onDone?.();
    },
  });
}

function ConfirmCancel({
  message,
  opened,
  onClose,
}: {
  message: Pick<Message, 'id' | 'subject'>;
  opened: boolean;
  onClose: () => void;
}) {
  const act = useMessageAction(message, onClose);
  return (
    <Modal
      opened={opened}
      onClose={() => {
        act.reset();
        onClose();
      }}
      title="Cancel this message?"
      centered
    >
      <Stack>
        <Text size="sm">
          <strong>{message.subject || '(no subject)'}</strong> will not be sent. This cannot be undone; to
          send it later, write it again.
        </Text>
        {act.error && <ErrorNotice error={act.error} title="Not cancelled" />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Keep it
          </Button>
          <Button color="red" loading={act.isPending} onClick={() => act.mutate('cancel')}>
            Cancel message
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** A row's menu of actions; an empty box of the same size when there are none, so rows line up. */
export function MessageActionsMenu({
  message,
}: {
  message: Pick<Message, 'id' | 'subject' | 'direction' | 'status'>;
}) {
  const [confirming, setConfirming] = useState(false);
  const act = useMessageAction(message);
  const actions = actionsFor(message);
  if (actions.length === 0) return <Box w={28} h={28} aria-hidden />;
  const run = (action: MessageAction) => {
    if (action === 'cancel') setConfirming(true);
    else
      act.mutate(action, {
        onError: (error) =>
          notifications.show({ color: 'red', title: 'Not changed', message: errorText(error) }),
      });
  };
  return (
    <>
      <Menu position="bottom-end" withinPortal>
        <Menu.Target>
          <ActionIcon
            variant="subtle"
            color="gray"
            aria-label={`Actions for “${message.subject || '(no subject)'}”`}
            loading={act.isPending}
          >
            <IconDots size={18} aria-hidden />
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>
          {actions.map((action) => (
            <Menu.Item
              key={action}
              color={action === 'cancel' ? 'red' : undefined}
              leftSection={<ActionIcon18 action={action} />}
              onClick={() => run(action)}
            >
              {words[action].menu}
            </Menu.Item>
          ))}
        </Menu.Dropdown>
      </Menu>
      <ConfirmCancel message={message} opened={confirming} onClose={() => setConfirming(false)} />
    </>
  );
}

function ActionIcon18({ action }: { action: MessageAction }) {
  const Icon = action === 'cancel' ? IconX : action === 'clear-error' ? IconRotateClockwise : IconPlayerPlay;
  return <Icon size={16} aria-hidden />;
}

/** The same actions as buttons, for the message view. */
export function MessageActionButtons({
  message,
}: {
  message: Pick<Message, 'id' | 'subject' | 'direction' | 'status'>;
}) {
  const [confirming, setConfirming] = useState(false);
  const act = useMessageAction(message);
  const actions = actionsFor(message);
  if (actions.length === 0) return null;
  return (
    <Stack gap="xs">
      <Group gap="xs" wrap="wrap">
        {actions.map((action) => (
          <Button
            key={action}
            size="sm"
            variant={action === 'cancel' ? 'default' : 'light'}
            color={action === 'cancel' ? 'red' : undefined}
            leftSection={<ActionIcon18 action={action} />}
            loading={act.isPending && act.variables === action}
            onClick={() => (action === 'cancel' ? setConfirming(true) : act.mutate(action))}
          >
            {words[action].menu}
          </Button>
        ))}
      </Group>
      {act.error && <ErrorNotice error={act.error} title="Not changed" />}
      <ConfirmCancel message={message} opened={confirming} onClose={() => setConfirming(false)} />
    </Stack>
  );
}
