import type { DbOrTx, NewRow } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import type { EventType } from './events.ts';

/** Who made a change: a user's request, or a rule's action (and how deep in a chain of rules). */
export interface EventCause {
  actorId?: string | null;
  ruleId?: string | null;
  ruleDepth?: number;
}

/** An event row: its type, the ids it is about (for filtering and timelines), and its payload. */
export function eventRow(
  orgId: string,
  type: EventType,
  about: { accountId?: string | null; messageId?: string | null; contactId?: string | null },
  payload: object,
  at: string,
  cause: EventCause = {},
): NewRow<'events'> {
  return {
    id: newId(),
    org_id: orgId,
    type,
    account_id: about.accountId ?? null,
    message_id: about.messageId ?? null,
    contact_id: about.contactId ?? null,
    payload: JSON.stringify(payload),
    actor_id: cause.actorId ?? null,
    caused_by_rule_id: cause.ruleId ?? null,
    rule_depth: cause.ruleDepth ?? 0,
    created_at: at,
  };
}

/** Events are written in the transaction of the change they announce, so none is lost or doubled. */
export async function insertEvents(tx: DbOrTx, rows: NewRow<'events'>[]): Promise<void> {
  for (let start = 0; start < rows.length; start += 200) {
    await tx
      .insertInto('events')
      .values(rows.slice(start, start + 200))
      .execute();
  }
}

export function listEventRows(
  db: DbOrTx,
  orgId: string,
  filter: { type?: string; contactId?: string; since?: string; afterId?: string; limit: number },
) {
  let query = db.selectFrom('events').selectAll().where('org_id', '=', orgId);
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.contactId) query = query.where('contact_id', '=', filter.contactId);
  if (filter.since) query = query.where('created_at', '>=', filter.since);
  if (filter.afterId) query = query.where('id', '>', filter.afterId);
  return query.orderBy('id').limit(filter.limit).execute();
}
