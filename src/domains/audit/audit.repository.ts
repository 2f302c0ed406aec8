import type { DbOrTx, NewRow } from '../../db/database.ts';
import type { PageWindow } from '../../pagination.ts';

export async function insertAuditRow(db: DbOrTx, row: NewRow<'audit_log'>): Promise<void> {
  await db.insertInto('audit_log').values(row).execute();
}

export async function listAuditRows(
  db: DbOrTx,
  orgId: string,
  targetId: string | undefined,
  window: PageWindow,
) {
  let query = db.selectFrom('audit_log').where('org_id', '=', orgId);
  if (targetId) query = query.where('target_id', '=', targetId);
  const [rows, { count }] = await Promise.all([
    query.selectAll().orderBy('id', 'desc').limit(window.limit).offset(window.offset).execute(),
    query.select((eb) => eb.fn.countAll<number | string>().as('count')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count) };
}
