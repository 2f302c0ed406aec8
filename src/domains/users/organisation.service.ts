import type { Db, DbOrTx, Row } from '../../db/database.ts';
import { AppError } from '../../errors.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { OrganisationSettings, UpdateOrganisationSettingsInput } from './organisation.ts';
import { requireAdmin } from './policy.ts';
import { findOrganisationById, updateOrganisation } from './users.repository.ts';
import type { Actor } from './users.ts';

export type OrganisationService = ReturnType<typeof createOrganisationService>;

function toSettings(row: Row<'organisations'>): OrganisationSettings {
  return { softBounceLimit: row.soft_bounce_limit, softBounceWindowDays: row.soft_bounce_window_days };
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
        await updateOrganisation(tx, actor.orgId, {
          ...(input.softBounceLimit !== undefined && { soft_bounce_limit: input.softBounceLimit }),
          ...(input.softBounceWindowDays !== undefined && {
            soft_bounce_window_days: input.softBounceWindowDays,
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
