import { Skeleton, Table, type TableProps, type TableThProps } from '@mantine/core';
import type { ReactNode } from 'react';

/** A column of a `ListTable`: its title, or the title with the header's width and alignment. */
export type Column = string | ({ title: string; hidden?: boolean } & Pick<TableThProps, 'w' | 'ta'>);

function ColumnHeader({ column }: { column: Column }) {
  const { title, hidden = false, ...th } = typeof column === 'string' ? { title: column } : column;
  return <Table.Th {...th}>{hidden ? <span className="visually-hidden">{title}</span> : title}</Table.Th>;
}

/**
 * A list's rows as a table, named for screen readers, with stand-in rows while it loads: a bar in
 * each cell (a short one under a hidden title: the actions), or one bar across each row.
 */
export function ListTable({
  label,
  columns,
  loading,
  minWidth,
  skeletonWidth = '80%',
  skeletonLines,
  plain = false,
  children,
  ...table
}: {
  label: string;
  columns: Column[];
  loading: boolean;
  /** Below this width the table scrolls sideways. */
  minWidth: number;
  /** How wide the stand-in bar in each cell is. */
  skeletonWidth?: string;
  /** Instead of a bar in each cell, this many stand-in rows of one bar this high. */
  skeletonLines?: { count: number; height: number };
  /** Rows not highlighted on hover, and a scroll area rather than the browser's own scrolling. */
  plain?: boolean;
  children: ReactNode;
} & Pick<TableProps, 'horizontalSpacing' | 'layout'>) {
  return (
    <Table.ScrollContainer minWidth={minWidth} type={plain ? 'scrollarea' : 'native'}>
      <Table
        verticalSpacing="xs"
        horizontalSpacing={plain ? undefined : 'sm'}
        highlightOnHover={!plain}
        {...table}
        aria-label={label}
        aria-busy={loading}
      >
        <Table.Thead>
          <Table.Tr>
            {columns.map((column, index) => (
              <ColumnHeader key={index} column={column} />
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {!loading ? (
            children
          ) : skeletonLines ? (
            <SkeletonLines columns={columns.length} {...skeletonLines} />
          ) : (
            <SkeletonRows columns={columns} width={skeletonWidth} />
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function SkeletonRows({ columns, width }: { columns: Column[]; width: string }) {
  return Array.from({ length: 8 }, (_, index) => (
    <Table.Tr key={index} data-testid="skeleton-row">
      {columns.map((column, cell) => (
        <Table.Td key={cell}>
          <Skeleton h={18} my={3} w={typeof column !== 'string' && column.hidden ? 24 : width} />
        </Table.Td>
      ))}
    </Table.Tr>
  ));
}

function SkeletonLines({ columns, count, height }: { columns: number; count: number; height: number }) {
  return Array.from({ length: count }, (_, index) => (
    <Table.Tr key={index} data-testid="skeleton-row">
      <Table.Td colSpan={columns}>
        <Skeleton h={height} />
      </Table.Td>
    </Table.Tr>
  ));
}
