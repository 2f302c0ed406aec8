import { Type, type Static } from '@sinclair/typebox';
import { Id, Nullable, StrictObject, Timestamp } from '../../schemas.ts';

export const AuditEntrySchema = StrictObject({
  id: Id,
  actorId: Nullable(Id),
  action: Type.String({ description: 'such as account.updated' }),
  targetType: Type.String(),
  targetId: Type.String(),
  fields: Type.Array(Type.String(), { description: 'the field paths that changed; never their values' }),
  createdAt: Timestamp,
});
export type AuditEntry = Static<typeof AuditEntrySchema>;

export const AuditQuery = StrictObject({
  targetId: Type.Optional(Type.String({ maxLength: 100 })),
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});
export type AuditQuery = Static<typeof AuditQuery>;

export interface AuditRecord {
  orgId: string;
  /** Null when the operator acted through the CLI on the machine. */
  actorId: string | null;
  action: string;
  targetType: 'account' | 'user' | 'team' | 'api_token' | 'contact' | 'organisation' | 'rule' | 'webhook';
  targetId: string;
  fields?: string[];
}

/**
 * The paths at which two plain JSON values differ (`smtp.port`, `incoming.folders`), for the audit
 * log: it records which fields changed, never their values.
 */
export function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  // A block added or removed whole names each field in it.
  const asObject = (value: unknown, other: unknown) =>
    isObject(value) ? value : value == null && isObject(other) ? {} : null;
  const left = asObject(before, after);
  const right = asObject(after, before);
  if (left && right) {
    const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
    return keys.flatMap((key) => changedPaths(left[key], right[key], prefix ? `${prefix}.${key}` : key));
  }
  const same = JSON.stringify(before ?? null) === JSON.stringify(after ?? null);
  return same ? [] : [prefix];
}
