import { Text, Title } from '@mantine/core';
import type { ComponentProps, ReactNode } from 'react';
import { AdminTabs } from './AdminTabs.tsx';

/** The top of an admin page: the admin tabs, then the page's heading with a line on what it shows. */
export function AdminPageHead({
  current,
  title,
  children,
}: {
  current: ComponentProps<typeof AdminTabs>['current'];
  title: string;
  /** What the page shows, in a sentence or two. */
  children: ReactNode;
}) {
  return (
    <>
      <AdminTabs current={current} />
      <div>
        <Title order={1} size="h2">
          {title}
        </Title>
        <Text c="dimmed" size="sm">
          {children}
        </Text>
      </div>
    </>
  );
}
