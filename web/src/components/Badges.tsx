import { Badge, Stack, Table, Text, Tooltip } from '@mantine/core';
import type { AccountStatus, Health } from '../api.ts';
import { formatDateTime, label } from '../format.ts';

const healthColour: Record<Health['state'], string> = {
  ok: 'teal',
  unknown: 'gray',
  paused: 'orange',
  password_required: 'yellow',
  auth_error: 'red',
  connect_error: 'red',
  tls_error: 'red',
  timeout: 'red',
};

/**
 * Sending or receiving health, with the server's last words and the last success on hover or
 * keyboard focus (and read out to screen readers).
 */
export function HealthBadge({ direction, health }: { direction: 'Sending' | 'Receiving'; health: Health }) {
  const details = [
    health.lastError ? `Last error: ${health.lastError}` : 'No error recorded',
    `Last success: ${health.lastOkAt ? formatDateTime(health.lastOkAt) : 'never'}`,
  ];
  return (
    <Tooltip
      multiline
      w={320}
      withArrow
      events={{ hover: true, focus: true, touch: true }}
      label={
        <Stack gap={2}>
          {details.map((line) => (
            <Text key={line} size="xs" style={{ overflowWrap: 'anywhere' }}>
              {line}
            </Text>
          ))}
        </Stack>
      }
    >
      <Badge
        tabIndex={0}
        size="sm"
        variant="light"
        color={healthColour[health.state]}
        aria-label={`${direction}: ${label(health.state)}. ${details.join('. ')}`}
        style={{ cursor: 'help', minWidth: 'max-content' }}
      >
        {label(health.state)}
      </Badge>
    </Tooltip>
  );
}

const statusColour: Record<AccountStatus, string> = {
  active: 'teal',
  pending_approval: 'yellow',
  rejected: 'red',
  disabled: 'gray',
};

export function StatusBadge({ status }: { status: AccountStatus }) {
  return (
    <Badge size="sm" variant="dot" color={statusColour[status]} style={{ minWidth: 'max-content' }}>
      {label(status)}
    </Badge>
  );
}

/** An account's status and its sending and receiving health, as three cells of a table row. */
export function AccountStateCells({
  account,
}: {
  account: { status: AccountStatus; health: { outgoing: Health; incoming: Health } };
}) {
  return (
    <>
      <Table.Td>
        <StatusBadge status={account.status} />
      </Table.Td>
      <Table.Td>
        <HealthBadge direction="Sending" health={account.health.outgoing} />
      </Table.Td>
      <Table.Td>
        <HealthBadge direction="Receiving" health={account.health.incoming} />
      </Table.Td>
    </>
  );
}
