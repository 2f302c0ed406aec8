import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import type { Actor } from '../users/users.ts';
import type { AccountsService } from '../accounts/accounts.service.ts';
import type { HealthState } from '../accounts/accounts.ts';
import { insertEvents } from '../automation/events.repository.ts';
import * as repo from './mailboxes.repository.ts';

export interface MailboxSettings {
  /** How long a worker holds a mailbox without renewing before another may take it. */
  leaseMs: number;
}

/** Receiving waits for a person in these states: a changed setting or password lifts them. */
const waitingStates: readonly HealthState[] = ['paused', 'password_required'];

/** Refused logins in a row before receiving pauses, so the provider does not lock the user out. */
export const AUTH_FAILURES_BEFORE_PAUSE = 3;

export interface MailboxClaim {
  accountId: string;
  cursor: string | null;
  authFailures: number;
}

export type MailboxesService = ReturnType<typeof createMailboxesService>;

/**
 * Which mailbox is read when and by whom: leases so that one worker at a time reads an account,
 * the reader's cursor, the schedule with jitter, and the incoming health with its pause.
 */
export function createMailboxesService(deps: {
  db: Db;
  now: Clock;
  accounts: AccountsService;
  settings: MailboxSettings;
  /** Tells a worker in this process that a mailbox is due now. */
  onDue?: () => void;
  /** Counts mailboxes whose lease ran out and which this worker took over. */
  onTakeover?: (count: number) => void;
}) {
  const { db, now, accounts, settings } = deps;
  const leaseUntil = () => new Date(now().getTime() + settings.leaseMs).toISOString();

  return {
    /** Due mailboxes for the sync `owner` in the worker process `workerId`. */
    async claimDue(owner: string, workerId: string, limit: number): Promise<MailboxClaim[]> {
      const current = now().toISOString();
      const due = await repo.findDueAccountIds(db, {
        now: current,
        limit,
        pausedStates: waitingStates,
        workerId,
      });
      const claims: MailboxClaim[] = [];
      for (const { id, lease_owner: previousOwner } of due) {
        const row = await repo.claimMailbox(db, {
          accountId: id,
          owner,
          now: current,
          leaseUntil: leaseUntil(),
        });
        if (!row) continue;
        claims.push({ accountId: id, cursor: row.cursor, authFailures: row.auth_failures });
        // A finished sync clears its lease: one still named had a worker that stopped mid-sync.
        if (previousOwner) deps.onTakeover?.(1);
      }
      return claims;
    },

    /** Part of the transaction that stores the messages the cursor covers. */
    async saveCursor(tx: DbOrTx, accountId: string, owner: string, cursor: string, imported: number) {
      const row = await repo.findMailbox(tx, accountId);
      await repo.updateHeldMailbox(tx, accountId, owner, {
        cursor,
        lease_until: leaseUntil(),
        imported: (row?.imported ?? 0) + imported,
      });
    },

    /** A sync that went through: health ok, the refusal count cleared, the next one in `afterMs`. */
    async finish(accountId: string, owner: string, afterMs: number): Promise<void> {
      await repo.updateHeldMailbox(db, accountId, owner, {
        lease_owner: null,
        lease_until: null,
        auth_failures: 0,
        last_sync_at: now().toISOString(),
        next_sync_at: new Date(now().getTime() + afterMs).toISOString(),
      });
      await accounts.recordHealth(accountId, 'incoming', 'ok', null);
    },

    /** Lets the mailbox go without a verdict (the worker is stopping, the account cannot read). */
    async release(accountId: string, owner: string, afterMs: number): Promise<void> {
      await repo.updateHeldMailbox(db, accountId, owner, {
        lease_owner: null,
        lease_until: null,
        next_sync_at: new Date(now().getTime() + afterMs).toISOString(),
      });
    },

    /**
     * A sync that failed: the health says how, with the server's words. A refused login counts,
     * and the third in a row pauses receiving until a setting or the password changes.
     */
    async fail(
      claim: MailboxClaim,
      owner: string,
      failure: { state: HealthState; lastError: string; authRefused: boolean; retryAfterMs: number },
    ): Promise<{ paused: boolean }> {
      const authFailures = failure.authRefused ? claim.authFailures + 1 : 0;
      const paused = authFailures >= AUTH_FAILURES_BEFORE_PAUSE;
      await repo.updateHeldMailbox(db, claim.accountId, owner, {
        lease_owner: null,
        lease_until: null,
        auth_failures: authFailures,
        last_sync_at: now().toISOString(),
        next_sync_at: new Date(now().getTime() + failure.retryAfterMs).toISOString(),
      });
      if (!paused) {
        await accounts.recordHealth(claim.accountId, 'incoming', failure.state, failure.lastError);
        return { paused };
      }
      const reason = `Receiving paused after ${authFailures} refused logins in a row: ${failure.lastError}`;
      await db.transaction().execute(async (tx) => {
        await accounts.recordHealth(claim.accountId, 'incoming', 'paused', reason, tx);
        const orgId = await accounts.orgOf(tx, claim.accountId);
        if (orgId) {
          await insertEvents(tx, [
            {
              id: newId(),
              org_id: orgId,
              type: 'account.receiving_paused',
              account_id: claim.accountId,
              message_id: null,
              contact_id: null,
              payload: JSON.stringify({ accountId: claim.accountId, reason }),
              created_at: now().toISOString(),
            },
          ]);
        }
      });
      return { paused };
    },

    async renew(accountId: string, owner: string): Promise<boolean> {
      return repo.updateHeldMailbox(db, accountId, owner, { lease_until: leaseUntil() });
    },

    /** Makes the mailbox due now: "Sync now", and new mail announced by IDLE. */
    async makeDue(accountId: string): Promise<void> {
      await repo.updateMailbox(db, accountId, { next_sync_at: now().toISOString() });
    },

    /** "Sync now" from a person who may manage the account. */
    async requestSync(actor: Actor, accountId: string): Promise<void> {
      await accounts.requireReceivable(db, actor, accountId);
      await repo.updateMailbox(db, accountId, { next_sync_at: now().toISOString() });
      deps.onDue?.();
    },

    async state(accountId: string) {
      return repo.findMailbox(db, accountId);
    },
  };
}
