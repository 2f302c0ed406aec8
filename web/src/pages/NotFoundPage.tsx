import { Stack, Title } from '@mantine/core';
import { useEffect } from 'react';
import { EmptyState } from '../components/EmptyState.tsx';

/** An address the UI has no page for. */
export function NotFoundPage() {
  useEffect(() => {
    document.title = 'Page not found · Mailroom';
  }, []);
  return (
    <Stack>
      <Title order={1} size="h2">
        Page not found
      </Title>
      <EmptyState title="There is no page here">
        Check the address, or pick a section from the menu.
      </EmptyState>
    </Stack>
  );
}
