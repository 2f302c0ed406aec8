import { Stack, Title } from '@mantine/core';
import { useEffect } from 'react';
import { EmptyState } from '../components/EmptyState.tsx';

/** A section whose view is not built yet: says what it will hold, and nothing more. */
export function NotYetPage({ title, what, notFound }: { title: string; what: string; notFound?: boolean }) {
  useEffect(() => {
    document.title = `${title} · Mailroom`;
  }, [title]);
  return (
    <Stack>
      <Title order={1} size="h2">
        {title}
      </Title>
      {notFound ? (
        <EmptyState title="There is no page here">
          Check the address, or pick a section from the menu.
        </EmptyState>
      ) : (
        <EmptyState title={`Nothing to show here yet`}>
          This section will show {what}. Until then, the API has all of it.
        </EmptyState>
      )}
    </Stack>
  );
}
