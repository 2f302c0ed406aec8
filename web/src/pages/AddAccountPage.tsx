import {
  Alert,
  Anchor,
  Button,
  Card,
  Grid,
  Group,
  List,
  Progress,
  Stack,
  Stepper,
  Text,
  Title,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconArrowLeft, IconArrowRight, IconCheck, IconPlugConnected } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, ApiError, type AccountDiscovery } from '../api.ts';
import { FindSettingsSection, formFromDiscovery } from '../components/AccountDiscovery.tsx';
import {
  createBody,
  emptyAccountForm,
  fieldErrorsOf,
  pagesFor,
  pageTitles,
  useAccountForm,
  type PageKey,
} from '../components/AccountFormModel.ts';
import { AccountFormPage, pageDescriptions } from '../components/AccountFormSections.tsx';
import { ConnectionTestResult } from '../components/ConnectionTestResult.tsx';
import { errorText } from '../components/ErrorNotice.tsx';

/** The wizard's pages: the address first (the settings found from it), then the form's own. */
type WizardPage = 'find' | PageKey;

const findTitle = 'Your address';
const findDescription =
  'Mailroom finds the servers from the address, tries them and fills in every setting. Nothing is saved yet.';

/**
 * The add-account wizard: the address and password first, from which the servers are found and
 * every setting filled (or "Set up manually"), then the type and scope, then one page per group of
 * settings. "Test settings" tries the unsaved settings against the servers before anything is
 * stored; the API's field errors land on their fields, and the wizard opens the first page that
 * has one.
 */
export function AddAccountPage() {
  const form = useAccountForm(emptyAccountForm);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const narrow = useMediaQuery('(max-width: 62em)');
  const [step, setStep] = useState(0);
  const [otherErrors, setOtherErrors] = useState<string[]>([]);
  const [errorPages, setErrorPages] = useState<PageKey[]>([]);
  const [testedBody, setTestedBody] = useState<string | null>(null);
  const [password, setPassword] = useState('');
  /** The address and password the last search was for: the findings stand while they do. */
  const [searchedFor, setSearchedFor] = useState<string | null>(null);
  const focusTarget = useRef<'heading' | 'error' | null>(null);
  const content = useRef<HTMLDivElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  const pages: WizardPage[] = ['find', 'type', ...pagesFor(form.values.type)];
  const current = Math.min(step, pages.length - 1);
  const page = pages[current]!;
  const last = current === pages.length - 1;
  const own = form.values.type === 'own';

  useEffect(() => {
    document.title = 'Add an account · Mailroom';
  }, []);

  // After a move between pages, focus follows: to the page's heading, or to the first field the
  // API found wrong.
  useEffect(() => {
    const target = focusTarget.current;
    focusTarget.current = null;
    if (target === 'error') {
      const invalid = content.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
      (invalid ?? heading.current)?.focus();
    } else if (target === 'heading') {
      heading.current?.focus();
    }
  });

  const goTo = (index: number) => {
    focusTarget.current = 'heading';
    setStep(index);
  };

  function showErrors(error: unknown) {
    const view = fieldErrorsOf(error);
    form.setErrors(view.byField);
    setOtherErrors(view.other);
    setErrorPages(view.pages);
    const first = pages.findIndex((candidate) => (view.pages as WizardPage[]).includes(candidate));
    if (first >= 0) {
      focusTarget.current = 'error';
      setStep(first);
    }
  }

  function clearErrors() {
    form.setErrors({});
    setOtherErrors([]);
    setErrorPages([]);
  }

  const test = useMutation({
    mutationFn: () => {
      const body = createBody(form.values);
      setTestedBody(JSON.stringify(body));
      return api.testAccountSettings(body);
    },
    onMutate: clearErrors,
    onError: showErrors,
  });

  const searchKey = JSON.stringify([form.values.email.trim(), password]);
  const discover = useMutation({
    mutationFn: (): Promise<AccountDiscovery> => {
      setSearchedFor(searchKey);
      return api.discoverAccount({ email: form.values.email.trim(), ...(password ? { password } : {}) });
    },
    onMutate: clearErrors,
    onError: (error) => {
      setSearchedFor(null);
      if (error instanceof ApiError && error.fields.email) form.setErrors({ email: error.fields.email });
    },
    onSuccess: (found) => {
      if (found.settings) form.reset(formFromDiscovery(form.values, found, password));
    },
  });
  const found = discover.data !== undefined && searchedFor === searchKey ? discover.data : undefined;

  /** The manual path: the type and scope page, with the address and password carried over. */
  const setUpManually = () => {
    if (password) {
      if (!form.values['smtp.password']) form.set('smtp.password', password);
      if (!form.values['incoming.password']) form.set('incoming.password', password);
    }
    goTo(pages.indexOf('type'));
  };

  const create = useMutation({
    mutationFn: () => api.createAccount(createBody(form.values)),
    onMutate: clearErrors,
    onError: showErrors,
    onSuccess: async (account) => {
      await queryClient.invalidateQueries({ queryKey: ['accounts'] });
      notifications.show({
        color: 'teal',
        title: 'Account added',
        message:
          account.type === 'marketing'
            ? `${account.name} waits for an administrator's approval before it can send.`
            : `${account.name} is ready to send from ${account.email}.`,
      });
      void navigate('/accounts');
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (page === 'find' && !found?.settings) discover.mutate();
    else if (last) create.mutate();
    else goTo(current + 1);
  };

  const testError = test.error && fieldErrorsOf(test.error).pages.length === 0 ? test.error : null;
  const createError =
    create.error && !(create.error instanceof ApiError && Object.keys(create.error.fields).length > 0)
      ? create.error
      : null;
  const stale = test.data !== undefined && testedBody !== JSON.stringify(createBody(form.values));
  const titleOf = (key: WizardPage) => (key === 'find' ? findTitle : pageTitles[key]);

  return (
    <Stack gap="md" maw={1100}>
      <Stack gap={4}>
        <Anchor component={Link} to="/accounts" size="sm" style={{ alignSelf: 'flex-start' }}>
          <Group gap={4} component="span">
            <IconArrowLeft size={14} aria-hidden />
            Accounts
          </Group>
        </Anchor>
        <Title order={1} size="h2">
          Add an email account
        </Title>
      </Stack>

      <Grid gap="lg">
        {!narrow && (
          <Grid.Col span={3}>
            <nav aria-label="Wizard pages">
              <Stepper
                active={current}
                onStepClick={goTo}
                orientation="vertical"
                size="sm"
                allowNextStepsSelect
              >
                {pages.map((key, index) => (
                  <Stepper.Step
                    key={key}
                    label={key === 'find' ? 'Address' : pageTitles[key]}
                    color={(errorPages as WizardPage[]).includes(key) ? 'red' : undefined}
                    description={(errorPages as WizardPage[]).includes(key) ? 'Needs a fix' : undefined}
                    aria-current={index === current ? 'step' : undefined}
                  />
                ))}
              </Stepper>
            </nav>
          </Grid.Col>
        )}
        <Grid.Col span={narrow ? 12 : 9}>
          <form onSubmit={submit} noValidate aria-labelledby="wizard-page-title">
            <Card withBorder padding="lg">
              <Stack gap="lg">
                <Stack gap={6}>
                  {narrow && (
                    <>
                      <Text size="xs" c="dimmed" fw={500} tt="uppercase">
                        Step {current + 1} of {pages.length}
                      </Text>
                      <Progress
                        value={((current + 1) / pages.length) * 100}
                        size="sm"
                        aria-label={`Step ${current + 1} of ${pages.length}`}
                      />
                    </>
                  )}
                  <Title order={2} size="h3" id="wizard-page-title" ref={heading} tabIndex={-1}>
                    {titleOf(page)}
                  </Title>
                  <Text size="sm" c="dimmed">
                    {page === 'find' ? findDescription : pageDescriptions[page]}
                  </Text>
                </Stack>

                {otherErrors.length > 0 && (
                  <Alert color="red" role="alert" title="Check these settings">
                    <List size="sm">
                      {otherErrors.map((message) => (
                        <List.Item key={message}>{message}</List.Item>
                      ))}
                    </List>
                  </Alert>
                )}
                {errorPages.length > 0 && !(errorPages as WizardPage[]).includes(page) && (
                  <Alert color="red" variant="light" role="status">
                    Some settings need a fix on:{' '}
                    {errorPages.map((key, index) => (
                      <span key={key}>
                        {index > 0 && ', '}
                        <Anchor component="button" type="button" onClick={() => goTo(pages.indexOf(key))}>
                          {pageTitles[key]}
                        </Anchor>
                      </span>
                    ))}
                  </Alert>
                )}

                <div ref={content}>
                  {page === 'find' ? (
                    <FindSettingsSection
                      form={form}
                      password={password}
                      onPasswordChange={setPassword}
                      found={found}
                      pending={discover.isPending}
                      error={
                        discover.error instanceof ApiError && discover.error.fields.email
                          ? null
                          : discover.error
                      }
                      onManual={setUpManually}
                    />
                  ) : (
                    <AccountFormPage page={page} form={form} />
                  )}
                </div>

                {createError !== null && (
                  <Alert color="red" role="alert" title="The account was not added">
                    {errorText(createError)}
                  </Alert>
                )}

                <Group justify="space-between" wrap="wrap-reverse" gap="sm">
                  <Button
                    variant="default"
                    leftSection={<IconArrowLeft size={16} aria-hidden />}
                    onClick={() => goTo(current - 1)}
                    disabled={current === 0}
                    style={{ visibility: current === 0 ? 'hidden' : undefined }}
                  >
                    Back
                  </Button>
                  <Group gap="sm" wrap="wrap" justify="flex-end">
                    {own && page !== 'find' && page !== 'type' && (
                      <Button
                        variant="light"
                        leftSection={<IconPlugConnected size={16} aria-hidden />}
                        loading={test.isPending}
                        onClick={() => test.mutate()}
                      >
                        Test settings
                      </Button>
                    )}
                    {page === 'find' && !found?.settings ? (
                      <Button
                        type="submit"
                        loading={discover.isPending}
                        rightSection={<IconArrowRight size={16} aria-hidden />}
                      >
                        Continue
                      </Button>
                    ) : last ? (
                      <Button
                        type="submit"
                        loading={create.isPending}
                        leftSection={<IconCheck size={16} aria-hidden />}
                      >
                        Add account
                      </Button>
                    ) : (
                      <Button type="submit" rightSection={<IconArrowRight size={16} aria-hidden />}>
                        Next
                      </Button>
                    )}
                  </Group>
                </Group>
              </Stack>
            </Card>
          </form>
          <Stack gap="xs" mt="md">
            {stale && !test.isPending && (
              <Text size="sm" c="dimmed" role="status">
                The settings changed since this test. Test again to check them.
              </Text>
            )}
            <ConnectionTestResult
              result={test.data}
              pending={test.isPending}
              error={testError}
              what="the unsaved settings"
            />
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
