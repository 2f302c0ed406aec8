import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Webhooks: each organisation's endpoints (the event types they take, an encrypted signing secret,
 * and how long their deliveries have been failing), one delivery per endpoint and event (retried
 * on its own, claimed with a lease), and each attempt at it, for the delivery log.
 */
export async function up(db: Kysely<unknown>, { timestamp }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('url', 'text', (col) => col.notNull())
    .addColumn('description', 'text')
    /** JSON: the event types it receives. */
    .addColumn('event_types', 'text', (col) => col.notNull())
    /** The signing secret, encrypted with the keyring (src/secrets), bound to the endpoint's id. */
    .addColumn('secret', 'text', (col) => col.notNull())
    .addColumn('enabled', 'integer', (col) => col.notNull())
    /** The admin who made it, told when it is turned off. */
    .addColumn('owner_id', 'text', (col) => col.references('users.id').onDelete('set null'))
    /** Since when every attempt has failed: set by the first failure after a success, cleared by a success. */
    .addColumn('failing_since', timestamp)
    .addColumn('disabled_reason', 'text')
    .addColumn('disabled_at', timestamp)
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('webhook_endpoints_org').on('webhook_endpoints').columns(['org_id']).execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organisations.id').onDelete('cascade'))
    .addColumn('endpoint_id', 'text', (col) =>
      col.notNull().references('webhook_endpoints.id').onDelete('cascade'),
    )
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.id').onDelete('cascade'))
    /** The rule whose action queued it; null when the endpoint's subscription did. */
    .addColumn('rule_id', 'text')
    /** pending (to send, or to retry), delivered, failed (gave up, or the endpoint was turned off). */
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull())
    .addColumn('first_attempt_at', timestamp)
    .addColumn('next_attempt_at', timestamp)
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', timestamp)
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', timestamp)
    .addColumn('created_at', timestamp, (col) => col.notNull())
    .addColumn('updated_at', timestamp, (col) => col.notNull())
    .addUniqueConstraint('webhook_deliveries_once', ['endpoint_id', 'event_id'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_endpoint')
    .on('webhook_deliveries')
    .columns(['endpoint_id', 'id'])
    .execute();

  await db.schema
    .createTable('webhook_attempts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('delivery_id', 'text', (col) =>
      col.notNull().references('webhook_deliveries.id').onDelete('cascade'),
    )
    .addColumn('started_at', timestamp, (col) => col.notNull())
    /** Null when no answer came (refused, timed out). */
    .addColumn('status_code', 'integer')
    .addColumn('latency_ms', 'integer', (col) => col.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createIndex('webhook_attempts_delivery')
    .on('webhook_attempts')
    .columns(['delivery_id', 'id'])
    .execute();
}
