import { keepPreviousData, useQuery, type QueryKey } from '@tanstack/react-query';

/**
 * One page of a server-paged list (`{ items, total }`), the page before kept on screen while the
 * next one loads, so that the list does not jump as its filters or page change.
 */
export function usePagedList<Row>(options: {
  queryKey: QueryKey;
  queryFn: () => Promise<{ items: Row[]; total: number }>;
  enabled?: boolean;
}) {
  const list = useQuery({ ...options, placeholderData: keepPreviousData });
  return { list, rows: list.data?.items ?? [], total: list.data?.total ?? 0 };
}

/** What `ListResults` reads from a paged list: its state and its counts. */
export type PagedList = {
  list: {
    isError: boolean;
    error: unknown;
    isPending: boolean;
    isPlaceholderData: boolean;
    refetch: () => unknown;
  };
  rows: readonly unknown[];
  total: number;
};
