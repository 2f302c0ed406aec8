import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useState } from 'react';
import { useUrlFilters } from './url-filters.ts';

/**
 * The pieces a list page's filters are made of, for `useUrlFilters`: reading them from the address
 * and writing them back, each left out where it holds its default, so a plain list has a plain
 * address.
 */

type FilterValues = Record<string, string | number | null>;

/** Which page of a server-paged list is shown, how long a page is, and how to turn to another. */
export type Paging = { page: number; pageSize: number; onPage: (page: number) => void };

/** The page asked for in the address: a whole number from 1, else 1. */
export function readPage(params: URLSearchParams): number {
  return Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
}

/** A filter of a few allowed values: the one in the address if it is allowed, else the fallback. */
export function readChoice(
  params: URLSearchParams,
  name: string,
  allowed: readonly string[],
  fallback: string,
): string {
  const value = params.get(name) ?? fallback;
  return allowed.includes(value) ? value : fallback;
}

/** The filters as the address's parameters, in the order of the defaults, leaving out each default. */
export function filterParams<Filters extends FilterValues>(
  filters: Filters,
  defaults: Filters,
): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, fallback] of Object.entries(defaults)) {
    const value = filters[name];
    if (value !== undefined && value !== null && value !== '' && value !== fallback) {
      params.set(name, String(value));
    }
  }
  return params;
}

/**
 * A list's filters kept in the address (see `useUrlFilters`), each left out of it where it holds its
 * default; with what a filter control needs (`bind`), whether any filter narrows the list, and the
 * paging.
 */
export function useListFilters<Filters extends FilterValues & { page: number }>(
  read: (params: URLSearchParams) => Filters,
  defaults: Filters,
  pageSize: number,
) {
  const [filters, update, clear] = useUrlFilters(read, (changed) => filterParams(changed, defaults));
  /** A control's value and change handler, for the filter named. */
  const bind = <Name extends keyof Filters>(name: Name) => ({
    value: filters[name],
    onChange: (value: Filters[Name]) => {
      const changes: Partial<Filters> = {};
      changes[name] = value;
      update(changes);
    },
  });
  const filtered = Object.keys(defaults).some((name) => name !== 'page' && filters[name] !== defaults[name]);
  const paging: Paging = {
    page: filters.page,
    pageSize,
    onPage: (page) => update({ page } as Partial<Filters>),
  };
  return { filters, update, clear, bind, filtered, paging };
}

/**
 * The text typed into a filter's box: shown as it is typed, and handed to `settle` once typing
 * pauses, when it differs from what the filter holds (`current`).
 */
export function useTypedFilter(current: string, settle: (text: string) => void) {
  const [text, setText] = useState(current);
  const [settled] = useDebouncedValue(text, 250);
  useEffect(() => {
    if (settled !== current) settle(settled);
    // Only the typed text drives this; the filters are read fresh from the address.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [settled]);
  return [text, setText] as const;
}
