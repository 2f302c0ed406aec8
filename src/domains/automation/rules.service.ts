import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, Row } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { AppError, type FieldErrors } from '../../errors.ts';
import { findAccountRow } from '../accounts/accounts.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { findContactRow } from '../contacts/contacts.repository.ts';
import { requireAdmin } from '../users/policy.ts';
import { findTeam, findUserIdsInOrganisation } from '../users/users.repository.ts';
import type { Actor } from '../users/users.ts';
import { listEventRows } from './events.repository.ts';
import * as repo from './rules.repository.ts';
import { findEndpoint } from './webhooks.repository.ts';
import type {
  ActionResult,
  CreateRuleInput,
  Event,
  EventListQuery,
  Notification,
  Rule,
  RuleAction,
  RuleConditions,
  RuleRun,
  UpdateRuleInput,
} from './rules.ts';

export type RulesService = ReturnType<typeof createRulesService>;

export function toRule(row: Row<'rules'>): Rule {
  return {
    id: row.id,
    name: row.name,
    trigger: row.trigger as Rule['trigger'],
    conditions: JSON.parse(row.conditions) as RuleConditions,
    actions: JSON.parse(row.actions) as RuleAction[],
    enabled: row.enabled === 1,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toEvent(row: Row<'events'>): Event {
  return {
    id: row.id,
    type: row.type as Event['type'],
    createdAt: row.created_at,
    actorId: row.actor_id,
    causedByRuleId: row.caused_by_rule_id,
    accountId: row.account_id,
    messageId: row.message_id,
    contactId: row.contact_id,
    data: JSON.parse(row.payload) as Event['data'],
  };
}

function toRun(row: Row<'rule_runs'>): RuleRun {
  return {
    id: row.id,
    ruleId: row.rule_id,
    eventId: row.event_id,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    actions: JSON.parse(row.results) as ActionResult[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toNotification(row: Row<'notifications'>): Notification {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    eventId: row.event_id,
    ruleId: row.rule_id,
    contactId: row.contact_id,
    readAt: row.read_at,
    createdAt: row.created_at,
  };
}

/**
 * Rules (admins write them, everyone reads them), the event log and each user's notifications.
 * Rules run in the worker (src/workers/automation.ts), never in the request.
 */
export function createRulesService({ db, now, audit }: { db: Db; now: Clock; audit: AuditService }) {
  /** What a rule names must be in the organisation: the account, the users and teams it alerts. */
  async function checkReferences(tx: DbOrTx, actor: Actor, input: Partial<CreateRuleInput>): Promise<void> {
    const fields: FieldErrors = {};
    const accountId = input.conditions?.accountId;
    if (accountId && !(await findAccountRow(tx, actor.orgId, accountId))) {
      fields['conditions.accountId'] = `no account ${accountId} in this organisation`;
    }
    for (const [index, action] of (input.actions ?? []).entries()) {
      if (action.type === 'webhook') {
        if (!(await findEndpoint(tx, actor.orgId, action.endpointId))) {
          fields[`actions.${index}.endpointId`] =
            `no webhook endpoint ${action.endpointId} in this organisation`;
        }
        continue;
      }
      if (action.type !== 'alert' || action.to === 'contact_owner') continue;
      if (
        'userId' in action.to &&
        (await findUserIdsInOrganisation(tx, actor.orgId, [action.to.userId])).length === 0
      ) {
        fields[`actions.${index}.to.userId`] = `no user ${action.to.userId} in this organisation`;
      }
      if ('teamId' in action.to && !(await findTeam(tx, actor.orgId, action.to.teamId))) {
        fields[`actions.${index}.to.teamId`] = `no team ${action.to.teamId} in this organisation`;
      }
    }
    if (Object.keys(fields).length > 0) {
      throw new AppError('VALIDATION_FAILED', 'The rule names what is not in this organisation.', { fields });
    }
  }

  async function load(tx: DbOrTx, actor: Actor, id: string): Promise<Row<'rules'>> {
    const row = await repo.findRule(tx, actor.orgId, id);
    if (!row) throw new AppError('RULE_NOT_FOUND', `No rule ${id}.`);
    return row;
  }

  function recordChange(tx: DbOrTx, actor: Actor, action: string, id: string, fields: string[]) {
    return audit.record(tx, {
      orgId: actor.orgId,
      actorId: actor.userId,
      action,
      targetType: 'rule',
      targetId: id,
      fields,
    });
  }

  return {
    async list(actor: Actor): Promise<{ items: Rule[]; total: number }> {
      const rows = await repo.listRules(db, actor.orgId);
      return { items: rows.map(toRule), total: rows.length };
    },

    async get(actor: Actor, id: string): Promise<Rule> {
      return toRule(await load(db, actor, id));
    },

    async create(actor: Actor, input: CreateRuleInput): Promise<Rule> {
      requireAdmin(actor, 'create rules');
      return db.transaction().execute(async (tx) => {
        await checkReferences(tx, actor, input);
        const at = now().toISOString();
        const row = {
          id: newId(),
          org_id: actor.orgId,
          name: input.name.trim(),
          trigger: input.trigger,
          conditions: JSON.stringify(input.conditions ?? {}),
          actions: JSON.stringify(input.actions),
          enabled: input.enabled === false ? 0 : 1,
          created_by: actor.userId,
          created_at: at,
          updated_at: at,
        };
        await repo.insertRule(tx, row);
        await recordChange(tx, actor, 'rule.created', row.id, Object.keys(input).sort());
        return toRule(row);
      });
    },

    async update(actor: Actor, id: string, input: UpdateRuleInput): Promise<Rule> {
      requireAdmin(actor, 'change rules');
      return db.transaction().execute(async (tx) => {
        await load(tx, actor, id);
        await checkReferences(tx, actor, input);
        await repo.updateRule(tx, id, {
          ...(input.name !== undefined && { name: input.name.trim() }),
          ...(input.trigger !== undefined && { trigger: input.trigger }),
          ...(input.conditions !== undefined && { conditions: JSON.stringify(input.conditions) }),
          ...(input.actions !== undefined && { actions: JSON.stringify(input.actions) }),
          ...(input.enabled !== undefined && { enabled: input.enabled ? 1 : 0 }),
          updated_at: now().toISOString(),
        });
        await recordChange(tx, actor, 'rule.updated', id, Object.keys(input).sort());
        return toRule(await load(tx, actor, id));
      });
    },

    async remove(actor: Actor, id: string): Promise<void> {
      requireAdmin(actor, 'delete rules');
      await db.transaction().execute(async (tx) => {
        await load(tx, actor, id);
        await repo.deleteRule(tx, id);
        await recordChange(tx, actor, 'rule.deleted', id, []);
      });
    },

    /** The rule's runs, newest first: the event, each action's outcome, retries. */
    async runs(actor: Actor, id: string): Promise<{ items: RuleRun[]; total: number }> {
      await load(db, actor, id);
      const rows = await repo.listRuns(db, actor.orgId, id, 200);
      return { items: rows.map(toRun), total: rows.length };
    },

    /**
     * The event log, oldest first, from `cursor` on. Admins read it all; members read a contact's
     * timeline (with contactId), which never carries private mail (it is not filed on contacts).
     */
    async events(
      actor: Actor,
      query: EventListQuery,
    ): Promise<{ items: Event[]; nextCursor: string | null }> {
      if (!query.contactId)
        requireAdmin(actor, 'read the whole event log (others read a contact’s, with contactId)');
      if (query.contactId && !(await findContactRow(db, actor.orgId, query.contactId))) {
        throw new AppError('CONTACT_NOT_FOUND', `No contact ${query.contactId}.`);
      }
      const limit = query.limit ?? 100;
      const rows = await listEventRows(db, actor.orgId, {
        ...(query.type && { type: query.type }),
        ...(query.contactId && { contactId: query.contactId }),
        ...(query.since && { since: new Date(query.since).toISOString() }),
        ...(query.cursor && { afterId: query.cursor }),
        limit,
      });
      return { items: rows.map(toEvent), nextCursor: rows.length === limit ? rows.at(-1)!.id : null };
    },

    async notifications(
      actor: Actor,
      unreadOnly: boolean,
    ): Promise<{ items: Notification[]; total: number }> {
      const rows = await repo.listNotifications(db, actor.userId, unreadOnly, 200);
      return { items: rows.map(toNotification), total: rows.length };
    },

    async markNotificationRead(actor: Actor, id: string): Promise<Notification> {
      await repo.markNotificationRead(db, actor.userId, id, now().toISOString());
      const row = await repo.findNotification(db, actor.userId, id);
      if (!row) throw new AppError('NOTIFICATION_NOT_FOUND', `No notification ${id}.`);
      return toNotification(row);
    },
  };
}
