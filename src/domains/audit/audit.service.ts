import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { requireAdmin } from '../users/policy.ts';
import type { Actor } from '../users/users.ts';
import { toPageWindow, type PageResult } from '../../pagination.ts';
import type { AuditEntry, AuditQuery, AuditRecord } from './audit.ts';
import * as repo from './audit.repository.ts';

export type AuditService = ReturnType<typeof createAuditService>;

export function createAuditService({ db, now }: { db: Db; now: Clock }) {
  return {
    /** Written in the same transaction as the change it records, so neither exists without the other. */
    async record(tx: DbOrTx, entry: AuditRecord): Promise<void> {
      await repo.insertAuditRow(tx, {
        id: newId(),
        org_id: entry.orgId,
        actor_id: entry.actorId,
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId,
        fields: JSON.stringify(entry.fields ?? []),
        created_at: now().toISOString(),
      });
    },

    async list(actor: Actor, query: AuditQuery): Promise<PageResult<AuditEntry>> {
      requireAdmin(actor, 'read the audit log');
      const { rows, total } = await repo.listAuditRows(db, actor.orgId, query.targetId, toPageWindow(query));
      return {
        items: rows.map((row) => ({
          id: row.id,
          actorId: row.actor_id,
          action: row.action,
          targetType: row.target_type,
          targetId: row.target_id,
          fields: JSON.parse(row.fields) as string[],
          createdAt: row.created_at,
        })),
        total,
      };
    },
  };
}
