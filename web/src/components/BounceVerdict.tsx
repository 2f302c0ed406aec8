import { Anchor, Button, Card, Group, Modal, ScrollArea, Skeleton, Stack, Table, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconFileText } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { api, type Bounce } from '../api.ts';
import { formatDateTime } from '../format.ts';
import { ErrorNotice } from './ErrorNotice.tsx';
import { BounceTypeBadge } from './MailBadges.tsx';

const reasonWords: Record<string, string> = {
  userunknown: 'User unknown',
  hostunknown: 'Host unknown',
  mailboxfull: 'Mailbox full',
  filtered: 'Filtered',
  rejected: 'Rejected by the sender’s domain',
  blocked: 'Blocked',
  spamdetected: 'Seen as spam',
  expired: 'Delivery time expired',
  suspend: 'Mailbox suspended',
  norelaying: 'Relaying refused',
  systemerror: 'System error',
  systemfull: 'Server full',
  mesgtoobig: 'Message too big',
  exceedlimit: 'Size limit exceeded',
  securityerror: 'Security error',
  policyviolation: 'Policy violation',
  contenterror: 'Content refused',
  networkerror: 'Network error',
  notaccept: 'Not accepting mail',
  hasmoved: 'Address has moved',
  toomanyconn: 'Too many connections',
  speeding: 'Sending too fast',
  onhold: 'On hold',
  mailererror: 'Mailer error',
  syntaxerror: 'Syntax error',
  virusdetected: 'Virus detected',
  badreputation: 'Bad reputation',
  requireptr: 'Reverse DNS required',
  authfailure: 'Authentication failed (SPF, DKIM, DMARC)',
  notcompliantrfc: 'Not compliant with the RFCs',
  failedstarttls: 'STARTTLS failed',
  undefined: 'Not determined',
  feedback: 'Spam complaint',
  vacation: 'Auto-reply',
  delivered: 'Delivered',
};

export function bounceReason(reason: string): string {
  return reasonWords[reason] ?? reason;
}

const matchedByWords: Record<NonNullable<Bounce['matchedBy']>, string> = {
  verp: 'the per-message return path (VERP)',
  envid: 'the envelope ID the notice quoted (ENVID)',
  message_id: 'the Message-ID of the returned message',
  address: 'the failed address',
  rcpt_reply: 'the server’s refusal at send time',
};

const sourceWords: Record<Bounce['source'], string> = {
  smtp: 'Refused at send time',
  mailbox: 'Notice read from the mailbox',
  verp: 'Notice at the bounce intake',
};

/** The raw notice, fetched as text and shown as it was received; never rendered as HTML. */
export function RawNoticeButton({ bounce }: { bounce: Bounce }) {
  const [opened, { open, close }] = useDisclosure(false);
  const notice = useQuery({
    queryKey: ['bounce-notice', bounce.id],
    queryFn: () => api.bounceNotice(bounce.id),
    enabled: opened,
    staleTime: Infinity,
  });
  if (!bounce.hasRawNotice) return null;
  return (
    <>
      <Button
        size="xs"
        variant="light"
        leftSection={<IconFileText size={14} aria-hidden />}
        onClick={open}
        aria-label={`View the raw notice for ${bounce.recipient}, ${formatDateTime(bounce.createdAt)}`}
      >
        View raw notice
      </Button>
      <Modal opened={opened} onClose={close} title="The notice as received" size="xl">
        <Stack gap="sm">
          <Text size="sm" c="dimmed">
            Shown as plain text, exactly as the mail server sent it.{' '}
            <Anchor href={`/api/bounces/${bounce.id}/raw`} download={`bounce-${bounce.id}.eml`} size="sm">
              Download it
            </Anchor>
          </Text>
          {notice.isError ? (
            <ErrorNotice error={notice.error} onRetry={() => void notice.refetch()} />
          ) : notice.isPending ? (
            <Skeleton h={360} />
          ) : (
            <ScrollArea
              h={420}
              type="auto"
              style={{ border: '1px solid var(--mantine-color-gray-3)', borderRadius: 6 }}
            >
              <pre
                data-testid="raw-notice"
                tabIndex={0}
                aria-label="Raw notice"
                style={{
                  margin: 0,
                  padding: 12,
                  fontSize: 12,
                  whiteSpace: 'pre-wrap',
                  overflowWrap: 'anywhere',
                }}
              >
                {notice.data}
              </pre>
            </ScrollArea>
          )}
        </Stack>
      </Modal>
    </>
  );
}

/**
 * The classifier's verdict on one bounce, with its evidence: reason, hard or soft, the enhanced
 * status, the diagnostic and remote server, how it was matched, and the message it answers.
 */
export function BounceVerdict({
  bounce,
  showMessage = true,
  showContact = false,
}: {
  bounce: Bounce;
  showMessage?: boolean;
  showContact?: boolean;
}) {
  const rows: [string, ReactNode][] = [
    ['Recipient', bounce.recipient],
    ['Status', [bounce.replyCode, bounce.status].filter(Boolean).join(' ') || '—'],
    ['Diagnostic', bounce.diagnostic ?? '—'],
    ...(bounce.remoteMta ? ([['Remote server', bounce.remoteMta]] as [string, ReactNode][]) : []),
    ['Matched by', bounce.matchedBy ? matchedByWords[bounce.matchedBy] : 'nothing sent was found'],
  ];
  if (showMessage) {
    rows.push([
      'Original message',
      bounce.messageId ? (
        <Anchor component={Link} to={`/messages/${bounce.messageId}`} size="sm">
          Open the message that bounced
        </Anchor>
      ) : (
        'not found'
      ),
    ]);
  }
  if (showContact && bounce.contactId) {
    rows.push([
      'Contact',
      <Anchor component={Link} to={`/contacts/${bounce.contactId}`} size="sm" key="contact">
        {bounce.recipient}
      </Anchor>,
    ]);
  }
  return (
    <Card
      withBorder
      padding="sm"
      data-testid="bounce-verdict"
      component="article"
      aria-label={`Bounce ${formatDateTime(bounce.createdAt)}`}
    >
      <Group justify="space-between" wrap="wrap" gap="xs" mb={6}>
        <Group gap="xs" wrap="wrap">
          <BounceTypeBadge bounce={bounce} />
          <Text size="sm" fw={600}>
            {bounceReason(bounce.reason)}
          </Text>
          <Text size="xs" c="dimmed">
            {sourceWords[bounce.source]} · {formatDateTime(bounce.createdAt)}
          </Text>
        </Group>
        <RawNoticeButton bounce={bounce} />
      </Group>
      <Table withRowBorders={false} verticalSpacing={2} horizontalSpacing="xs" layout="fixed">
        <Table.Tbody>
          {rows.map(([name, value]) => (
            <Table.Tr key={name}>
              <Table.Th
                w={{ base: 110, sm: 140 }}
                fw={500}
                c="dimmed"
                fz="sm"
                style={{ verticalAlign: 'top' }}
              >
                {name}
              </Table.Th>
              <Table.Td fz="sm" style={{ overflowWrap: 'anywhere' }}>
                {value}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}
