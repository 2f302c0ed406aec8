import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  NumberInput,
  Select,
  SimpleGrid,
  Skeleton,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconListDetails, IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import {
  api,
  ApiError,
  type EventType,
  type Rule,
  type RuleAction,
  type RuleConditions,
  type RuleInput,
} from '../api.ts';
import { ConfirmDelete } from '../components/ConfirmDelete.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice, errorText } from '../components/ErrorNotice.tsx';
import { formatDateTime } from '../format.ts';

/** Every trigger, in the words a person would use. */
export const eventTypeLabels: Record<EventType, string> = {
  'email.received': 'Email received',
  'email.sent': 'Email sent',
  'email.failed': 'Email failed',
  'email.bounced': 'Email bounced',
  'contact.faulty': 'Contact marked faulty',
  'contact.complained': 'Contact complained',
  'contact.reactivated': 'Contact reactivated',
  'contact.score_changed': 'Contact score changed',
  'contact.tags_changed': 'Contact tags changed',
  'account.created': 'Account added',
  'account.approved': 'Account approved',
  'account.rejected': 'Account rejected',
  'account.health_changed': 'Account health changed',
};
export const eventTypeOptions = Object.entries(eventTypeLabels).map(([value, label]) => ({ value, label }));

const actionLabels: Record<RuleAction['type'], string> = {
  add_score: 'Add to the score',
  add_tag: 'Add a tag',
  remove_tag: 'Remove a tag',
  alert: 'Alert people',
  webhook: 'Call a webhook',
};

function describeAction(action: RuleAction): string {
  switch (action.type) {
    case 'add_score':
      return action.amount >= 0
        ? `Add ${action.amount} to the score`
        : `Subtract ${-action.amount} from the score`;
    case 'add_tag':
      return `Tag “${action.tag}”`;
    case 'remove_tag':
      return `Remove tag “${action.tag}”`;
    case 'alert':
      return typeof action.to === 'string'
        ? 'Alert the contact’s owner'
        : 'userId' in action.to
          ? 'Alert a user'
          : 'Alert a team';
    case 'webhook':
      return 'Call a webhook';
  }
}

function describeConditions(conditions: RuleConditions): string[] {
  const parts: string[] = [];
  if (conditions.accountId) parts.push('on one account');
  if (conditions.subjectContains) parts.push(`subject contains “${conditions.subjectContains}”`);
  if (conditions.bodyContains) parts.push(`body contains “${conditions.bodyContains}”`);
  if (conditions.senderDomain) parts.push(`sender at ${conditions.senderDomain}`);
  if (conditions.contactHasTag) parts.push(`contact tagged “${conditions.contactHasTag}”`);
  if (conditions.scoreAbove !== undefined) parts.push(`score above ${conditions.scoreAbove}`);
  if (conditions.scoreBelow !== undefined) parts.push(`score below ${conditions.scoreBelow}`);
  return parts;
}

/** An action as the form holds it: every field a string, so inputs stay controlled. */
interface ActionDraft {
  type: RuleAction['type'];
  amount: number | string;
  tag: string;
  /** 'contact_owner', 'user:<id>' or 'team:<id>' */
  to: string;
  message: string;
  endpointId: string;
}

interface RuleDraft {
  name: string;
  trigger: EventType;
  enabled: boolean;
  accountId: string;
  subjectContains: string;
  bodyContains: string;
  senderDomain: string;
  contactHasTag: string;
  scoreAbove: number | string;
  scoreBelow: number | string;
  actions: ActionDraft[];
}

const blankAction = (): ActionDraft => ({
  type: 'add_score',
  amount: 10,
  tag: '',
  to: 'contact_owner',
  message: '',
  endpointId: '',
});

function toDraft(rule: Rule | null): RuleDraft {
  const conditions = rule?.conditions ?? {};
  return {
    name: rule?.name ?? '',
    trigger: rule?.trigger ?? 'email.received',
    enabled: rule?.enabled ?? true,
    accountId: conditions.accountId ?? '',
    subjectContains: conditions.subjectContains ?? '',
    bodyContains: conditions.bodyContains ?? '',
    senderDomain: conditions.senderDomain ?? '',
    contactHasTag: conditions.contactHasTag ?? '',
    scoreAbove: conditions.scoreAbove ?? '',
    scoreBelow: conditions.scoreBelow ?? '',
    actions: (rule?.actions ?? [blankAction()]).map((action) => {
      const draft = blankAction();
      draft.type = action.type;
      if (action.type === 'add_score') draft.amount = action.amount;
      if (action.type === 'add_tag' || action.type === 'remove_tag') draft.tag = action.tag;
      if (action.type === 'alert') {
        draft.to =
          typeof action.to === 'string'
            ? 'contact_owner'
            : 'userId' in action.to
              ? `user:${action.to.userId}`
              : `team:${action.to.teamId}`;
        draft.message = action.message ?? '';
      }
      if (action.type === 'webhook') draft.endpointId = action.endpointId;
      return draft;
    }),
  };
}

function toAction(draft: ActionDraft): RuleAction {
  switch (draft.type) {
    case 'add_score':
      return { type: 'add_score', amount: Number(draft.amount) };
    case 'add_tag':
    case 'remove_tag':
      return { type: draft.type, tag: draft.tag.trim() };
    case 'alert': {
      const [kind, id] = draft.to.split(':');
      const to =
        kind === 'user' ? { userId: id! } : kind === 'team' ? { teamId: id! } : ('contact_owner' as const);
      return { type: 'alert', to, ...(draft.message.trim() && { message: draft.message.trim() }) };
    }
    case 'webhook':
      return { type: 'webhook', endpointId: draft.endpointId };
  }
}

function toInput(draft: RuleDraft): RuleInput {
  const text = (value: string) => (value.trim() ? value.trim() : undefined);
  const number = (value: number | string) => (value === '' ? undefined : Number(value));
  const conditions: RuleConditions = {
    accountId: text(draft.accountId),
    subjectContains: text(draft.subjectContains),
    bodyContains: text(draft.bodyContains),
    senderDomain: text(draft.senderDomain),
    contactHasTag: text(draft.contactHasTag),
    scoreAbove: number(draft.scoreAbove),
    scoreBelow: number(draft.scoreBelow),
  };
  return {
    name: draft.name.trim(),
    trigger: draft.trigger,
    enabled: draft.enabled,
    conditions: Object.fromEntries(
      Object.entries(conditions).filter(([, value]) => value !== undefined),
    ) as RuleConditions,
    actions: draft.actions.map(toAction),
  };
}

function ActionFields({
  index,
  action,
  onChange,
  onRemove,
  errors,
  targets,
  endpoints,
}: {
  index: number;
  action: ActionDraft;
  onChange: (next: ActionDraft) => void;
  onRemove?: () => void;
  errors: (path: string) => string | undefined;
  targets: { value: string; label: string }[];
  endpoints: { value: string; label: string }[];
}) {
  const at = `actions.${index}`;
  const set = (change: Partial<ActionDraft>) => onChange({ ...action, ...change });
  return (
    <Card withBorder padding="sm" component="fieldset" aria-label={`Action ${index + 1}`}>
      <Stack gap="xs">
        <Group align="flex-end" wrap="wrap" gap="sm">
          <Select
            label="Do"
            data={Object.entries(actionLabels).map(([value, label]) => ({ value, label }))}
            value={action.type}
            onChange={(value) => value && set({ type: value as RuleAction['type'] })}
            allowDeselect={false}
            error={errors(`${at}.type`)}
            w={200}
          />
          {action.type === 'add_score' && (
            <NumberInput
              label="Points"
              description="Negative to subtract"
              value={action.amount}
              onChange={(value) => set({ amount: value })}
              allowDecimal={false}
              error={errors(`${at}.amount`)}
              w={140}
            />
          )}
          {(action.type === 'add_tag' || action.type === 'remove_tag') && (
            <TextInput
              label="Tag"
              value={action.tag}
              onChange={(event) => set({ tag: event.currentTarget.value })}
              error={errors(`${at}.tag`)}
              w={200}
            />
          )}
          {action.type === 'alert' && (
            <Select
              label="Who"
              data={targets}
              value={action.to}
              onChange={(value) => value && set({ to: value })}
              allowDeselect={false}
              searchable
              error={errors(`${at}.to`) ?? errors(`${at}.to.userId`) ?? errors(`${at}.to.teamId`)}
              w={240}
            />
          )}
          {action.type === 'webhook' && (
            <Select
              label="Endpoint"
              placeholder={endpoints.length === 0 ? 'Add a webhook first' : 'Choose'}
              data={endpoints}
              value={action.endpointId || null}
              onChange={(value) => set({ endpointId: value ?? '' })}
              error={errors(`${at}.endpointId`)}
              w={280}
            />
          )}
          {onRemove && (
            <ActionIcon
              variant="subtle"
              color="red"
              onClick={onRemove}
              aria-label={`Remove action ${index + 1}`}
              mb={4}
            >
              <IconTrash size={16} aria-hidden />
            </ActionIcon>
          )}
        </Group>
        {action.type === 'alert' && (
          <TextInput
            label="Message"
            description="Optional; by default the alert says what happened"
            value={action.message}
            onChange={(event) => set({ message: event.currentTarget.value })}
            error={errors(`${at}.message`)}
          />
        )}
      </Stack>
    </Card>
  );
}

function RuleEditor({ rule, opened, onClose }: { rule: Rule | null; opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<RuleDraft>(() => toDraft(rule));
  const users = useQuery({ queryKey: ['users'], queryFn: api.users, enabled: opened });
  const teams = useQuery({ queryKey: ['teams'], queryFn: api.teams, enabled: opened });
  const endpoints = useQuery({ queryKey: ['webhooks'], queryFn: api.webhooks, enabled: opened });
  const accounts = useQuery({
    queryKey: ['accounts', 'for-rules'],
    queryFn: () => api.accounts({ pageSize: 200 }),
    enabled: opened,
  });
  const save = useMutation({
    mutationFn: (input: RuleInput) => (rule ? api.updateRule(rule.id, input) : api.createRule(input)),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['rules'] });
      notifications.show({ color: 'teal', title: 'Rule saved', message: `“${draft.name}” is saved.` });
      onClose();
    },
  });
  const fields = save.error instanceof ApiError ? save.error.fields : {};
  const errors = (path: string) => fields[path];
  const set = (change: Partial<RuleDraft>) => setDraft((current) => ({ ...current, ...change }));
  const targets = [
    { value: 'contact_owner', label: 'The contact’s owner' },
    ...(users.data?.items ?? []).map((user) => ({
      value: `user:${user.id}`,
      label: `${user.name} (${user.email})`,
    })),
    ...(teams.data?.items ?? []).map((team) => ({ value: `team:${team.id}`, label: `Team ${team.name}` })),
  ];
  const endpointOptions = (endpoints.data?.items ?? []).map((endpoint) => ({
    value: endpoint.id,
    label: endpoint.url,
  }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(toInput(draft));
  };
  return (
    <Modal opened={opened} onClose={onClose} title={rule ? `Edit “${rule.name}”` : 'New rule'} size="xl">
      <form onSubmit={submit} noValidate>
        <Stack>
          <TextInput
            label="Name"
            required
            data-autofocus
            value={draft.name}
            onChange={(event) => set({ name: event.currentTarget.value })}
            error={errors('name')}
          />
          <Select
            label="When"
            data={eventTypeOptions}
            value={draft.trigger}
            onChange={(value) => value && set({ trigger: value as EventType })}
            allowDeselect={false}
            error={errors('trigger')}
          />
          <Title order={3} size="h5">
            Only if (leave empty to skip a condition)
          </Title>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Select
              label="Account"
              placeholder="Any account"
              clearable
              data={(accounts.data?.items ?? []).map((account) => ({
                value: account.id,
                label: `${account.name} (${account.email})`,
              }))}
              value={draft.accountId || null}
              onChange={(value) => set({ accountId: value ?? '' })}
              error={errors('conditions.accountId')}
            />
            <TextInput
              label="Sender’s domain"
              placeholder="customer.com"
              value={draft.senderDomain}
              onChange={(event) => set({ senderDomain: event.currentTarget.value })}
              error={errors('conditions.senderDomain')}
            />
            <TextInput
              label="Subject contains"
              value={draft.subjectContains}
              onChange={(event) => set({ subjectContains: event.currentTarget.value })}
              error={errors('conditions.subjectContains')}
            />
            <TextInput
              label="Body contains"
              value={draft.bodyContains}
              onChange={(event) => set({ bodyContains: event.currentTarget.value })}
              error={errors('conditions.bodyContains')}
            />
            <TextInput
              label="Contact has tag"
              value={draft.contactHasTag}
              onChange={(event) => set({ contactHasTag: event.currentTarget.value })}
              error={errors('conditions.contactHasTag')}
            />
            <Group grow gap="sm">
              <NumberInput
                label="Score above"
                value={draft.scoreAbove}
                onChange={(value) => set({ scoreAbove: value })}
                allowDecimal={false}
                error={errors('conditions.scoreAbove')}
              />
              <NumberInput
                label="Score below"
                value={draft.scoreBelow}
                onChange={(value) => set({ scoreBelow: value })}
                allowDecimal={false}
                error={errors('conditions.scoreBelow')}
              />
            </Group>
          </SimpleGrid>
          <Title order={3} size="h5">
            Then, in order
          </Title>
          {draft.actions.map((action, index) => (
            <ActionFields
              key={index}
              index={index}
              action={action}
              errors={errors}
              targets={targets}
              endpoints={endpointOptions}
              onChange={(next) =>
                set({ actions: draft.actions.map((current, at) => (at === index ? next : current)) })
              }
              {...(draft.actions.length > 1 && {
                onRemove: () => set({ actions: draft.actions.filter((_, at) => at !== index) }),
              })}
            />
          ))}
          {errors('actions') && (
            <Text c="red" size="sm">
              {errors('actions')}
            </Text>
          )}
          <Group justify="space-between" wrap="wrap">
            <Button
              variant="light"
              leftSection={<IconPlus size={16} aria-hidden />}
              onClick={() => set({ actions: [...draft.actions, blankAction()] })}
              disabled={draft.actions.length >= 10}
            >
              Add an action
            </Button>
            <Switch
              label="Enabled"
              checked={draft.enabled}
              onChange={(event) => set({ enabled: event.currentTarget.checked })}
            />
          </Group>
          {save.error && !(save.error instanceof ApiError && Object.keys(fields).length > 0) && (
            <ErrorNotice error={save.error} />
          )}
          {save.error instanceof ApiError && Object.keys(fields).length > 0 && (
            <Text c="red" size="sm" role="alert">
              {save.error.message}
            </Text>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Save rule
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

const runColour: Record<string, string> = { done: 'teal', pending: 'yellow', skipped: 'gray', failed: 'red' };

function RunsLog({ rule, onClose }: { rule: Rule | null; onClose: () => void }) {
  const runs = useQuery({
    queryKey: ['rule-runs', rule?.id],
    queryFn: () => api.ruleRuns(rule!.id),
    enabled: rule !== null,
  });
  return (
    <Modal opened={rule !== null} onClose={onClose} title={`Runs of “${rule?.name ?? ''}”`} size="xl">
      {runs.isPending ? (
        <Stack gap="xs" aria-busy aria-label="Loading the runs">
          <Skeleton h={28} />
          <Skeleton h={28} />
        </Stack>
      ) : runs.isError ? (
        <ErrorNotice error={runs.error} onRetry={() => void runs.refetch()} />
      ) : runs.data.items.length === 0 ? (
        <EmptyState title="No runs yet">The rule runs when its event next happens.</EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={560}>
          <Table verticalSpacing="xs" aria-label="Runs, newest first">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {runs.data.items.map((run) => (
                <Table.Tr key={run.id} data-testid="rule-run">
                  <Table.Td>{formatDateTime(run.createdAt)}</Table.Td>
                  <Table.Td>
                    <Badge color={runColour[run.status] ?? 'gray'} variant="light">
                      {run.status}
                    </Badge>
                    {run.status === 'pending' && run.nextAttemptAt && (
                      <Text size="xs" c="dimmed">
                        retry {formatDateTime(run.nextAttemptAt)} (attempt {run.attempts + 1})
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Stack gap={2}>
                      {run.actions.map((result, index) => (
                        <Text key={index} size="sm">
                          <Badge size="xs" color={runColour[result.status] ?? 'gray'} variant="dot" mr={6}>
                            {result.status}
                          </Badge>
                          {actionLabels[result.type as RuleAction['type']] ?? result.type}
                          {result.detail ? `: ${result.detail}` : ''}
                        </Text>
                      ))}
                    </Stack>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Modal>
  );
}

export function RulesPanel({ canEdit }: { canEdit: boolean }) {
  const queryClient = useQueryClient();
  const rules = useQuery({ queryKey: ['rules'], queryFn: api.rules });
  const [editing, setEditing] = useState<{ rule: Rule | null } | null>(null);
  const [logOf, setLogOf] = useState<Rule | null>(null);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const toggle = useMutation({
    mutationFn: (rule: Rule) => api.updateRule(rule.id, { enabled: !rule.enabled }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['rules'] }),
    onError: (error) => notifications.show({ color: 'red', title: 'Not changed', message: errorText(error) }),
  });
  const remove = useMutation({
    mutationFn: (rule: Rule) => api.deleteRule(rule.id),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['rules'] });
      setDeleting(null);
    },
    onError: (error) => notifications.show({ color: 'red', title: 'Not deleted', message: errorText(error) }),
  });

  return (
    <Stack gap="md">
      {canEdit && (
        <Group justify="flex-end">
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setEditing({ rule: null })}>
            New rule
          </Button>
        </Group>
      )}
      {rules.isPending ? (
        <Stack gap="sm" aria-busy aria-label="Loading the rules">
          <Skeleton h={88} />
          <Skeleton h={88} />
        </Stack>
      ) : rules.isError ? (
        <ErrorNotice error={rules.error} onRetry={() => void rules.refetch()} />
      ) : rules.data.items.length === 0 ? (
        <EmptyState title="No rules yet">
          {canEdit
            ? 'Add one, such as: when an email is received from a contact, add 10 to the score and alert the contact’s owner.'
            : 'An admin of your organisation adds them.'}
        </EmptyState>
      ) : (
        <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }}>
          {rules.data.items.map((rule) => {
            const conditions = describeConditions(rule.conditions);
            return (
              <Card withBorder component="li" key={rule.id} data-testid="rule">
                <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
                  <Stack gap={4} style={{ minWidth: 0, flex: 1 }}>
                    <Group gap="xs">
                      <Title order={2} size="h4">
                        {rule.name}
                      </Title>
                      {!rule.enabled && (
                        <Badge color="gray" variant="light">
                          Off
                        </Badge>
                      )}
                    </Group>
                    <Text size="sm">
                      When <strong>{eventTypeLabels[rule.trigger]}</strong>
                      {conditions.length > 0 ? `, if ${conditions.join(' and ')}` : ''}:{' '}
                      {rule.actions.map(describeAction).join(', then ')}.
                    </Text>
                  </Stack>
                  <Group gap="xs">
                    {canEdit && (
                      <Switch
                        checked={rule.enabled}
                        onChange={() => toggle.mutate(rule)}
                        aria-label={`${rule.enabled ? 'Turn off' : 'Turn on'} ${rule.name}`}
                      />
                    )}
                    <Button
                      variant="default"
                      size="xs"
                      leftSection={<IconListDetails size={14} aria-hidden />}
                      onClick={() => setLogOf(rule)}
                      aria-label={`Runs of ${rule.name}`}
                    >
                      Runs
                    </Button>
                    {canEdit && (
                      <>
                        <ActionIcon
                          variant="subtle"
                          onClick={() => setEditing({ rule })}
                          aria-label={`Edit ${rule.name}`}
                        >
                          <IconPencil size={16} aria-hidden />
                        </ActionIcon>
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          onClick={() => setDeleting(rule)}
                          aria-label={`Delete ${rule.name}`}
                        >
                          <IconTrash size={16} aria-hidden />
                        </ActionIcon>
                      </>
                    )}
                  </Group>
                </Group>
              </Card>
            );
          })}
        </Stack>
      )}
      {editing && (
        <RuleEditor
          key={editing.rule?.id ?? 'new'}
          rule={editing.rule}
          opened
          onClose={() => setEditing(null)}
        />
      )}
      <RunsLog rule={logOf} onClose={() => setLogOf(null)} />
      <ConfirmDelete
        opened={deleting !== null}
        title="Delete this rule?"
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
        pending={remove.isPending}
      >
        “{deleting?.name}” and its log of runs are deleted. What it already did (scores, tags, alerts) stays.
      </ConfirmDelete>
    </Stack>
  );
}
