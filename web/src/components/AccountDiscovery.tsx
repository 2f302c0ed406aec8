/**
 * The add-account wizard's first page: the address and its password, then "Continue" asks the
 * server to find the servers (POST /api/accounts/discover), fills every setting from what it found
 * and shows the evidence briefly: how sure it is and why, the servers it chose, the others it
 * tried and the sources it asked. Every setting stays editable on the pages that follow.
 */
import {
  Alert,
  Anchor,
  Badge,
  Card,
  Collapse,
  Group,
  List,
  Loader,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  ThemeIcon,
  Title,
} from '@mantine/core';
import { IconCheck, IconQuestionMark, IconX } from '@tabler/icons-react';
import { useEffect, useId, useRef, useState } from 'react';
import type { AccountDiscovery } from '../api.ts';
import { defaultPort, type AccountForm, type AccountFormValues, type Security } from './AccountFormModel.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

type Candidate = AccountDiscovery['candidates'][number];

/** The wizard's form as the discovery fills it: every server setting, the password in both places. */
export function formFromDiscovery(
  values: AccountFormValues,
  found: AccountDiscovery,
  password: string,
): AccountFormValues {
  const settings = found.settings;
  const smtp = settings?.smtp;
  if (!settings || !smtp) return { ...values, email: found.email };
  const smtpSecurity: Security = smtp.security ?? 'starttls';
  const incoming: NonNullable<typeof settings.incoming> = settings.incoming ?? { protocol: 'none' };
  const protocol = incoming.protocol ?? 'none';
  const incomingSecurity: Security = incoming.security ?? 'tls';
  const kind = protocol === 'imap' || protocol === 'pop3' ? protocol : null;
  const incomingPort = incoming.port ?? (kind ? defaultPort(kind, incomingSecurity) : 993);
  const requiresAuth = smtp.requiresAuth ?? true;
  return {
    ...values,
    type: 'own',
    name: values.name.trim() === '' ? settings.name : values.name,
    email: settings.email,
    'smtp.host': smtp.host,
    'smtp.security': smtpSecurity,
    'smtp.port': smtp.port ?? defaultPort('smtp', smtpSecurity),
    'smtp.useDefaultPort':
      (smtp.port ?? defaultPort('smtp', smtpSecurity)) === defaultPort('smtp', smtpSecurity),
    'smtp.requiresAuth': requiresAuth,
    'smtp.useIncomingCredentials': false,
    'smtp.username': smtp.username ?? '',
    'smtp.password': requiresAuth ? password : '',
    'smtp.spa': smtp.spa ?? false,
    'incoming.protocol': protocol,
    'incoming.server': (protocol === 'jmap' ? (incoming.url ?? incoming.host) : incoming.host) ?? '',
    'incoming.security': incomingSecurity,
    'incoming.port': incomingPort,
    'incoming.useDefaultPort': kind === null || incomingPort === defaultPort(kind, incomingSecurity),
    'incoming.authMethod': 'password',
    'incoming.username': incoming.username ?? '',
    'incoming.password': protocol === 'none' ? '' : password,
    'incoming.spa': incoming.spa ?? false,
  };
}

const confidenceColours: Record<AccountDiscovery['confidence'], string> = {
  high: 'teal',
  medium: 'yellow',
  low: 'orange',
  none: 'red',
};

const confidenceWords: Record<AccountDiscovery['confidence'], string> = {
  high: 'Sure',
  medium: 'Fairly sure',
  low: 'Not sure',
  none: 'Nothing found',
};

const resultWords: Record<Candidate['result'], string> = {
  login_ok: 'Login worked',
  reachable: 'Answered',
  login_failed: 'Login refused',
  tls_failed: 'TLS failed',
  unreachable: 'Unreachable',
  timeout: 'No answer in time',
  refused: 'Not allowed',
  not_probed: 'Not tried',
};

const sourceWords: Record<string, string> = {
  autoconfig: 'the domain’s autoconfig',
  'well-known': 'the domain’s autoconfig',
  srv: 'DNS SRV records',
  ispdb: 'the ISP database',
  mx: 'the mail host’s domain',
  guess: 'a common host name',
};

const securityWords: Record<Security, string> = { tls: 'TLS', starttls: 'STARTTLS', none: 'no encryption' };

export function serverText(candidate: Candidate): string {
  const where = candidate.url ?? `${candidate.host}:${candidate.port}`;
  return `${candidate.protocol.toUpperCase()} ${where} (${securityWords[candidate.security]})`;
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

const sourcesText = (candidate: Candidate) =>
  [...new Set(candidate.sources.map((source) => sourceWords[source.source] ?? source.source))].join(', ');

function ResultIcon({ result }: { result: Candidate['result'] }) {
  const good = result === 'login_ok' || result === 'reachable';
  const unsure = result === 'login_failed' || result === 'not_probed';
  return (
    <ThemeIcon
      size={20}
      radius="xl"
      variant="light"
      color={good ? 'teal' : unsure ? 'yellow' : 'red'}
      aria-hidden
    >
      {good ? <IconCheck size={12} /> : unsure ? <IconQuestionMark size={12} /> : <IconX size={12} />}
    </ThemeIcon>
  );
}

function CandidateList({ label, candidates }: { label: string; candidates: Candidate[] }) {
  return (
    <Stack component="ul" gap={6} p={0} m={0} style={{ listStyle: 'none' }} aria-label={label}>
      {candidates.map((candidate) => (
        <CandidateLine key={`${candidate.direction}-${serverText(candidate)}`} candidate={candidate} />
      ))}
    </Stack>
  );
}

function CandidateLine({ candidate }: { candidate: Candidate }) {
  return (
    <Group component="li" wrap="nowrap" align="flex-start" gap="sm" data-testid="discovery-candidate">
      <ResultIcon result={candidate.result} />
      <Stack gap={0} style={{ minWidth: 0, flex: 1 }}>
        <Group gap="xs" wrap="wrap">
          <Text size="sm" fw={500}>
            {serverText(candidate)}
          </Text>
          <Text size="xs" c="dimmed">
            {resultWords[candidate.result]} · from {sourcesText(candidate)} · {candidate.ms} ms
          </Text>
        </Group>
        {candidate.reply && (
          <Text size="xs" ff="monospace" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
            <span className="visually-hidden">The server said: </span>
            {candidate.reply.split('\n')[0]}
          </Text>
        )}
      </Stack>
    </Group>
  );
}

/** What the discovery found, briefly: how sure, why, the chosen servers; the rest on request. */
export function DiscoveryFindings({ found }: { found: AccountDiscovery }) {
  const [showAll, setShowAll] = useState(false);
  const allId = useId();
  const chosen = found.candidates.filter((candidate) => candidate.chosen);
  const others = found.candidates.filter((candidate) => !candidate.chosen);
  return (
    <Card withBorder padding="md" data-testid="discovery-findings">
      <Stack gap="sm">
        <Group justify="space-between" wrap="wrap" gap="xs">
          <Title order={3} size="h5">
            {found.settings ? `Settings found for ${found.domain}` : `No settings found for ${found.domain}`}
          </Title>
          <Badge
            color={confidenceColours[found.confidence]}
            variant="light"
            size="lg"
            data-testid="discovery-confidence"
          >
            {confidenceWords[found.confidence]}
          </Badge>
        </Group>
        <List size="sm" spacing={2}>
          {found.reasons.map((reason, index) => (
            <List.Item key={`${index}-${reason}`}>{reason}</List.Item>
          ))}
        </List>
        {chosen.length > 0 && (
          <Stack gap={6}>
            <Text size="sm" fw={500}>
              Chosen
            </Text>
            <CandidateList label="Chosen servers" candidates={chosen} />
          </Stack>
        )}
        {(others.length > 0 || found.sources.length > 0) && (
          <Anchor
            component="button"
            type="button"
            size="sm"
            onClick={() => setShowAll((open) => !open)}
            aria-expanded={showAll}
            aria-controls={allId}
            ta="left"
            style={{ alignSelf: 'flex-start' }}
          >
            {showAll
              ? 'Hide the details'
              : `Show everything tried (${plural(others.length, 'other server')}, ${plural(found.sources.length, 'lookup')})`}
          </Anchor>
        )}
        <Collapse expanded={showAll} id={allId}>
          <Stack gap="sm">
            {others.length > 0 && <CandidateList label="Other servers" candidates={others} />}
            <Stack component="ul" gap={2} p={0} m={0} style={{ listStyle: 'none' }} aria-label="Lookups">
              {found.sources.map((source, index) => (
                <Text
                  component="li"
                  key={`${source.via}-${index}`}
                  size="xs"
                  c="dimmed"
                  style={{ overflowWrap: 'anywhere' }}
                >
                  {source.via}: {source.outcome === 'found' ? `found ${source.detail}` : source.detail} (
                  {source.ms} ms)
                </Text>
              ))}
            </Stack>
          </Stack>
        </Collapse>
        {found.settings && (
          <Text size="xs" c="dimmed">
            Every setting is filled in on the next pages, where you can still change anything.
          </Text>
        )}
      </Stack>
    </Card>
  );
}

/** The first page itself: the address and the password, and what the search found. */
export function FindSettingsSection({
  form,
  password,
  onPasswordChange,
  found,
  pending,
  error,
  onManual,
}: {
  form: AccountForm;
  password: string;
  onPasswordChange: (password: string) => void;
  found: AccountDiscovery | undefined;
  pending: boolean;
  error: unknown;
  onManual: () => void;
}) {
  const status = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (found) status.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [found]);
  return (
    <Stack gap="md">
      <TextInput
        label="Email address"
        description="The address of the mailbox to add"
        required
        type="email"
        autoComplete="email"
        {...form.text('email')}
      />
      <PasswordInput
        label="Password"
        description="Optional. Used to try the login on the servers found; stored only when you add the account."
        autoComplete="current-password"
        value={password}
        onChange={(event) => onPasswordChange(event.currentTarget.value)}
      />
      <Group gap="xs">
        <Text size="sm" c="dimmed">
          Know your server settings, or adding a marketing account?
        </Text>
        <Anchor component="button" type="button" size="sm" onClick={onManual}>
          Set up manually
        </Anchor>
      </Group>
      <div ref={status} aria-live="polite" aria-busy={pending}>
        {pending && (
          <Group gap="xs">
            <Loader size="xs" aria-hidden />
            <Text size="sm" c="dimmed">
              Looking up the servers and trying them (at most 15 seconds)…
            </Text>
          </Group>
        )}
        {!pending && error !== null && error !== undefined && (
          <ErrorNotice error={error} title="The servers could not be looked up" />
        )}
        {!pending && found && (
          <Stack gap="sm">
            <DiscoveryFindings found={found} />
            {!found.settings && (
              <Alert color="gray" variant="light">
                Nothing answered for this address. Check it, or{' '}
                <Anchor component="button" type="button" onClick={onManual}>
                  set the account up manually
                </Anchor>
                .
              </Alert>
            )}
          </Stack>
        )}
      </div>
    </Stack>
  );
}
