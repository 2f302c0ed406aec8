import { Card, Group, Skeleton, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';

/** A list's rows as cards, for narrow screens, with stand-in cards while it loads. */
export function CardList({
  label,
  loading,
  skeletons,
  children,
}: {
  label: string;
  loading: boolean;
  /** How many stand-in cards, and how tall. */
  skeletons: { count: number; height: number };
  children: ReactNode;
}) {
  if (loading) {
    return (
      <Stack gap="sm" aria-busy>
        {Array.from({ length: skeletons.count }, (_, index) => (
          <Skeleton key={index} h={skeletons.height} radius="md" data-testid="skeleton-row" />
        ))}
      </Stack>
    );
  }
  return (
    <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }} aria-label={label}>
      {children}
    </Stack>
  );
}

/** One row as a card of a `CardList`, marked for tests as the page's rows are. */
export function ListCard({ testId, children }: { testId: string; children: ReactNode }) {
  return (
    <Card withBorder component="li" padding="sm" data-testid={testId}>
      {children}
    </Card>
  );
}

/** The head of a row's card: what the row is, a dimmed line under it, and its actions on the right. */
export function CardHead({
  title,
  line,
  actions,
}: {
  title: ReactNode;
  line: ReactNode;
  actions: ReactNode;
}) {
  return (
    <Group justify="space-between" wrap="nowrap" align="flex-start">
      <Stack gap={2} style={{ minWidth: 0 }}>
        {title}
        <Text size="sm" c="dimmed" truncate>
          {line}
        </Text>
      </Stack>
      {actions}
    </Group>
  );
}
