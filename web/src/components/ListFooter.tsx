import { Group, Pagination, Text } from '@mantine/core';
import { formatCount } from '../format.ts';

/**
 * Under a server-paged list: which rows are shown of how many (read out when it changes), and the
 * pages, with fewer page buttons on a narrow screen.
 */
export function ListFooter({
  noun,
  loading,
  page,
  pageSize,
  shown,
  total,
  narrow,
  onPage,
}: {
  /** What the list holds, in the plural: "accounts". */
  noun: string;
  loading: boolean;
  page: number;
  pageSize: number;
  shown: number;
  total: number;
  narrow: boolean;
  onPage: (page: number) => void;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const first = (page - 1) * pageSize + 1;
  return (
    <Group justify="space-between" wrap="wrap" mih={32}>
      <Text size="sm" c="dimmed" aria-live="polite">
        {loading
          ? `Loading ${noun}…`
          : total === 0
            ? ''
            : `${formatCount(first)}–${formatCount(first + shown - 1)} of ${formatCount(total)} ${noun}`}
      </Text>
      {pages > 1 && (
        <Pagination
          total={pages}
          value={Math.min(page, pages)}
          onChange={onPage}
          size="sm"
          siblings={narrow ? 0 : 1}
          getControlProps={(control) => ({
            'aria-label':
              control === 'previous' ? 'Previous page' : control === 'next' ? 'Next page' : control,
          })}
          getItemProps={(item) => ({ 'aria-label': `Page ${item}` })}
        />
      )}
    </Group>
  );
}
