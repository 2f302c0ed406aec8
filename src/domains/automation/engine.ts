import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, Dialect, NewRow, Row } from '../../db/database.ts';
import { claimDueWork } from '../../db/claims.ts';
import { newId } from '../../db/ids.ts';
import type { ContactsService } from '../contacts/contacts.service.ts';
import { findTags } from '../contacts/contacts.repository.ts';
import { findTeamMemberIds, findUserIdsInOrganisation } from '../users/users.repository.ts';
import type { EventCause } from './events.repository.ts';
import type { Notifier } from './notify.ts';
import * as repo from './rules.repository.ts';
import type { ActionResult, RuleAction, RuleConditions } from './rules.ts';
import { queueEventDeliveries, queueRuleDelivery } from './webhooks.service.ts';

/** A chain of rules acting on each other's events stops here, whatever the rules say. */
export const MAX_RULE_DEPTH = 3;
/** A run whose actions keep failing is given up after this many attempts (about a day of backoff). */
const MAX_ATTEMPTS = 10;
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 4 * 60 * 60_000;

export type AutomationEngine = ReturnType<typeof createAutomationEngine>;

/** What a rule's conditions and actions read of its event: the contact and the message it is about. */
interface RunContext {
  event: Row<'events'>;
  contact: (Row<'contacts'> & { tags: string[] }) | null;
  message: Pick<Row<'messages'>, 'subject' | 'text_body' | 'from_address'> | null;
}

class ActionSkipped extends Error {}

const domainOf = (address: string | null) =>
  address ? address.slice(address.lastIndexOf('@') + 1).toLowerCase() : null;

/** Whether every condition holds; one the event cannot answer (no message, no contact) does not. */
export function conditionsHold(conditions: RuleConditions, context: RunContext): boolean {
  const { event, contact, message } = context;
  const contains = (text: string | null | undefined, needle: string) =>
    text != null && text.toLowerCase().includes(needle.toLowerCase());
  if (conditions.accountId !== undefined && event.account_id !== conditions.accountId) return false;
  if (conditions.subjectContains !== undefined && !contains(message?.subject, conditions.subjectContains))
    return false;
  if (conditions.bodyContains !== undefined && !contains(message?.text_body, conditions.bodyContains))
    return false;
  if (conditions.senderDomain !== undefined) {
    const domain = domainOf(message?.from_address ?? null);
    const wanted = conditions.senderDomain.toLowerCase();
    if (!domain || (domain !== wanted && !domain.endsWith(`.${wanted}`))) return false;
  }
  if (conditions.contactHasTag !== undefined && !contact?.tags.includes(conditions.contactHasTag))
    return false;
  if (conditions.scoreAbove !== undefined && !(contact && contact.score > conditions.scoreAbove))
    return false;
  if (conditions.scoreBelow !== undefined && !(contact && contact.score < conditions.scoreBelow))
    return false;
  return true;
}

/** A line that says what happened, for an alert. */
function describe(event: Row<'events'>, contact: RunContext['contact']): string {
  const data = JSON.parse(event.payload) as Record<string, unknown>;
  const who = contact ? (contact.name ? `${contact.name} <${contact.email}>` : contact.email) : null;
  switch (event.type) {
    case 'email.received':
      return `Email from ${who ?? (data.from as { address?: string } | null)?.address ?? 'an unknown sender'}: ${String(data.subject ?? '')}`;
    case 'email.bounced':
      return `Mail to ${String(data.recipient)} bounced (${String(data.reason)}).`;
    case 'contact.faulty':
      return `${who ?? String(data.email)} is now faulty: mail to it bounces.`;
    case 'contact.complained':
      return `${who ?? String(data.email)} reported mail as spam.`;
    case 'contact.reactivated':
      return `${who ?? String(data.email)} was reactivated.`;
    case 'contact.score_changed':
      return `The score of ${who ?? 'a contact'} went from ${String(data.from)} to ${String(data.to)}.`;
    case 'contact.tags_changed': {
      const list = (tags: unknown) => (Array.isArray(tags) && tags.length > 0 ? tags.join(', ') : null);
      const changes = [
        list(data.added) && `added ${list(data.added)}`,
        list(data.removed) && `removed ${list(data.removed)}`,
      ].filter(Boolean);
      return `The tags of ${who ?? 'a contact'} changed${changes.length ? `: ${changes.join('; ')}` : ''}.`;
    }
    case 'email.sent':
    case 'email.failed': {
      const to = who ?? (Array.isArray(data.recipients) ? data.recipients.join(', ') : 'its recipients');
      return event.type === 'email.sent'
        ? `Mail to ${to} was sent: ${String(data.subject ?? '')}`
        : `Mail to ${to} failed (${String(data.errorCode)}): ${String(data.subject ?? '')}`;
    }
    case 'account.created':
    case 'account.approved':
    case 'account.rejected':
      return `The account ${String(data.name)} <${String(data.email)}> was ${event.type.slice('account.'.length)}.`;
    case 'account.health_changed':
      return `The ${String(data.direction)} health of an account went from ${String(data.from)} to ${String(data.to)}.`;
  }
  return who ? `${event.type}: ${who}` : event.type;
}

/**
 * The rule engine: makes one run per matching rule for each new event (once, even with several
 * workers), then performs runs, each action in its own transaction with the run's record of it, so
 * an action is never done twice and a failed one is retried with backoff without holding back the
 * others or any other rule.
 */
export function createAutomationEngine(deps: {
  db: Db;
  dialect: Dialect;
  now: Clock;
  contacts: ContactsService;
  notifier: Notifier;
  leaseMs: number;
  /** Counts items whose lease ran out and which this worker took over. */
  onTakeover?: (count: number) => void;
  random?: () => number;
}) {
  const { db, dialect, now, contacts, notifier } = deps;
  const random = deps.random ?? Math.random;

  async function loadContext(event: Row<'events'>): Promise<RunContext> {
    const contactRow = event.contact_id
      ? await db.selectFrom('contacts').selectAll().where('id', '=', event.contact_id).executeTakeFirst()
      : undefined;
    const contact = contactRow
      ? { ...contactRow, tags: (await findTags(db, [contactRow.id])).get(contactRow.id) ?? [] }
      : null;
    const message = event.message_id
      ? ((await db
          .selectFrom('messages')
          .select(['subject', 'text_body', 'from_address'])
          .where('id', '=', event.message_id)
          .executeTakeFirst()) ?? null)
      : null;
    return { event, contact, message };
  }

  /** Does one action in `tx`; returns what it did, or throws ActionSkipped when there is nothing to act on. */
  async function perform(
    tx: DbOrTx,
    rule: Row<'rules'>,
    action: RuleAction,
    context: RunContext,
  ): Promise<string> {
    const { event, contact } = context;
    const cause: EventCause = { ruleId: rule.id, ruleDepth: event.rule_depth + 1 };
    if (action.type === 'alert') {
      let userIds: string[];
      if (action.to === 'contact_owner') {
        if (!contact?.owner_id)
          throw new ActionSkipped(contact ? 'the contact has no owner' : 'the event has no contact');
        userIds = [contact.owner_id];
      } else if ('userId' in action.to) {
        userIds = (await findUserIdsInOrganisation(tx, rule.org_id, [action.to.userId])).map((row) => row.id);
      } else {
        userIds = (await findTeamMemberIds(tx, [action.to.teamId])).get(action.to.teamId) ?? [];
      }
      if (userIds.length === 0) throw new ActionSkipped('nobody to alert');
      return notifier.notifyUsers(tx, {
        orgId: rule.org_id,
        userIds,
        title: rule.name,
        body: action.message ?? describe(event, contact),
        eventId: event.id,
        ruleId: rule.id,
        contactId: contact?.id ?? null,
      });
    }
    if (action.type === 'webhook') {
      return queueRuleDelivery(tx, rule.id, rule.org_id, action.endpointId, event, now().toISOString());
    }
    if (!contact) throw new ActionSkipped('the event has no contact');
    if (action.type === 'add_score') {
      const changed = await contacts.changeScore(tx, contact, action.amount, cause);
      if (!changed) throw new ActionSkipped('the contact is gone');
      return `score ${changed.from} → ${changed.to}`;
    }
    const changed = await contacts.changeTags(
      tx,
      contact,
      action.type === 'add_tag' ? { add: [action.tag], remove: [] } : { add: [], remove: [action.tag] },
      cause,
    );
    return changed ? `${action.type === 'add_tag' ? 'tagged' : 'untagged'} ${action.tag}` : 'no change';
  }

  function retryDelayMs(attempts: number): number {
    const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempts - 1));
    return Math.round(base * (0.5 + random() / 2));
  }

  return {
    /** Makes the runs of up to `limit` new events; returns how many events it read. */
    async dispatch(limit = 200): Promise<number> {
      return db.transaction().execute(async (tx) => {
        const events = await repo.lockUndispatchedEvents(tx, dialect, limit);
        if (events.length === 0) return 0;
        const rules = await repo.findEnabledRules(
          tx,
          [...new Set(events.map((event) => event.org_id))],
          [...new Set(events.map((event) => event.type))],
        );
        const at = now().toISOString();
        const runs: NewRow<'rule_runs'>[] = [];
        for (const event of events) {
          if (event.rule_depth >= MAX_RULE_DEPTH) continue;
          for (const rule of rules) {
            if (rule.org_id !== event.org_id || rule.trigger !== event.type) continue;
            // A rule never runs on what its own actions did: no rule can feed itself.
            if (event.caused_by_rule_id === rule.id) continue;
            const actions = JSON.parse(rule.actions) as RuleAction[];
            const results: ActionResult[] = actions.map((action) => ({
              type: action.type,
              status: 'pending',
              detail: null,
              at: null,
            }));
            runs.push({
              id: newId(),
              org_id: rule.org_id,
              rule_id: rule.id,
              event_id: event.id,
              status: 'pending',
              attempts: 0,
              next_attempt_at: at,
              lease_owner: null,
              lease_until: null,
              results: JSON.stringify(results),
              created_at: at,
              updated_at: at,
            });
          }
        }
        await repo.insertRuns(tx, runs);
        await queueEventDeliveries(tx, events, at);
        await repo.markDispatched(
          tx,
          events.map((event) => event.id),
          at,
        );
        return events.length;
      });
    },

    /** Due runs, leased to this worker. */
    async claim(owner: string, limit: number): Promise<Row<'rule_runs'>[]> {
      const ids = await claimDueWork(db, dialect, 'rule_runs', {
        owner,
        now: now(),
        leaseMs: deps.leaseMs,
        limit,
        onTakeover: deps.onTakeover,
      });
      return repo.findRuns(db, ids);
    },

    /** Performs a claimed run: its conditions, then each action not yet done; never throws. */
    async run(claimed: Row<'rule_runs'>, owner: string): Promise<Row<'rule_runs'>['status']> {
      const finish = async (
        status: Row<'rule_runs'>['status'],
        results: ActionResult[],
        retryAt: string | null,
      ) => {
        await repo.updateRun(db, claimed.id, owner, {
          status,
          results: JSON.stringify(results),
          attempts: claimed.attempts + 1,
          next_attempt_at: retryAt,
          lease_owner: null,
          lease_until: null,
          updated_at: now().toISOString(),
        });
        return status;
      };
      const results = JSON.parse(claimed.results) as ActionResult[];
      const rule = await db
        .selectFrom('rules')
        .selectAll()
        .where('id', '=', claimed.rule_id)
        .executeTakeFirst();
      const event = await repo.findEvent(db, claimed.event_id);
      if (!rule || rule.enabled !== 1 || !event) {
        return finish(
          'skipped',
          results.map((result) =>
            result.status === 'pending'
              ? { ...result, status: 'skipped', detail: 'the rule was turned off' }
              : result,
          ),
          null,
        );
      }
      const context = await loadContext(event);
      if (!conditionsHold(JSON.parse(rule.conditions) as RuleConditions, context)) {
        return finish(
          'skipped',
          results.map((result) => ({ ...result, status: 'skipped', detail: 'the conditions did not hold' })),
          null,
        );
      }
      const actions = JSON.parse(rule.actions) as RuleAction[];
      for (const [index, action] of actions.entries()) {
        const current = results[index];
        if (!current || current.status === 'done' || current.status === 'skipped') continue;
        try {
          await db.transaction().execute(async (tx) => {
            let outcome: ActionResult;
            try {
              outcome = {
                type: action.type,
                status: 'done',
                detail: await perform(tx, rule, action, context),
                at: now().toISOString(),
              };
            } catch (error) {
              if (!(error instanceof ActionSkipped)) throw error;
              outcome = {
                type: action.type,
                status: 'skipped',
                detail: error.message,
                at: now().toISOString(),
              };
            }
            results[index] = outcome;
            // Recorded with the action, so a crash after it cannot make a retry do it again.
            if (!(await repo.updateRun(tx, claimed.id, owner, { results: JSON.stringify(results) }))) {
              throw new Error('the run’s lease was lost');
            }
          });
        } catch (error) {
          results[index] = {
            type: action.type,
            status: 'failed',
            detail: error instanceof Error ? error.message : String(error),
            at: now().toISOString(),
          };
        }
      }
      if (!results.some((result) => result.status === 'failed')) return finish('done', results, null);
      const attempts = claimed.attempts + 1;
      if (attempts >= MAX_ATTEMPTS) return finish('failed', results, null);
      return finish('pending', results, new Date(now().getTime() + retryDelayMs(attempts)).toISOString());
    },
  };
}
