import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import type { Database, DbOrTx, Dialect, NewRow, RowUpdate, Timestamp } from '../../db/database.ts';
import { containing } from '../../db/like.ts';
import type { PageWindow } from '../../pagination.ts';

const accountColumns = [
  'accounts.id',
  'accounts.org_id',
  'accounts.owner_id',
  'accounts.type',
  'accounts.scope',
  'accounts.name',
  'accounts.email',
  'accounts.display_name',
  'accounts.organization',
  'accounts.reply_to',
  'accounts.reply_to_name',
  'accounts.from_name_template',
  'accounts.reply_to_name_template',
  'accounts.settings',
  'accounts.secret_kinds',
  'accounts.password_holder',
  'accounts.memory_kinds',
  'accounts.status',
  'accounts.rejection_reason',
  'accounts.approved_at',
  'accounts.outgoing_state',
  'accounts.outgoing_last_error',
  'accounts.outgoing_last_ok_at',
  'accounts.incoming_state',
  'accounts.incoming_last_error',
  'accounts.incoming_last_ok_at',
  'accounts.last_used_at',
  'accounts.created_at',
  'accounts.updated_at',
  'users.name as owner_name',
  'users.email as owner_email',
] as const;

function selectAccounts(db: DbOrTx) {
  return db.selectFrom('accounts').innerJoin('users', 'users.id', 'accounts.owner_id').select(accountColumns);
}

export type AccountRow = Awaited<ReturnType<typeof findAccountRow>> & object;

export function findAccountRow(db: DbOrTx, orgId: string, id: string) {
  return selectAccounts(db)
    .where('accounts.org_id', '=', orgId)
    .where('accounts.id', '=', id)
    .executeTakeFirst();
}

export function findAccountRowById(db: DbOrTx, id: string) {
  return selectAccounts(db).where('accounts.id', '=', id).executeTakeFirst();
}

export async function insertAccountRow(db: DbOrTx, row: NewRow<'accounts'>): Promise<void> {
  await db.insertInto('accounts').values(row).execute();
}

export async function updateAccountRow(
  db: DbOrTx,
  id: string,
  changes: RowUpdate<'accounts'>,
): Promise<void> {
  await db.updateTable('accounts').set(changes).where('id', '=', id).execute();
}

/** A changed setting or password: the mailbox is read at once, its count of refused logins cleared. */
export async function resumeMailbox(db: DbOrTx, accountId: string, now: Timestamp): Promise<void> {
  await db
    .updateTable('mailbox_syncs')
    .set({ auth_failures: 0, next_sync_at: now })
    .where('account_id', '=', accountId)
    .execute();
}

export async function deleteAccountRow(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('accounts').where('id', '=', id).execute();
}

export function findAccountSecrets(db: DbOrTx, id: string) {
  return db.selectFrom('accounts').select(['secrets']).where('id', '=', id).executeTakeFirst();
}

export interface AccountFilter {
  orgId: string;
  /** Only the accounts this user may use (their personal ones and the team's); all when undefined. */
  usableBy?: string;
  /** Marks each row with whether it is this user's default. */
  caller: string;
  /** Already folded for search. */
  q?: string;
  type?: 'own' | 'marketing';
  scope?: 'personal' | 'team';
  status?: 'pending_approval' | 'active' | 'rejected' | 'disabled';
}

/**
 * Substring search on the folded text, through a trigram index: pg_trgm on PostgreSQL, the FTS5
 * trigram table on SQLite. FTS5 cannot take LIKE's escape character and needs three characters to
 * use its index, so other queries scan the folded column instead.
 */
function matchesSearch(dialect: Dialect, q: string) {
  return (eb: ExpressionBuilder<Database, 'accounts'>) => {
    if (dialect === 'sqlite' && q.length >= 3 && !/[\\%_]/.test(q)) {
      return eb(
        sql.ref('accounts.rowid'),
        'in',
        sql<number>`(select rowid from accounts_search where search_folded like ${`%${q}%`})`,
      );
    }
    return eb(sql`accounts.search_folded`, 'like', containing(q));
  };
}

function filtered<O>(
  query: SelectQueryBuilder<Database, 'accounts' | 'users', O>,
  dialect: Dialect,
  filter: AccountFilter,
) {
  let result = query.where('accounts.org_id', '=', filter.orgId);
  if (filter.usableBy) {
    const user = filter.usableBy;
    result = result.where((eb) =>
      eb.or([eb('accounts.scope', '=', 'team'), eb('accounts.owner_id', '=', user)]),
    );
  }
  if (filter.type) result = result.where('accounts.type', '=', filter.type);
  if (filter.scope) result = result.where('accounts.scope', '=', filter.scope);
  if (filter.status) result = result.where('accounts.status', '=', filter.status);
  if (filter.q) result = result.where(matchesSearch(dialect, filter.q));
  return result;
}

export async function listAccountRows(
  db: DbOrTx,
  dialect: Dialect,
  filter: AccountFilter,
  window: PageWindow,
) {
  const base = db.selectFrom('accounts').innerJoin('users', 'users.id', 'accounts.owner_id');
  const [rows, { count }] = await Promise.all([
    filtered(base.select(accountColumns), dialect, filter)
      .leftJoin('default_accounts', (join) =>
        join
          .onRef('default_accounts.account_id', '=', 'accounts.id')
          .on('default_accounts.user_id', '=', filter.caller),
      )
      .select('default_accounts.user_id as default_user_id')
      .orderBy('accounts.name_folded')
      .orderBy('accounts.id')
      .limit(window.limit)
      .offset(window.offset)
      .execute(),
    filtered(
      base.select((eb) => eb.fn.countAll<number | string>().as('count')),
      dialect,
      filter,
    ).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count) };
}

export function findDefaultAccountId(db: DbOrTx, userId: string) {
  return db
    .selectFrom('default_accounts')
    .select('account_id')
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export async function setDefaultAccount(db: DbOrTx, userId: string, accountId: string): Promise<void> {
  await db
    .insertInto('default_accounts')
    .values({ user_id: userId, account_id: accountId })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ account_id: accountId }))
    .execute();
}

export async function clearDefaultAccount(db: DbOrTx, userId: string): Promise<void> {
  await db.deleteFrom('default_accounts').where('user_id', '=', userId).execute();
}

/** Makes the account the default of those given users who have none yet. */
export async function setDefaultWhereMissing(db: DbOrTx, userIds: readonly string[], accountId: string) {
  if (userIds.length === 0) return;
  await db
    .insertInto('default_accounts')
    .values(userIds.map((userId) => ({ user_id: userId, account_id: accountId })))
    .onConflict((oc) => oc.column('user_id').doNothing())
    .execute();
}

export function findUsersWithDefault(db: DbOrTx, accountIds: readonly string[]) {
  if (accountIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('default_accounts')
    .innerJoin('users', 'users.id', 'default_accounts.user_id')
    .select(['default_accounts.account_id', 'users.id', 'users.name', 'users.email'])
    .where('default_accounts.account_id', 'in', accountIds)
    .orderBy('users.email')
    .execute();
}

export function findOrganisationUserIds(db: DbOrTx, orgId: string) {
  return db.selectFrom('users').select('id').where('org_id', '=', orgId).execute();
}

/** The user's most recently used active account other than `excludedId`, or none. */
export function findMostRecentlyUsedAccount(db: DbOrTx, orgId: string, userId: string, excludedId: string) {
  return db
    .selectFrom('accounts')
    .select('id')
    .where('org_id', '=', orgId)
    .where('status', '=', 'active')
    .where('id', '!=', excludedId)
    .where((eb) => eb.or([eb('scope', '=', 'team'), eb('owner_id', '=', userId)]))
    .orderBy('last_used_at', (order) => order.desc().nullsLast())
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export function listSecretRows(db: DbOrTx, afterId: string | null, limit: number) {
  let query = db.selectFrom('accounts').select(['id', 'secrets']).where('secrets', 'is not', null);
  if (afterId) query = query.where('id', '>', afterId);
  return query.orderBy('id').limit(limit).execute();
}

export async function replaceSecrets(
  db: DbOrTx,
  id: string,
  expected: string,
  next: string,
): Promise<boolean> {
  const result = await db
    .updateTable('accounts')
    .set({ secrets: next })
    .where('id', '=', id)
    .where('secrets', '=', expected)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
