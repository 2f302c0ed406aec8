import type { DbOrTx, NewRow, Timestamp } from '../../db/database.ts';

const CHUNK = 200;

function chunks<Item>(items: readonly Item[]): Item[][] {
  const out: Item[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) out.push(items.slice(start, start + CHUNK));
  return out;
}

/** Incoming messages of the organisation with one of these content hashes. */
export async function findIncomingByHashes(db: DbOrTx, orgId: string, hashes: readonly string[]) {
  const rows = [];
  for (const part of chunks([...new Set(hashes)])) {
    rows.push(
      ...(await db
        .selectFrom('messages')
        .select(['id', 'message_id_header', 'content_hash'])
        .where('org_id', '=', orgId)
        .where('direction', '=', 'in')
        .where('content_hash', 'in', part)
        .execute()),
    );
  }
  return rows;
}

/**
 * Message-ID (without angle brackets) → stored message id, for threading; the oldest message wins
 * a shared id. Sent messages keep their header with its brackets, received ones without.
 */
export async function findIdsByMessageIdHeader(
  db: DbOrTx,
  orgId: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const forms = [...new Set(ids)].filter((id) => id !== '').flatMap((id) => [id, `<${id}>`]);
  for (const part of chunks(forms)) {
    const rows = await db
      .selectFrom('messages')
      .select(['id', 'message_id_header'])
      .where('org_id', '=', orgId)
      .where('message_id_header', 'in', part)
      .orderBy('id')
      .execute();
    for (const row of rows) {
      const id = row.message_id_header.replace(/^<(.*)>$/, '$1');
      if (!found.has(id)) found.set(id, row.id);
    }
  }
  return found;
}

/**
 * Which of these values of `column` (message ids, or the server's ids) the account has a placement
 * for: the messages it has stored already.
 */
export async function findPlaced(
  db: DbOrTx,
  accountId: string,
  column: 'message_id' | 'server_id',
  values: readonly string[],
) {
  const placed: string[] = [];
  for (const part of chunks([...new Set(values)])) {
    const rows = await db
      .selectFrom('message_placements')
      .select(column)
      .where('account_id', '=', accountId)
      .where(column, 'in', part)
      .execute();
    placed.push(...rows.map((row) => row[column]));
  }
  return placed;
}

/** A message read again (a renumbered folder, a re-read batch) keeps its placement, at its new id. */
export async function movePlacement(
  db: DbOrTx,
  accountId: string,
  messageId: string,
  folder: string,
  serverId: string,
) {
  await db
    .updateTable('message_placements')
    .set({ folder, server_id: serverId })
    .where('account_id', '=', accountId)
    .where('message_id', '=', messageId)
    .execute();
}

/** The server says the messages with these ids are in `folder` now: their placements follow, if elsewhere. */
export async function refilePlacements(
  db: DbOrTx,
  accountId: string,
  folder: string,
  serverIds: readonly string[],
) {
  for (const part of chunks(serverIds)) {
    await db
      .updateTable('message_placements')
      .set({ folder })
      .where('account_id', '=', accountId)
      .where('server_id', 'in', part)
      .where('folder', '<>', folder)
      .execute();
  }
}

export async function insertIncomingRows(
  db: DbOrTx,
  messages: NewRow<'messages'>[],
  placements: NewRow<'message_placements'>[],
) {
  // Fewer rows per statement for messages: each carries its text and html.
  for (let start = 0; start < messages.length; start += 20) {
    await db
      .insertInto('messages')
      .values(messages.slice(start, start + 20))
      .execute();
  }
  for (const part of chunks(placements)) await db.insertInto('message_placements').values(part).execute();
}

/**
 * The server copies of an account's stored messages that its delivery options say to remove:
 * deleted here (with removeWhenDeleted), every one (leaveOnServer off), first seen before
 * `seenBefore` (removeAfterDays), or bounce and complaint notices (deleteBounces), which were
 * recorded in the transaction that stored them. Only stored messages have placements: nothing is
 * removed from the server before it is stored here.
 */
export function findServerRemovals(
  db: DbOrTx,
  accountId: string,
  rule: { all: boolean; deletedHere: boolean; seenBefore: Timestamp | null; notices: boolean },
) {
  return db
    .selectFrom('message_placements')
    .select(['id', 'server_id'])
    .where('account_id', '=', accountId)
    .where('server_removed_at', 'is', null)
    .where((eb) => {
      if (rule.all) return eb.lit(true);
      const reasons = [];
      if (rule.deletedHere) reasons.push(eb('deleted_at', 'is not', null));
      if (rule.seenBefore) reasons.push(eb('created_at', '<=', rule.seenBefore));
      if (rule.notices) {
        reasons.push(
          eb(
            'message_id',
            'in',
            eb.selectFrom('messages').select('id').where('mail_kind', 'in', ['bounce', 'complaint']),
          ),
        );
      }
      return reasons.length > 0 ? eb.or(reasons) : eb.lit(false);
    })
    .orderBy('created_at')
    .limit(1000)
    .execute();
}

export async function markServerRemoved(db: DbOrTx, placementIds: readonly string[], now: Timestamp) {
  for (const part of chunks(placementIds)) {
    await db
      .updateTable('message_placements')
      .set({ server_removed_at: now })
      .where('id', 'in', part)
      .execute();
  }
}
