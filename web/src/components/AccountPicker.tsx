import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api.ts';

const ALL = 'all';

/**
 * Picks one of the accounts you can use, or all of them. The server searches (there may be
 * thousands), so only the first matches are offered; the chosen one is always shown by its name.
 */
export function AccountPicker({
  value,
  onChange,
  w,
}: {
  value: string | null;
  onChange: (accountId: string | null) => void;
  w?: Record<string, number | string> | number | string;
}) {
  const [search, setSearch] = useState('');
  const chosen = useQuery({
    queryKey: ['account', value],
    queryFn: () => api.account(value!),
    enabled: value !== null,
  });
  const chosenLabel = value && chosen.data ? `${chosen.data.name} (${chosen.data.email})` : 'All accounts';
  // While the box shows the chosen account's name, that is no search.
  const [debounced] = useDebouncedValue(search === chosenLabel ? '' : search.trim(), 250);
  const accounts = useQuery({
    queryKey: ['accounts', { q: debounced, pageSize: 50, picker: true }],
    queryFn: () => api.accounts({ ...(debounced && { q: debounced }), pageSize: 50 }),
    placeholderData: keepPreviousData,
  });
  const options = [{ value: ALL, label: 'All accounts' }];
  const seen = new Set<string>();
  if (value && chosen.data) {
    options.push({ value: chosen.data.id, label: chosenLabel });
    seen.add(chosen.data.id);
  }
  for (const account of accounts.data?.items ?? []) {
    if (seen.has(account.id)) continue;
    options.push({ value: account.id, label: `${account.name} (${account.email})` });
  }
  return (
    <Select
      label="Account"
      data={options}
      value={value ?? ALL}
      onChange={(next) => onChange(!next || next === ALL ? null : next)}
      searchable
      searchValue={search}
      onSearchChange={setSearch}
      // The server filters; the options are already the matches.
      filter={({ options: all }) => all}
      allowDeselect={false}
      nothingFoundMessage="No account matches"
      w={w}
      comboboxProps={{ withinPortal: true }}
    />
  );
}
