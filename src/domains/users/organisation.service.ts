import type { Db, DbOrTx, Row } from '../../db/database.ts';
import { AppError } from '../../errors.ts';
import { findAccountRow } from '../accounts/accounts.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { OrganisationSettings, UpdateOrganisationSettingsInput } from './organisation.ts';
import { requireAdmin } from './policy.ts';
import { findOrganisationById, updateOrganisation } from './users.repository.ts';
import type { Actor } from './users.ts';

export type OrganisationService = ReturnType<typeof createOrganisationService>;

function toSettings(row: Row<'organisations'>): OrganisationSettings {
  return {
    softBounceLimit: row.soft_bounce_limit,
    softBounceWindowDays: row.soft_bounce_window_days,
    notificationAccountId: row.notification_account_id,
  };
}

/** Alerts go out on the organisation's behalf: from an own team account, not someone's personal one. */
async function requireNotificationAccount(tx: DbOrTx, orgId: string, id: string): Promise<void> {
  const account = await findAccountRow(tx, orgId, id);
  const problem = !account
    ? 'is not an account of this organisation'
    : account.scope !== 'team'
      ? 'must be a team account: alerts are sent on the organisation’s behalf'
      : account.type !== 'own'
        ? 'must be an own account: alerts are not marketing mail'
        : null;
  if (problem) {
    throw new AppError('VALIDATION_FAILED', `Invalid settings: notificationAccountId ${problem}.`, {
      fields: { notificationAccountId: problem },
    });
  }
}

export function createOrganisationService({ db, audit }: { db: Db; audit: AuditService }) {
  async function load(tx: DbOrTx, orgId: string): Promise<Row<'organisations'>> {
    const row = await findOrganisationById(tx, orgId);
    if (!row) throw new AppError('ORGANISATION_NOT_FOUND', `No organisation ${orgId}.`);
    return row;
  }

  return {
    async settings(actor: Actor): Promise<OrganisationSettings> {
      return toSettings(await load(db, actor.orgId));
    },

    /** Admins only; audited with the names of the settings changed. */
    async updateSettings(
      actor: Actor,
      input: UpdateOrganisationSettingsInput,
    ): Promise<OrganisationSettings> {
      requireAdmin(actor, 'change the organisation’s settings');
      return db.transaction().execute(async (tx) => {
        await load(tx, actor.orgId);
        if (input.notificationAccountId) {
          await requireNotificationAccount(tx, actor.orgId, input.notificationAccountId);
        }
        await updateOrganisation(tx, actor.orgId, {
          ...(input.softBounceLimit !== undefined && { soft_bounce_limit: input.softBounceLimit }),
          ...(input.softBounceWindowDays !== undefined && {
            soft_bounce_window_days: input.softBounceWindowDays,
          }),
          ...(input.notificationAccountId !== undefined && {
            notification_account_id: input.notificationAccountId,
          }),
        });
        await audit.record(tx, {
          orgId: actor.orgId,
          actorId: actor.userId,
          action: 'organisation.settings_changed',
          targetType: 'organisation',
          targetId: actor.orgId,
          fields: Object.keys(input),
        });
        return toSettings(await load(tx, actor.orgId));
      });
    },
  };
}
