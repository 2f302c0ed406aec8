import { Button, Code, CopyButton, Group } from '@mantine/core';
import { IconCheck, IconCopy } from '@tabler/icons-react';

/**
 * A secret shown this once (a new API token, a webhook's signing secret): the value as a block a
 * person can select, a Copy button, and the button that closes it for good.
 */
export function SecretValue({
  secret,
  testId,
  doneLabel,
  onDone,
}: {
  secret: string;
  testId: string;
  doneLabel: string;
  onDone: () => void;
}) {
  return (
    <>
      <Code block data-testid={testId} style={{ overflowWrap: 'anywhere', whiteSpace: 'pre-wrap' }}>
        {secret}
      </Code>
      <Group justify="flex-end" gap="xs">
        <CopyButton value={secret}>
          {({ copied, copy }) => (
            <Button
              variant="light"
              onClick={copy}
              leftSection={copied ? <IconCheck size={16} aria-hidden /> : <IconCopy size={16} aria-hidden />}
            >
              {copied ? 'Copied' : 'Copy'}
            </Button>
          )}
        </CopyButton>
        <Button onClick={onDone}>{doneLabel}</Button>
      </Group>
    </>
  );
}
