import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Automation: who caused each event (a user, or a rule's action, so that a rule never triggers on
 * its own events) and whether the rules have seen it, the rules, one run per rule and event (retried on its own), in-app
 * notifications, and the organisation's notification account.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  await db.schema.alterTable('events').addColumn('actor_id', 'text').execute();
  await db.schema.alterTable('events').addColumn('caused_by_rule_id', 'text').execute();
  await db.schema
    .alterTable('events')
    .addColumn('rule_depth', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('events_contact').on('events').columns(['contact_id', 'id']).execute();
  // Set once the rule engine has made the event's runs. A flag rather than a cursor over ids: ids
  // follow creation, commits need not, and a cursor would step over an event committed late.
  await db.schema.alterTable('events').addColumn('dispatched_at', timestamp).execute();
  await sql`update events set dispatched_at = created_at`.execute(db);
  await sql`create index events_undispatched on events (id) where dispatched_at is null`.execute(db);
  await db.schema
    .alterTable('organisations')
    .addColumn('notification_account_id', 'text', (col) => col.references('accounts.id').onDelete('set null'))
    .execute();

  await db.schema
    .createTable('rules')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('trigger', 'text', (col) => col.notNull())
    /** JSON: the conditions, all of which must hold. */
    .addColumn('conditions', 'text', (col) => col.notNull())
    /** JSON: the actions, in order. */
    .addColumn('actions', 'text', (col) => col.notNull())
    .addColumn('enabled', 'integer', (col) => col.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('rules_trigger').on('rules').columns(['org_id', 'trigger']).execute();

  await db.schema
    .createTable('rule_runs')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('rule_id', 'text', (col) => col.notNull().references('rules.id').onDelete('cascade'))
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.id').onDelete('cascade'))
    /** pending (to run, or to retry), done, skipped (conditions not met), failed (gave up). */
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull())
    .addColumn('next_attempt_at', timestamp)
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', timestamp)
    /** JSON: each action's outcome, so a retry runs only the actions that have not succeeded. */
    .addColumn('results', 'text', (col) => col.notNull())
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .addUniqueConstraint('rule_runs_once', ['rule_id', 'event_id'])
    .execute();
  await db.schema
    .createIndex('rule_runs_due')
    .on('rule_runs')
    .columns(['status', 'next_attempt_at'])
    .execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('title', 'text', (col) => col.notNull())
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text')
    .addColumn('rule_id', 'text')
    .addColumn('contact_id', 'text')
    .addColumn('read_at', timestamp)
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addUniqueConstraint('notifications_once', ['user_id', 'event_id', 'rule_id'])
    .execute();
  await db.schema.createIndex('notifications_user').on('notifications').columns(['user_id', 'id']).execute();
}
