import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  List,
  Skeleton,
  Stack,
  Tabs,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconArrowLeft, IconDeviceFloppy, IconPlugConnected } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError, type Account } from '../api.ts';
import {
  fieldErrorsOf,
  formFromAccount,
  pagesFor,
  pageTitles,
  patchBody,
  savedSecretsOf,
  useAccountForm,
  type PageKey,
} from '../components/AccountFormModel.ts';
import { AccountFormPage, pageDescriptions } from '../components/AccountFormSections.tsx';
import { AccountOutboxControls } from '../components/AccountOutboxControls.tsx';
import { HealthBadge, StatusBadge } from '../components/Badges.tsx';
import { ConnectionTestResult } from '../components/ConnectionTestResult.tsx';
import { ErrorNotice, errorText } from '../components/ErrorNotice.tsx';
import { label } from '../format.ts';

function SettingsSkeleton() {
  return (
    <Stack gap="md" aria-busy data-testid="settings-loading">
      <Skeleton h={36} w={260} />
      <Skeleton h={22} w={340} />
      <Skeleton h={36} />
      <Card withBorder padding="lg">
        <Stack gap="md">
          {Array.from({ length: 6 }, (_, index) => (
            <Skeleton key={index} h={56} />
          ))}
        </Stack>
      </Card>
    </Stack>
  );
}

/** The tabs, once the account is here: one form over all of them, saved together. */
function AccountSettings({ account, tab }: { account: Account; tab: PageKey }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const form = useAccountForm(formFromAccount(account), savedSecretsOf(account));
  const [otherErrors, setOtherErrors] = useState<string[]>([]);
  const [errorPages, setErrorPages] = useState<PageKey[]>([]);
  const focusError = useRef(false);
  const panel = useRef<HTMLDivElement>(null);
  const pages = pagesFor(account.type);
  const active = pages.includes(tab) ? tab : 'general';

  useEffect(() => {
    if (!focusError.current) return;
    focusError.current = false;
    panel.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  });

  const openTab = (key: PageKey) =>
    void navigate(`/accounts/${account.id}/${key === 'general' ? '' : key}`.replace(/\/$/, ''), {
      replace: true,
    });

  const save = useMutation({
    mutationFn: () => api.updateAccount(account.id, patchBody(form.values)),
    onMutate: () => {
      form.setErrors({});
      setOtherErrors([]);
      setErrorPages([]);
    },
    onError: (error) => {
      const view = fieldErrorsOf(error);
      form.setErrors(view.byField);
      setOtherErrors(view.other);
      setErrorPages(view.pages);
      const first = pages.find((key) => view.pages.includes(key));
      if (first) {
        focusError.current = true;
        if (first !== active) openTab(first);
      }
    },
    onSuccess: async (saved) => {
      queryClient.setQueryData(['account', account.id], saved);
      form.reset(formFromAccount(saved));
      await queryClient.invalidateQueries({ queryKey: ['accounts'] });
      notifications.show({ color: 'teal', title: 'Settings saved', message: `${saved.name} is up to date.` });
    },
  });

  const test = useMutation({
    mutationFn: () => api.testAccount(account.id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['account', account.id] }),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };

  const saveError = save.error && fieldErrorsOf(save.error).pages.length === 0 ? save.error : null;
  const own = account.type === 'own';

  return (
    <form onSubmit={submit} noValidate aria-label={`Settings of ${account.name}`}>
      <Stack gap="md">
        <Tabs
          value={active}
          onChange={(value) => value && openTab(value as PageKey)}
          keepMounted={false}
          variant="outline"
        >
          <Tabs.List className="account-settings-tabs">
            {pages.map((key) => (
              <Tabs.Tab
                key={key}
                value={key}
                color={errorPages.includes(key) ? 'red' : undefined}
                rightSection={
                  errorPages.includes(key) ? (
                    <Badge size="xs" color="red" variant="filled" aria-label="needs a fix">
                      !
                    </Badge>
                  ) : undefined
                }
              >
                {pageTitles[key]}
              </Tabs.Tab>
            ))}
          </Tabs.List>
          {pages.map((key) => (
            <Tabs.Panel key={key} value={key} pt="md">
              <Card withBorder padding="lg" ref={key === active ? panel : undefined}>
                <Stack gap="lg">
                  <Text size="sm" c="dimmed">
                    {pageDescriptions[key]}
                  </Text>
                  {otherErrors.length > 0 && (
                    <Alert color="red" role="alert" title="Check these settings">
                      <List size="sm">
                        {otherErrors.map((message) => (
                          <List.Item key={message}>{message}</List.Item>
                        ))}
                      </List>
                    </Alert>
                  )}
                  <AccountFormPage
                    page={key}
                    form={form}
                    editing
                    other={<AccountOutboxControls accountId={account.id} />}
                  />
                </Stack>
              </Card>
            </Tabs.Panel>
          ))}
        </Tabs>

        {saveError !== null && (
          <Alert color="red" role="alert" title="Not saved">
            {errorText(saveError)}
          </Alert>
        )}
        {errorPages.length > 0 && !errorPages.includes(active) && (
          <Alert color="red" variant="light" role="status">
            Some settings need a fix on:{' '}
            {errorPages
              .filter((key) => pages.includes(key))
              .map((key, index) => (
                <span key={key}>
                  {index > 0 && ', '}
                  <Anchor component="button" type="button" onClick={() => openTab(key)}>
                    {pageTitles[key]}
                  </Anchor>
                </span>
              ))}
          </Alert>
        )}

        <Group justify="space-between" wrap="wrap" gap="sm">
          <Text size="sm" c="dimmed" aria-live="polite">
            {form.dirty ? 'You have unsaved changes.' : 'All changes saved.'}
          </Text>
          <Group gap="sm" wrap="wrap">
            {form.dirty && (
              <Button variant="default" onClick={() => form.reset(formFromAccount(account))}>
                Discard changes
              </Button>
            )}
            {own && (
              <Button
                variant="light"
                leftSection={<IconPlugConnected size={16} aria-hidden />}
                loading={test.isPending}
                onClick={() => test.mutate()}
              >
                Test settings
              </Button>
            )}
            <Button
              type="submit"
              loading={save.isPending}
              disabled={!form.dirty}
              leftSection={<IconDeviceFloppy size={16} aria-hidden />}
            >
              Save changes
            </Button>
          </Group>
        </Group>
        {own && form.dirty && (test.data || test.isPending) && (
          <Text size="sm" c="dimmed" role="status">
            The test uses the saved settings. Save your changes to test them.
          </Text>
        )}
        <ConnectionTestResult
          result={test.data}
          pending={test.isPending}
          error={test.error}
          what="the saved settings"
        />
      </Stack>
    </form>
  );
}

/** Account settings: the same pages as the wizard, as tabs, for a saved account. */
export function AccountSettingsPage() {
  const { id = '', tab = 'general' } = useParams();
  const account = useQuery({ queryKey: ['account', id], queryFn: () => api.account(id) });

  useEffect(() => {
    document.title = `${account.data?.name ?? 'Account'} settings · Mailroom`;
  }, [account.data?.name]);

  return (
    <Stack gap="md" maw={1000}>
      <Anchor component={Link} to="/accounts" size="sm" style={{ alignSelf: 'flex-start' }}>
        <Group gap={4} component="span">
          <IconArrowLeft size={14} aria-hidden />
          Accounts
        </Group>
      </Anchor>
      {account.isPending ? (
        <SettingsSkeleton />
      ) : account.isError ? (
        <ErrorNotice
          error={account.error}
          title={
            account.error instanceof ApiError && account.error.status === 404
              ? 'No such account'
              : 'The account could not be loaded'
          }
          onRetry={() => void account.refetch()}
        />
      ) : (
        <>
          <Stack gap={6}>
            <Title order={1} size="h2" style={{ overflowWrap: 'anywhere' }}>
              {account.data.name}
            </Title>
            <Group gap="xs" wrap="wrap">
              <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                {account.data.email} · {label(account.data.type)} · {label(account.data.scope)}
              </Text>
              <StatusBadge status={account.data.status} />
              {account.data.type === 'own' && (
                <Group gap={4} wrap="nowrap">
                  <Text size="xs" c="dimmed">
                    Sending
                  </Text>
                  <HealthBadge direction="Sending" health={account.data.health.outgoing} />
                </Group>
              )}
              {account.data.incoming.protocol !== 'none' && (
                <Group gap={4} wrap="nowrap">
                  <Text size="xs" c="dimmed">
                    Receiving
                  </Text>
                  <HealthBadge direction="Receiving" health={account.data.health.incoming} />
                </Group>
              )}
            </Group>
            {account.data.status === 'rejected' && account.data.rejectionReason && (
              <Alert color="red" variant="light" title="Rejected">
                {account.data.rejectionReason}
              </Alert>
            )}
          </Stack>
          <AccountSettings key={account.data.id} account={account.data} tab={tab as PageKey} />
        </>
      )}
    </Stack>
  );
}
