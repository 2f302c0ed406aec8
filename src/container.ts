import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { connectDatabase } from './db/connect.ts';
import type { Db, Dialect } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { createAccountsService } from './domains/accounts/accounts.service.ts';
import { createConnectionTestService } from './domains/accounts/connection-test.service.ts';
import { createDkimService } from './domains/accounts/dkim.service.ts';
import { createPasswordVault } from './domains/accounts/password-vault.ts';
import { createAuditService } from './domains/audit/audit.service.ts';
import { createAutomationEngine } from './domains/automation/engine.ts';
import { createNotifier } from './domains/automation/notify.ts';
import { createRulesService } from './domains/automation/rules.service.ts';
import { createWebhookDeliveryEngine } from './domains/automation/webhooks.delivery.ts';
import { createWebhooksService } from './domains/automation/webhooks.service.ts';
import { createBouncesService } from './domains/bounces/bounces.service.ts';
import { createContactsService } from './domains/contacts/contacts.service.ts';
import { createMailboxesService } from './domains/mailboxes/mailboxes.service.ts';
import { createIncomingService } from './domains/messages/incoming.service.ts';
import { createMessagesService } from './domains/messages/messages.service.ts';
import {
  createDataDirRawStore,
  createDatabaseRawStore,
  type RawStore,
} from './domains/messages/raw-store.ts';
import { createOutboxService } from './domains/outbox/outbox.service.ts';
import { createRateLimitsService, type RateLimitsService } from './domains/users/rate-limits.service.ts';
import { createAuthService } from './domains/users/auth.service.ts';
import { createUsersService } from './domains/users/users.service.ts';
import { createOrganisationService } from './domains/users/organisation.service.ts';
import { createFleetService, type FleetService } from './domains/workers/fleet.service.ts';
import { createPasswordCourier, type PasswordCourier } from './domains/workers/password-courier.ts';
import { createLogger } from './logger.ts';
import { createMetrics, type LeaseKind, type Metrics } from './metrics.ts';
import { createConnectionProbes } from './probes.ts';
import type { HostLookup, HostPolicy } from './net/address-policy.ts';
import { verpKeys } from './secrets/derived.ts';
import { createDnsResolver, createDomainCheckService } from './domains/accounts/domain-check.service.ts';
import { createDiscoveryService, type DiscoveryService } from './domains/accounts/discovery.service.ts';
import { loadKeyring, type Keyring } from './secrets/keyring.ts';

export interface Container {
  config: Config;
  /** This process's name among the workers sharing the database: host, pid and a random part. */
  workerId: string;
  /** Every line carries `workerId`. */
  logger: Logger;
  db: Db;
  dialect: Dialect;
  now: Clock;
  keyring: Keyring;
  /** This process's Prometheus metrics (src/metrics.ts), served at /metrics. */
  metrics: Metrics;
  /**
   * Which addresses the servers, proxies and webhooks that users name may resolve to: public ones
   * unless MAILROOM_ALLOW_PRIVATE_HOSTS (src/net/address-policy.ts). Every adapter gets this one.
   */
  hostPolicy: HostPolicy;
  services: {
    users: ReturnType<typeof createUsersService>;
    auth: ReturnType<typeof createAuthService>;
    rateLimits: RateLimitsService;
    audit: ReturnType<typeof createAuditService>;
    accounts: ReturnType<typeof createAccountsService>;
    contacts: ReturnType<typeof createContactsService>;
    organisation: ReturnType<typeof createOrganisationService>;
    messages: ReturnType<typeof createMessagesService>;
    outbox: ReturnType<typeof createOutboxService>;
    incoming: ReturnType<typeof createIncomingService>;
    mailboxes: ReturnType<typeof createMailboxesService>;
    dkim: ReturnType<typeof createDkimService>;
    domainCheck: ReturnType<typeof createDomainCheckService>;
    discovery: DiscoveryService;
    bounces: ReturnType<typeof createBouncesService>;
    rules: ReturnType<typeof createRulesService>;
    notifier: ReturnType<typeof createNotifier>;
    automation: ReturnType<typeof createAutomationEngine>;
    webhooks: ReturnType<typeof createWebhooksService>;
    webhookDelivery: ReturnType<typeof createWebhookDeliveryEngine>;
    connectionTests: ReturnType<typeof createConnectionTestService>;
    fleet: FleetService;
    passwordCourier: PasswordCourier;
  };
  /** Raw incoming messages and bounce notices (src/domains/messages/raw-store.ts). */
  rawStore: RawStore;
  /** In-process news that a mailbox is due now ("Sync now"), for a worker in the same process. */
  onMailboxDue(listener: () => void): void;
  close(): Promise<void>;
}

export interface ContainerOptions {
  logger?: Logger;
  now?: Clock;
  /** Apply pending migrations first: the roles that run the service do, one-shot CLI commands too. */
  migrate?: boolean;
  /** Tests that run several workers in one process name each. */
  workerId?: string;
  /** Resolves the hosts users name instead of the system resolver (tests, with their own DNS server). */
  hostLookup?: HostLookup;
}

/** Builds everything once, by hand: the wiring is the code below, no framework. */
export async function createContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const workerId = options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logger = (options.logger ?? createLogger(config.logLevel)).child({ workerId });
  const now = options.now ?? systemClock;
  const handle = connectDatabase(config.database);
  const { db, dialect } = handle;
  let keyring: Keyring;
  try {
    keyring = await loadKeyring({
      secretKey: config.secretKey,
      previousKeys: config.previousSecretKeys,
      dataDir: config.dataDir,
      dialect,
    });
    if (options.migrate ?? true) {
      const applied = await migrateToLatest(handle);
      if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    }
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const audit = createAuditService({ db, now });
  const metrics = createMetrics({ db, dialect, now, logger });
  const takeovers = (kind: LeaseKind) => (count: number) => metrics.leaseTakeovers.inc({ kind }, count);
  const fleet = createFleetService({ db, dialect, now, workerId, settings: config.fleet });
  const vault = createPasswordVault();
  const courier = createPasswordCourier({ db, dialect, keyring, vault, fleet });
  const hostPolicy: HostPolicy = {
    allowPrivate: config.allowPrivateHosts,
    ...(options.hostLookup ? { lookup: options.hostLookup } : {}),
  };
  const accounts = createAccountsService({
    db,
    dialect,
    now,
    keyring,
    vault,
    courier,
    workerId,
    audit,
    hostPolicy,
  });
  const contacts = createContactsService({ db, now, audit, unsubscribeKeys: verpKeys(keyring) });
  const rawStore =
    config.rawStore === 'database' ? createDatabaseRawStore() : createDataDirRawStore(config.dataDir);
  const wakeups = new Set<() => void>();
  const messages = createMessagesService({
    db,
    now,
    accounts,
    contacts,
    rawStore,
    relayConfigured: config.marketing.relayUrl !== undefined,
  });
  const bounces = createBouncesService({ db, now, keys: verpKeys(keyring), rawStore, messages });
  const dkim = createDkimService({ db, keyring, now });
  const notifier = createNotifier({ now, messages });
  return {
    config,
    workerId,
    logger,
    db,
    dialect,
    now,
    keyring,
    metrics,
    hostPolicy,
    services: {
      users: createUsersService({ db, dialect, now, audit }),
      auth: createAuthService({
        db,
        now,
        sessionTtlHours: config.sessionTtlHours,
        sessionIdleMinutes: config.sessionIdleMinutes,
        audit,
      }),
      rateLimits: createRateLimitsService({ db, now }),
      audit,
      accounts,
      contacts,
      organisation: createOrganisationService({ db, audit }),
      messages,
      connectionTests: createConnectionTestService({ accounts, probes: createConnectionProbes(hostPolicy) }),
      outbox: createOutboxService({
        db,
        dialect,
        now,
        bounces,
        settings: config.outbox,
      }),
      incoming: createIncomingService({
        db,
        now,
        contacts,
        bounces,
        rawStore,
      }),
      dkim,
      domainCheck: createDomainCheckService({
        accounts,
        dkim,
        resolve: createDnsResolver(config.dnsServers),
        relayUrl: config.marketing.relayUrl,
        bounceDomain: config.marketing.bounceDomain,
      }),
      discovery: createDiscoveryService({
        dnsServers: config.dnsServers,
        ispdbUrl: config.discovery.ispdbUrl,
        deadlineMs: config.discovery.deadlineMs,
        allowPrivateHosts: config.allowPrivateHosts,
      }),
      bounces,
      rules: createRulesService({ db, now, audit }),
      webhooks: createWebhooksService({
        db,
        now,
        keyring,
        audit,
        allowInsecure: config.webhooks.allowInsecure,
        allowPrivateHosts: config.allowPrivateHosts,
      }),
      webhookDelivery: createWebhookDeliveryEngine({
        db,
        dialect,
        now,
        keyring,
        audit,
        notifier,
        leaseMs: config.webhooks.leaseMs,
        onTakeover: takeovers('webhook'),
      }),
      notifier,
      fleet,
      passwordCourier: courier,
      automation: createAutomationEngine({
        db,
        dialect,
        now,
        contacts,
        notifier,
        leaseMs: config.automation.leaseMs,
        onTakeover: takeovers('rule_run'),
      }),
      mailboxes: createMailboxesService({
        db,
        now,
        accounts,
        settings: { leaseMs: config.sync.leaseMs },
        onDue: () => wakeups.forEach((wake) => wake()),
        onTakeover: takeovers('mailbox'),
      }),
    },
    rawStore,
    onMailboxDue: (listener) => wakeups.add(listener),
    async close() {
      rawStore.close?.();
      await db.destroy();
    },
  };
}
