import type { DbOrTx, RowUpdate, Timestamp } from '../../db/database.ts';

/**
 * Active own accounts whose mailbox is due: never synced, or due and not held by a live lease.
 * Receiving paused for a person (refused logins, a password not at hand) is passed over, and so
 * is an account whose memory-only passwords are with another worker than `workerId`.
 */
export function findDueAccountIds(
  db: DbOrTx,
  {
    now,
    limit,
    pausedStates,
    workerId,
  }: { now: Timestamp; limit: number; pausedStates: readonly string[]; workerId: string },
) {
  return db
    .selectFrom('accounts')
    .leftJoin('mailbox_syncs', 'mailbox_syncs.account_id', 'accounts.id')
    .select(['accounts.id', 'mailbox_syncs.lease_owner'])
    .where('accounts.status', '=', 'active')
    .where('accounts.type', '=', 'own')
    .where('accounts.incoming_state', 'not in', pausedStates)
    .where((eb) =>
      eb.or([eb('accounts.password_holder', 'is', null), eb('accounts.password_holder', '=', workerId)]),
    )
    .where((eb) =>
      eb.or([
        eb('mailbox_syncs.account_id', 'is', null),
        eb.and([
          eb('mailbox_syncs.next_sync_at', '<=', now),
          eb.or([eb('mailbox_syncs.lease_until', 'is', null), eb('mailbox_syncs.lease_until', '<', now)]),
        ]),
      ]),
    )
    .orderBy('mailbox_syncs.next_sync_at')
    .limit(limit)
    .execute();
}

/**
 * Takes the mailbox for one worker, atomically: the row is created on first use, and an existing
 * one is taken only when it is due and its lease is free or expired. Returns the row, or nothing
 * when another worker was first.
 */
export function claimMailbox(
  db: DbOrTx,
  {
    accountId,
    owner,
    now,
    leaseUntil,
  }: { accountId: string; owner: string; now: Timestamp; leaseUntil: Timestamp },
) {
  return db
    .insertInto('mailbox_syncs')
    .values({
      account_id: accountId,
      cursor: null,
      next_sync_at: now,
      lease_owner: owner,
      lease_until: leaseUntil,
      auth_failures: 0,
      last_sync_at: null,
      imported: 0,
    })
    .onConflict((conflict) =>
      conflict
        .column('account_id')
        .doUpdateSet({ lease_owner: owner, lease_until: leaseUntil })
        .where((eb) =>
          eb.and([
            eb('mailbox_syncs.next_sync_at', '<=', now),
            eb.or([eb('mailbox_syncs.lease_until', 'is', null), eb('mailbox_syncs.lease_until', '<', now)]),
          ]),
        ),
    )
    .returningAll()
    .executeTakeFirst();
}

/** Changes the mailbox only while this worker holds it. */
export async function updateHeldMailbox(
  db: DbOrTx,
  accountId: string,
  owner: string,
  changes: RowUpdate<'mailbox_syncs'>,
): Promise<boolean> {
  const result = await db
    .updateTable('mailbox_syncs')
    .set(changes)
    .where('account_id', '=', accountId)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function updateMailbox(db: DbOrTx, accountId: string, changes: RowUpdate<'mailbox_syncs'>) {
  await db.updateTable('mailbox_syncs').set(changes).where('account_id', '=', accountId).execute();
}

export function findMailbox(db: DbOrTx, accountId: string) {
  return db.selectFrom('mailbox_syncs').selectAll().where('account_id', '=', accountId).executeTakeFirst();
}
