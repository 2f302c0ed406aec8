import { Text } from '@mantine/core';
import { formatDate, formatDateTime } from '../format.ts';

/** A day on one line, such as when a row was created, with the time too on hover. */
export function Day({ iso }: { iso: string }) {
  return (
    <Text size="sm" title={formatDateTime(iso)} style={{ whiteSpace: 'nowrap' }}>
      {formatDate(iso)}
    </Text>
  );
}
