import type { Clock } from '../../clock.ts';
import type { DbOrTx, NewRow } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import type { MessagesService } from '../messages/messages.service.ts';
import { findOrganisationById } from '../users/users.repository.ts';
import { insertNotifications } from './rules.repository.ts';

export interface Alert {
  orgId: string;
  userIds: readonly string[];
  title: string;
  body: string;
  eventId?: string | null;
  ruleId?: string | null;
  contactId?: string | null;
}

export type Notifier = ReturnType<typeof createNotifier>;

/**
 * Alerts people: an in-app notification each and, when an admin has chosen the organisation's
 * notification account, an email each from it. Both are written in the caller's transaction, so an
 * alert exists exactly when the change that caused it does, and a retried caller sends no second one.
 */
export function createNotifier({ now, messages }: { now: Clock; messages: MessagesService }) {
  async function email(tx: DbOrTx, alert: Alert, accountId: string): Promise<string> {
    const users = await tx
      .selectFrom('users')
      .select(['id', 'email'])
      .where('org_id', '=', alert.orgId)
      .where('id', 'in', alert.userIds)
      .execute();
    try {
      // One message each: the people alerted do not see each other's addresses.
      await messages.queueForOrganisation(
        tx,
        alert.orgId,
        users.map((user) => ({
          accountId,
          to: [user.email],
          subject: alert.title,
          text: `${alert.body}\n\n— Mailroom, on behalf of your organisation's automation rules.`,
        })),
      );
      return `emailed ${users.length}`;
    } catch (error) {
      // A notification account that cannot send (paused, deleted) must not hold the alert back:
      // the in-app notifications still go out, and the detail says why no email did.
      if (error instanceof AppError) return `no email: ${error.message}`;
      throw error;
    }
  }

  return {
    /** Returns what was done, for a rule run's log; alerts nobody when `userIds` is empty. */
    async notifyUsers(tx: DbOrTx, alert: Alert): Promise<string> {
      if (alert.userIds.length === 0) return 'nobody to alert';
      const at = now().toISOString();
      await insertNotifications(
        tx,
        alert.userIds.map((userId): NewRow<'notifications'> => ({
          id: newId(),
          org_id: alert.orgId,
          user_id: userId,
          title: alert.title,
          body: alert.body,
          event_id: alert.eventId ?? null,
          rule_id: alert.ruleId ?? null,
          contact_id: alert.contactId ?? null,
          read_at: null,
          created_at: at,
        })),
      );
      const alerted = `alerted ${alert.userIds.length} ${alert.userIds.length === 1 ? 'user' : 'users'}`;
      const accountId = (await findOrganisationById(tx, alert.orgId))?.notification_account_id;
      return accountId ? `${alerted}; ${await email(tx, alert, accountId)}` : alerted;
    },
  };
}
