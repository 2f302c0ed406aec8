import { sql } from 'kysely';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Clock } from './clock.ts';
import type { Db, Dialect } from './db/database.ts';

/** Where work claimed under a lease can be taken over from a worker that stopped renewing it. */
export const leaseKinds = ['outbox', 'mailbox', 'rule_run', 'webhook', 'account_hold'] as const;
export type LeaseKind = (typeof leaseKinds)[number];

/** The outbox states a message waits in; `sent` and `cancelled` are ends, counted by the counters. */
export const queuedStatuses = ['ready', 'sending', 'error', 'uncertain'] as const;

/** The sync lag's quantiles: the median, the slow tenth, the slowest hundredth and the slowest. */
export const syncLagQuantiles = [0.5, 0.9, 0.99, 1] as const;

/** Receiving waits for a person in these states (as in the mailbox claim): not the workers' lag. */
const waitingIncomingStates = ['paused', 'password_required'];

export interface Metrics {
  /** This container's registry (never prom-client's global one), process metrics included. */
  registry: Registry;
  /** Outgoing messages an SMTP server accepted, once per message. */
  messagesSent: Counter<never>;
  /** Sends that failed, by error code and SMTP reply code. */
  sendErrors: Counter<'code' | 'reply'>;
  /** Work taken over from a worker whose lease expired, by kind of work. */
  leaseTakeovers: Counter<'kind'>;
  /** Webhook delivery attempts that failed. */
  webhookFailures: Counter<never>;
  /** Where the gauge of this process's open IMAP IDLE connections reads its count (the mailbox sync). */
  countIdleConnectionsWith(count: () => number): void;
  /** The Prometheus text exposition format (`text/plain; version=0.0.4`). */
  contentType: string;
  /** Every metric in the text format, the ones read from the database measured now. */
  render(): Promise<string>;
}

/** The part of the metrics the outbox dispatcher counts with. */
export type SendMetrics = Pick<Metrics, 'messagesSent' | 'sendErrors' | 'leaseTakeovers'>;

/** A reply code label of bounded cardinality: a valid 3-digit SMTP reply code, else `none`. */
export function replyCodeLabel(code: number | null | undefined): string {
  return code != null && Number.isInteger(code) && code >= 200 && code <= 599 ? String(code) : 'none';
}

/**
 * Node's process metrics (CPU, memory, event loop lag, GC, handles) are gathered once per process
 * and shared by every registry: each `collectDefaultMetrics` starts its own event-loop monitor and
 * GC observer, and tests build many containers in one process.
 */
let processMetrics: Metric[] | undefined;
function sharedProcessMetrics(): Metric[] {
  if (!processMetrics) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    // The registry's own metric objects (typed as their plain description).
    processMetrics = registry.getMetricsAsArray() as unknown as Metric[];
  }
  return processMetrics;
}

/** Nearest-rank quantile of `total` values: `overdue` sorted ascending, the rest zero. */
function quantileOf(q: number, total: number, overdue: readonly number[]): number {
  const rank = Math.max(1, Math.ceil(q * total));
  const zeros = total - overdue.length;
  return rank <= zeros ? 0 : overdue[rank - zeros - 1]!;
}

/**
 * Builds the metrics of one process on a registry of its own. The queue depth and the sync lag are
 * read from the database at scrape time, so every process reports the same figures for them; the
 * counters are this process's own, and Prometheus sums them over the processes.
 */
export function createMetrics(deps: { db: Db; dialect: Dialect; now: Clock; logger: Logger }): Metrics {
  const { db, dialect, now, logger } = deps;
  const registry = new Registry();

  /**
   * A scrape still answers when the database does not: the database's figures are left out (not
   * served stale), and the other metrics are served.
   */
  async function measured(gauge: Gauge, name: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      gauge.reset();
      logger.warn({ err: error, metric: name }, 'a metric could not be read from the database');
    }
  }

  new Gauge({
    name: 'mailroom_outbox_queue_depth',
    help:
      'Outgoing messages waiting in the outbox, by status: ready (due, scheduled or waiting for a retry), ' +
      'sending (claimed by a worker), error and uncertain (waiting for a person). Read from the database ' +
      'at scrape time, so every process reports the same figure.',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      await measured(this, 'mailroom_outbox_queue_depth', async () => {
        const rows = await db
          .selectFrom('messages')
          .select(['status', (eb) => eb.fn.countAll<number | string>().as('count')])
          .where('status', 'in', queuedStatuses)
          .where('direction', '=', 'out')
          .groupBy('status')
          .execute();
        const counts = new Map(rows.map((row) => [row.status, Number(row.count)]));
        for (const status of queuedStatuses) this.set({ status }, counts.get(status) ?? 0);
      });
    },
  });

  const protocol =
    dialect === 'postgres'
      ? sql<string | null>`(accounts.settings::jsonb #>> '{incoming,protocol}')`
      : sql<string | null>`json_extract(accounts.settings, '$.incoming.protocol')`;
  const syncedMailboxes = () =>
    db
      .selectFrom('accounts')
      .leftJoin('mailbox_syncs', 'mailbox_syncs.account_id', 'accounts.id')
      .where('accounts.status', '=', 'active')
      .where('accounts.type', '=', 'own')
      .where('accounts.incoming_state', 'not in', waitingIncomingStates)
      .where(sql<string>`coalesce(${protocol}, 'none')`, '<>', 'none');

  /** Both sync gauges of one scrape share one reading (prom-client collects them concurrently). */
  let reading: Promise<{ mailboxes: number; overdue: number[] }> | null = null;
  function readSyncLag() {
    reading ??= (async () => {
      const current = now();
      const [{ total }] = (await syncedMailboxes()
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .execute()) as [{ total: number | string }];
      // Only the overdue mailboxes are read: the others' lag is zero, so a healthy scrape reads few rows.
      const due = await syncedMailboxes()
        .select((eb) => eb.fn.coalesce('mailbox_syncs.next_sync_at', 'accounts.created_at').as('due_at'))
        .where((eb) =>
          eb.or([
            eb('mailbox_syncs.account_id', 'is', null),
            eb('mailbox_syncs.next_sync_at', '<=', current.toISOString()),
          ]),
        )
        .execute();
      const overdue = due
        .map((row) => Math.max(0, (current.getTime() - new Date(row.due_at).getTime()) / 1000))
        .sort((a, b) => a - b);
      return { mailboxes: Math.max(Number(total), overdue.length), overdue };
    })().finally(() => (reading = null));
    return reading;
  }

  new Gauge({
    name: 'mailroom_sync_mailboxes',
    help:
      'Mailboxes the sync lag is measured over: active own accounts with an incoming protocol whose ' +
      'receiving is not paused for a person. Read from the database at scrape time.',
    registers: [registry],
    async collect() {
      await measured(this, 'mailroom_sync_mailboxes', async () => this.set((await readSyncLag()).mailboxes));
    },
  });

  new Gauge({
    name: 'mailroom_sync_lag_seconds',
    help:
      'How long mailbox syncs are overdue, as quantiles over the mailboxes (not per account): for each ' +
      'mailbox, now minus the time its sync became due (its next_sync_at, which IDLE and "Sync now" move ' +
      'to the moment of the news; a mailbox never synced counts from its account’s creation), zero when ' +
      'not yet due; a sync in progress counts until it ends. Read from the database at scrape time.',
    labelNames: ['quantile'],
    registers: [registry],
    async collect() {
      await measured(this, 'mailroom_sync_lag_seconds', async () => {
        const { mailboxes, overdue } = await readSyncLag();
        for (const quantile of syncLagQuantiles) {
          const value = mailboxes === 0 ? 0 : quantileOf(quantile, mailboxes, overdue);
          this.set({ quantile: String(quantile) }, value);
        }
      });
    },
  });

  const messagesSent = new Counter({
    name: 'mailroom_messages_sent_total',
    help:
      'Outgoing messages an SMTP server accepted (for at least one recipient), counted once per message ' +
      'by the worker that sent it; rate() of it is the send rate.',
    registers: [registry],
  });
  const sendErrors = new Counter({
    name: 'mailroom_send_errors_total',
    help:
      'Failed sends: each SMTP transaction that failed or had every recipient refused, and each message ' +
      'that could not be sent at all, by error code (SMTP_…, ACCOUNT_NOT_ACTIVE, INTERNAL_ERROR) and the ' +
      "server's 3-digit reply code (none when there was no reply).",
    labelNames: ['code', 'reply'],
    registers: [registry],
  });
  const leaseTakeovers = new Counter({
    name: 'mailroom_lease_takeovers_total',
    help:
      'Work whose lease expired (its worker died, hung or lost the database) and that this process took ' +
      'over or settled, by kind: outbox, mailbox, rule_run, webhook, account_hold.',
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const kind of leaseKinds) leaseTakeovers.inc({ kind }, 0);
  const webhookFailures = new Counter({
    name: 'mailroom_webhook_failures_total',
    help: 'Webhook delivery attempts that failed (an error, a timeout or a non-2xx answer), retried or not.',
    registers: [registry],
  });

  for (const metric of sharedProcessMetrics()) registry.registerMetric(metric);

  let idleConnections = () => 0;
  new Gauge({
    name: 'mailroom_idle_connections',
    help:
      'Accounts whose IMAP IDLE connection this process keeps open: the accounts it holds that can ' +
      'watch (docs/deploy.md). Summed over the workers, it reaches the number of such accounts once ' +
      'every one is connected.',
    registers: [registry],
    collect() {
      this.set(idleConnections());
    },
  });

  return {
    registry,
    messagesSent,
    sendErrors,
    leaseTakeovers,
    webhookFailures,
    countIdleConnectionsWith(count) {
      idleConnections = count;
    },
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
