import { useSearchParams } from 'react-router';

/**
 * A list's filters kept in the address, so a filtered page can be reloaded, shared and gone back
 * to. Changing a filter goes back to the first page, unless the page is what changes; clearing them
 * shows everything from the first page.
 */
export function useUrlFilters<Filters extends { page: number }>(
  read: (params: URLSearchParams) => Filters,
  write: (filters: Filters) => URLSearchParams,
) {
  const [params, setParams] = useSearchParams();
  // From the address as it is now, not as this render saw it: two quick changes both count.
  const update = (changes: Partial<Filters>) =>
    setParams((current) => write({ ...read(current), page: 1, ...changes }), { replace: true });
  const clear = () => setParams(new URLSearchParams(), { replace: true });
  return [read(params), update, clear] as const;
}
