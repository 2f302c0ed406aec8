import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Skeleton,
  Stack,
  Table,
  Text,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconAlertTriangle, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { api, type ApiToken, type TokenScope } from '../api.ts';
import { ConfirmDelete } from '../components/ConfirmDelete.tsx';
import { CreateApiToken } from '../components/CreateApiToken.tsx';
import { Day } from '../components/Day.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { SecretValue } from '../components/SecretValue.tsx';
import { formatDate, formatDateTime } from '../format.ts';
import { useSession } from '../session.ts';

const scopeColour: Record<TokenScope, string> = { read: 'gray', send: 'indigo', admin: 'orange' };

function ScopeBadge({ scope }: { scope: TokenScope }) {
  return (
    <Badge size="sm" variant="light" color={scopeColour[scope]} data-testid="token-scope">
      {scope}
    </Badge>
  );
}

/** When a token stops working; `asOf`, when the list was fetched, decides which have already. */
function Expiry({ expiresAt, asOf }: { expiresAt: string | null; asOf: number }) {
  if (!expiresAt) return <Text size="sm">Never</Text>;
  if (Date.parse(expiresAt) <= asOf) {
    return (
      <Badge size="sm" variant="light" color="red" title={formatDateTime(expiresAt)}>
        Expired {formatDate(expiresAt)}
      </Badge>
    );
  }
  return <Day iso={expiresAt} />;
}

function RevokeButton({ token, onRevoke }: { token: ApiToken; onRevoke: (token: ApiToken) => void }) {
  return (
    <Button
      variant="subtle"
      color="red"
      size="xs"
      leftSection={<IconTrash size={14} aria-hidden />}
      onClick={() => onRevoke(token)}
      aria-label={`Revoke ${token.name}`}
    >
      Revoke
    </Button>
  );
}

function TokenName({ token }: { token: ApiToken }) {
  return (
    <Stack gap={0} style={{ minWidth: 0 }}>
      <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
        {token.name}
      </Text>
      <Text size="xs" c="dimmed" title="The first characters of the token, to tell tokens apart">
        {token.prefix}…
      </Text>
    </Stack>
  );
}

interface ListProps {
  tokens: ApiToken[];
  /** When the list was fetched: a token whose expiry lies before it has expired. */
  asOf: number;
  onRevoke: (token: ApiToken) => void;
}

function TokensTable({ tokens, asOf, onRevoke }: ListProps) {
  return (
    <Table.ScrollContainer minWidth={760} type="native">
      <Table verticalSpacing="xs" horizontalSpacing="sm" aria-label="API tokens">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th w={90}>Scope</Table.Th>
            <Table.Th w={130}>Created</Table.Th>
            <Table.Th w={150}>Expires</Table.Th>
            <Table.Th w={170}>Last used</Table.Th>
            <Table.Th w={110}>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {tokens.map((token) => (
            <Table.Tr key={token.id} data-testid="api-token">
              <Table.Td style={{ maxWidth: 320 }}>
                <TokenName token={token} />
              </Table.Td>
              <Table.Td>
                <ScopeBadge scope={token.scope} />
              </Table.Td>
              <Table.Td>
                <Day iso={token.createdAt} />
              </Table.Td>
              <Table.Td>
                <Expiry expiresAt={token.expiresAt} asOf={asOf} />
              </Table.Td>
              <Table.Td>
                <Text size="sm" c={token.lastUsedAt ? undefined : 'dimmed'}>
                  {token.lastUsedAt ? formatDateTime(token.lastUsedAt) : 'Never used'}
                </Text>
              </Table.Td>
              <Table.Td ta="right">
                <RevokeButton token={token} onRevoke={onRevoke} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function TokenCards({ tokens, asOf, onRevoke }: ListProps) {
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label="API tokens">
      {tokens.map((token) => (
        <Card key={token.id} withBorder component="li" padding="sm" data-testid="api-token">
          <Group justify="space-between" wrap="nowrap" align="flex-start">
            <TokenName token={token} />
            <ScopeBadge scope={token.scope} />
          </Group>
          <Text size="xs" c="dimmed" mt={6}>
            Created {formatDate(token.createdAt)} ·{' '}
            {!token.expiresAt
              ? 'never expires'
              : Date.parse(token.expiresAt) <= asOf
                ? `expired ${formatDate(token.expiresAt)}`
                : `expires ${formatDate(token.expiresAt)}`}{' '}
            · last used {token.lastUsedAt ? formatDateTime(token.lastUsedAt) : 'never'}
          </Text>
          <Group justify="flex-end" mt={4}>
            <RevokeButton token={token} onRevoke={onRevoke} />
          </Group>
        </Card>
      ))}
    </Stack>
  );
}

/**
 * The secret of the token just made, shown this once in the page (never in the address, storage
 * or a log). Keyboard focus moves here, so a screen reader reads it out.
 */
function NewTokenSecret({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => box.current?.focus(), []);
  return (
    <Alert
      ref={box}
      tabIndex={-1}
      color="yellow"
      variant="outline"
      icon={<IconAlertTriangle aria-hidden />}
      title={`Copy the token “${name}” now`}
      aria-label={`The new token ${name}`}
      data-testid="new-token"
      styles={{ title: { color: 'var(--mantine-color-text)' } }}
    >
      <Stack gap="sm">
        <Text size="sm">
          It will not be shown again: Mailroom keeps only a hash of it. Send it as{' '}
          <Code>Authorization: Bearer …</Code>. If you lose it, revoke it and create another.
        </Text>
        <SecretValue secret={secret} testId="token-secret" doneLabel="I have copied it" onDone={onDone} />
      </Stack>
    </Alert>
  );
}

/** Your API tokens: what each may do and until when, a new one (its secret shown once), revoking. */
export function ApiTokensPage() {
  const queryClient = useQueryClient();
  const session = useSession();
  const tokens = useQuery({ queryKey: ['api-tokens'], queryFn: api.apiTokens });
  const narrow = useMediaQuery('(max-width: 48em)');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const createButton = useRef<HTMLButtonElement>(null);
  const revoke = useMutation({
    mutationFn: (token: ApiToken) => api.revokeApiToken(token.id),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['api-tokens'] });
      setRevoking(null);
    },
  });

  useEffect(() => {
    document.title = 'API tokens · Mailroom';
  }, []);

  const items = tokens.data?.items ?? [];

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end" wrap="wrap">
        <Stack gap={2} maw={640}>
          <Title order={1} size="h2">
            API tokens
          </Title>
          <Text c="dimmed" size="sm">
            A token lets a script or another system, such as your CRM, call the Mailroom API as you, as far as
            its scope allows. Make one for each, so each can be revoked on its own.
          </Text>
        </Stack>
        <Button
          ref={createButton}
          leftSection={<IconPlus size={16} aria-hidden />}
          onClick={() => setCreating(true)}
        >
          Create token
        </Button>
      </Group>

      {created && (
        <NewTokenSecret
          name={created.name}
          secret={created.secret}
          onDone={() => {
            setCreated(null);
            createButton.current?.focus();
          }}
        />
      )}

      {tokens.isPending ? (
        <Stack gap="sm" aria-busy aria-label="Loading your API tokens">
          <Skeleton h={48} />
          <Skeleton h={48} />
        </Stack>
      ) : tokens.isError ? (
        <ErrorNotice error={tokens.error} onRetry={() => void tokens.refetch()} />
      ) : items.length === 0 ? (
        <Card withBorder>
          <EmptyState title="No API tokens yet">
            Create one for each script or system that is to call the Mailroom API.
          </EmptyState>
        </Card>
      ) : (
        <Card withBorder padding={narrow ? 'xs' : 0}>
          {narrow ? (
            <TokenCards tokens={items} asOf={tokens.dataUpdatedAt} onRevoke={setRevoking} />
          ) : (
            <TokensTable tokens={items} asOf={tokens.dataUpdatedAt} onRevoke={setRevoking} />
          )}
        </Card>
      )}

      <CreateApiToken
        opened={creating}
        role={session.data?.user.role ?? 'member'}
        // After a token is made, focus goes to its secret rather than back to the button.
        returnFocus={created === null}
        onClose={() => setCreating(false)}
        onCreated={(secret, name) => {
          setCreated({ name, secret });
          setCreating(false);
        }}
      />
      <ConfirmDelete
        opened={revoking !== null}
        title="Revoke this token?"
        confirmLabel="Revoke"
        onCancel={() => {
          revoke.reset();
          setRevoking(null);
        }}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        pending={revoke.isPending}
        error={revoke.error}
      >
        {revoking?.name} ({revoking?.prefix}…) stops working at once: whatever uses it is refused from now on.
        This cannot be undone.
      </ConfirmDelete>
    </Stack>
  );
}
