import { UsageError, type CliIo } from './io.ts';
import { withContainer } from './with-container.ts';

const accountActions = {
  'reset-sending': 'resetAccountSending',
  'clear-errors': 'clearAccountErrors',
} as const;

const messageActions = {
  cancel: 'cancel',
  'reset-sending': 'resetSending',
  'clear-error': 'clearError',
} as const;

/** `mailroom outbox reset-sending|clear-errors ACCOUNT_ID`: prints how many messages moved. */
export async function outboxCommand(args: string[], io: CliIo): Promise<number> {
  const [action, accountId, ...extra] = args;
  if (!action || !(action in accountActions) || !accountId || extra.length > 0) {
    throw new UsageError('usage: mailroom outbox reset-sending|clear-errors ACCOUNT_ID');
  }
  const count = await withContainer(io, async ({ services }) => {
    const operator = await services.messages.operatorFor({ accountId });
    return services.messages[accountActions[action as keyof typeof accountActions]](operator, accountId);
  });
  io.stdout.write(`${count} message(s) moved\n`);
  return 0;
}

/** `mailroom message cancel|reset-sending|clear-error MESSAGE_ID`: prints the new status. */
export async function messageCommand(args: string[], io: CliIo): Promise<number> {
  const [action, messageId, ...extra] = args;
  if (!action || !(action in messageActions) || !messageId || extra.length > 0) {
    throw new UsageError('usage: mailroom message cancel|reset-sending|clear-error MESSAGE_ID');
  }
  const message = await withContainer(io, async ({ services }) => {
    const operator = await services.messages.operatorFor({ messageId });
    return services.messages[messageActions[action as keyof typeof messageActions]](operator, messageId);
  });
  io.stdout.write(`${message.id} ${message.status}\n`);
  return 0;
}
