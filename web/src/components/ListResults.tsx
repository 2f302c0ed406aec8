import { Button, Card } from '@mantine/core';
import type { ReactNode } from 'react';
import type { Paging } from '../list-filters.ts';
import type { PagedList } from '../paged-list.ts';
import { EmptyState } from './EmptyState.tsx';
import { ErrorNotice } from './ErrorNotice.tsx';
import { ListFooter } from './ListFooter.tsx';

/**
 * Where a server-paged list shows: its error, with a way to try again; its empty state; or its
 * rows, dimmed while the next page loads. Under it, which rows are shown of how many, and the pages.
 */
export function ListResults({
  paged,
  noun,
  paging,
  narrow,
  empty,
  cards = false,
  children,
}: {
  paged: PagedList;
  /** What the list holds, in the plural: "accounts". */
  noun: string;
  paging: Paging;
  narrow: boolean;
  /**
   * The empty state, where no rows show once loaded; `false` where a page past the end of the list
   * shows as an empty table rather than as an empty list.
   */
  empty: ReactNode;
  /** Whether a narrow screen shows the rows as cards, which want a little room around them. */
  cards?: boolean;
  children: ReactNode;
}) {
  const { list } = paged;
  return (
    <>
      {list.isError ? (
        <ErrorNotice error={list.error} onRetry={() => void list.refetch()} />
      ) : !list.isPending && paged.rows.length === 0 && empty ? (
        <Card withBorder>{empty}</Card>
      ) : (
        <Card
          withBorder
          padding={cards && narrow ? 'xs' : 0}
          style={{ opacity: list.isPlaceholderData ? 0.6 : 1 }}
        >
          {children}
        </Card>
      )}
      <ListFooter
        noun={noun}
        loading={list.isPending}
        shown={paged.rows.length}
        total={paged.total}
        narrow={narrow}
        {...paging}
      />
    </>
  );
}

/** The empty state of a list its search or filters hide every row of, with a way to clear them. */
export function NoMatches({ title, q, onClear }: { title: string; q: string; onClear: () => void }) {
  return (
    <EmptyState
      title={title}
      action={
        <Button variant="light" onClick={onClear}>
          Clear search and filters
        </Button>
      }
    >
      Nothing matches {q ? `“${q}”` : 'these filters'}. Try fewer letters or another filter.
    </EmptyState>
  );
}
