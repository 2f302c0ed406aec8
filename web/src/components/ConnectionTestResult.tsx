import { Alert, Badge, Card, Group, Loader, Stack, Text, ThemeIcon, Title } from '@mantine/core';
import { IconCheck, IconX } from '@tabler/icons-react';
import { useEffect, useRef } from 'react';
import type { ConnectionTest } from '../api.ts';
import { ErrorNotice } from './ErrorNotice.tsx';

const stepNames: Record<string, string> = {
  connect: 'Connect',
  tls: 'TLS',
  ehlo: 'Greeting (EHLO)',
  auth: 'Log in',
  login: 'Log in',
  mail_from: 'Sender (MAIL FROM)',
  rcpt_to: 'Recipient (RCPT TO)',
  data: 'Message (DATA)',
  capabilities: 'Capabilities',
  list: 'List the mailbox',
  session: 'Find the JMAP session',
};

function stepName(step: string): string {
  return stepNames[step] ?? step.replace(/_/g, ' ');
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

type Step = ConnectionTest['steps'][number];

function StepList({ title, steps }: { title: string; steps: Step[] }) {
  return (
    <Stack gap={6}>
      <Title order={4} size="h6">
        {title}
      </Title>
      <Stack component="ol" gap={6} p={0} m={0} style={{ listStyle: 'none' }} aria-label={title}>
        {steps.map((step, index) => (
          <Group
            key={`${step.step}-${index}`}
            component="li"
            wrap="nowrap"
            align="flex-start"
            gap="sm"
            data-testid="test-step"
            data-ok={step.ok}
          >
            <ThemeIcon
              size={22}
              radius="xl"
              variant="light"
              color={step.ok ? 'teal' : 'red'}
              aria-hidden
              mt={1}
            >
              {step.ok ? <IconCheck size={14} /> : <IconX size={14} />}
            </ThemeIcon>
            <Stack gap={2} style={{ minWidth: 0, flex: 1 }}>
              <Group gap="xs" wrap="wrap">
                <Text size="sm" fw={500} data-testid="test-step-name">
                  {stepName(step.step)}
                </Text>
                <Text size="xs" c={step.ok ? 'teal.8' : 'red.8'}>
                  {step.ok ? 'OK' : 'Failed'}
                  <span className="visually-hidden">,</span>
                </Text>
                <Text size="xs" c="dimmed">
                  {formatMs(step.ms)}
                </Text>
              </Group>
              {step.reply && (
                <Text
                  size="xs"
                  ff="monospace"
                  c={step.ok ? 'dimmed' : 'red.9'}
                  style={{ overflowWrap: 'anywhere', whiteSpace: 'pre-wrap' }}
                >
                  <span className="visually-hidden">The server said: </span>
                  {step.reply}
                </Text>
              )}
            </Stack>
          </Group>
        ))}
      </Stack>
    </Stack>
  );
}

/**
 * What "Test settings" found: each step of each direction with the server's own words. Shown in a
 * live region, so a screen reader hears the outcome when it arrives.
 */
export function ConnectionTestResult({
  result,
  pending,
  error,
  what = 'these settings',
}: {
  result: ConnectionTest | undefined;
  pending: boolean;
  error: unknown;
  what?: string;
}) {
  const card = useRef<HTMLDivElement>(null);
  // The outcome may arrive below the fold: bring it into view (the live region reads it out).
  useEffect(() => {
    if (result || error) card.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [result, error]);
  if (!pending && !result && !error) return null;
  const outgoing = result?.steps.filter((step) => step.direction === 'outgoing') ?? [];
  const incoming = result?.steps.filter((step) => step.direction === 'incoming') ?? [];
  return (
    <Card
      ref={card}
      withBorder
      padding="md"
      aria-live="polite"
      aria-busy={pending}
      data-testid="connection-test"
    >
      <Stack gap="md">
        <Group justify="space-between" wrap="wrap" gap="xs">
          <Title order={3} size="h5">
            Test of {what}
          </Title>
          {pending ? (
            <Group gap="xs">
              <Loader size="xs" aria-hidden />
              <Text size="sm" c="dimmed">
                Talking to the servers…
              </Text>
            </Group>
          ) : result ? (
            <Badge color={result.ok ? 'teal' : 'red'} variant="light" size="lg">
              {result.ok ? 'All steps passed' : 'A step failed'}
            </Badge>
          ) : null}
        </Group>
        {!pending && error !== null && error !== undefined && (
          <ErrorNotice error={error} title="The test could not run" />
        )}
        {!pending && result && (
          <>
            {result.steps.length === 0 && (
              <Alert color="gray" variant="light">
                There is no server to test yet.
              </Alert>
            )}
            {outgoing.length > 0 && <StepList title="Outgoing server (SMTP)" steps={outgoing} />}
            {incoming.length > 0 && <StepList title="Incoming server" steps={incoming} />}
            {result.ok && outgoing.length > 0 && (
              <Text size="xs" c="dimmed">
                The test stopped after the server agreed to take a message, so nothing was sent.
              </Text>
            )}
          </>
        )}
      </Stack>
    </Card>
  );
}
