export interface Page {
  page?: number;
  pageSize?: number;
}

export interface PageResult<Item> {
  items: Item[];
  total: number;
}

export interface PageWindow {
  limit: number;
  offset: number;
}

export function toPageWindow({ page = 1, pageSize = 50 }: Page): PageWindow {
  return { limit: pageSize, offset: (page - 1) * pageSize };
}
