import { Group, SegmentedControl, Select, Stack, Text, TextInput, type TextInputProps } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import type { ReactNode } from 'react';

/** A list's filters, side by side: a search landmark named for what they filter. */
export function FilterBar({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Group gap="sm" align="flex-end" wrap="wrap" role="search" aria-label={label}>
      {children}
    </Group>
  );
}

/** The search box of a list: of people or accounts by name or address, unless it says otherwise. */
export function SearchInput({
  onChange,
  placeholder = 'Name or address',
  ...props
}: { value: string; onChange: (text: string) => void } & Pick<TextInputProps, 'w' | 'maw' | 'placeholder'>) {
  return (
    <TextInput
      label="Search"
      placeholder={placeholder}
      leftSection={<IconSearch size={16} aria-hidden />}
      onChange={(event) => onChange(event.currentTarget.value)}
      type="search"
      {...props}
    />
  );
}

/** A few choices in a row, named by the label above them (a radio group for assistive technology). */
export function SegmentedFilter<Value extends string>({
  label,
  data,
  value,
  onChange,
}: {
  label: string;
  /** The choices, each value with its words, in the order shown. */
  data: Record<Value, string>;
  value: Value;
  onChange: (value: Value) => void;
}) {
  const id = `${label.toLowerCase()}-filter`;
  const choices = (Object.entries(data) as [Value, string][]).map(([choice, words]) => ({
    value: choice,
    label: words,
  }));
  return (
    <Stack gap={4}>
      <Text size="sm" fw={500} id={id}>
        {label}
      </Text>
      <SegmentedControl aria-labelledby={id} value={value} onChange={onChange} data={choices} />
    </Stack>
  );
}

/** "Status": any status, or one of the statuses given, each in its words. */
export function StatusFilter<Status extends string>({
  statuses,
  words,
  width,
  value,
  onChange,
}: {
  statuses: readonly Status[];
  words: Record<Status, string> | ((status: Status) => string);
  /** How wide it is from the `xs` breakpoint up; below that it takes the whole row. */
  width: number;
  value: string;
  onChange: (status: string) => void;
}) {
  const wordsFor = (status: Status) => (typeof words === 'function' ? words(status) : words[status]);
  return (
    <Select
      label="Status"
      value={value}
      onChange={(status) => onChange(status ?? 'any')}
      allowDeselect={false}
      w={{ base: '100%', xs: width }}
      data={[
        { value: 'any', label: 'Any status' },
        ...statuses.map((status) => ({ value: status, label: wordsFor(status) })),
      ]}
    />
  );
}
