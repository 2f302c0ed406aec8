import type { DbOrTx, Dialect, NewRow, Row, RowUpdate, Tx } from '../../db/database.ts';
import type { PageWindow } from '../../pagination.ts';

export function findOrganisationById(db: DbOrTx, id: string) {
  return db.selectFrom('organisations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateOrganisation(
  db: DbOrTx,
  id: string,
  changes: RowUpdate<'organisations'>,
): Promise<void> {
  await db.updateTable('organisations').set(changes).where('id', '=', id).execute();
}

export function findOrganisationByName(db: DbOrTx, name: string) {
  return db.selectFrom('organisations').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function insertOrganisation(
  db: DbOrTx,
  row: NewRow<'organisations'>,
): Promise<Row<'organisations'>> {
  return db.insertInto('organisations').values(row).returningAll().executeTakeFirstOrThrow();
}

/**
 * Serialises changes to an organisation's admins: on PostgreSQL a row lock on the organisation, on
 * SQLite the database-wide write lock that every transaction takes.
 */
export async function lockOrganisation(tx: Tx, dialect: Dialect, orgId: string): Promise<void> {
  if (dialect === 'postgres') {
    await tx.selectFrom('organisations').select('id').where('id', '=', orgId).forUpdate().execute();
  }
}

export function findUserById(db: DbOrTx, id: string) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findUserByEmail(db: DbOrTx, email: string) {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function insertUser(db: DbOrTx, row: NewRow<'users'>): Promise<Row<'users'>> {
  await db.insertInto('users').values(row).execute();
  return row;
}

export async function updateUserRow(db: DbOrTx, id: string, changes: RowUpdate<'users'>): Promise<void> {
  await db.updateTable('users').set(changes).where('id', '=', id).execute();
}

export async function deleteUserRow(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

export function listUserRows(db: DbOrTx, orgId: string, { limit, offset }: PageWindow) {
  return db
    .selectFrom('users')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('email')
    .limit(limit)
    .offset(offset)
    .execute();
}

export async function countRows(
  db: DbOrTx,
  table: 'users' | 'teams',
  orgId: string,
  role?: Row<'users'>['role'],
): Promise<number> {
  let query = db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('org_id', '=', orgId);
  if (role && table === 'users') query = query.where('role', '=', role);
  const { count } = await query.executeTakeFirstOrThrow();
  return Number(count);
}

export function findUserIdsInOrganisation(db: DbOrTx, orgId: string, ids: readonly string[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('users').select('id').where('org_id', '=', orgId).where('id', 'in', ids).execute();
}

export function findTeam(db: DbOrTx, orgId: string, id: string) {
  return db
    .selectFrom('teams')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function findTeamByName(db: DbOrTx, orgId: string, name: string) {
  return db
    .selectFrom('teams')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('name', '=', name)
    .executeTakeFirst();
}

export function listTeamRows(db: DbOrTx, orgId: string, { limit, offset }: PageWindow) {
  return db
    .selectFrom('teams')
    .selectAll()
    .where('org_id', '=', orgId)
    .orderBy('name')
    .limit(limit)
    .offset(offset)
    .execute();
}

export async function insertTeam(db: DbOrTx, row: NewRow<'teams'>): Promise<Row<'teams'>> {
  await db.insertInto('teams').values(row).execute();
  return row;
}

export async function updateTeamRow(db: DbOrTx, id: string, changes: RowUpdate<'teams'>): Promise<void> {
  await db.updateTable('teams').set(changes).where('id', '=', id).execute();
}

export async function deleteTeamRow(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('teams').where('id', '=', id).execute();
}

export async function replaceTeamMembers(tx: Tx, teamId: string, userIds: readonly string[]): Promise<void> {
  await tx.deleteFrom('team_members').where('team_id', '=', teamId).execute();
  if (userIds.length > 0) {
    await tx
      .insertInto('team_members')
      .values(userIds.map((userId) => ({ team_id: teamId, user_id: userId })))
      .execute();
  }
}

export async function findTeamMemberIds(
  db: DbOrTx,
  teamIds: readonly string[],
): Promise<Map<string, string[]>> {
  const members = new Map<string, string[]>(teamIds.map((id) => [id, []]));
  if (teamIds.length === 0) return members;
  const rows = await db
    .selectFrom('team_members')
    .select(['team_id', 'user_id'])
    .where('team_id', 'in', teamIds)
    .orderBy('user_id')
    .execute();
  for (const row of rows) members.get(row.team_id)?.push(row.user_id);
  return members;
}
