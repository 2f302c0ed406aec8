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
import { createAuthService } from './domains/users/auth.service.ts';
import { createUsersService } from './domains/users/users.service.ts';
import { createOrganisationService } from './domains/users/organisation.service.ts';
import { createLogger } from './logger.ts';
import { connectionProbes } from './probes.ts';
import { verpKeys } from './secrets/derived.ts';
import { createDnsResolver, createDomainCheckService } from './domains/accounts/domain-check.service.ts';
import { loadKeyring, type Keyring } from './secrets/keyring.ts';

export interface Container {
  config: Config;
  logger: Logger;
  db: Db;
  dialect: Dialect;
  now: Clock;
  keyring: Keyring;
  services: {
    users: ReturnType<typeof createUsersService>;
    auth: ReturnType<typeof createAuthService>;
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
    bounces: ReturnType<typeof createBouncesService>;
    rules: ReturnType<typeof createRulesService>;
    notifier: ReturnType<typeof createNotifier>;
    automation: ReturnType<typeof createAutomationEngine>;
    webhooks: ReturnType<typeof createWebhooksService>;
    webhookDelivery: ReturnType<typeof createWebhookDeliveryEngine>;
    connectionTests: ReturnType<typeof createConnectionTestService>;
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
}

/** Builds everything once, by hand: the wiring is the code below, no framework. */
export async function createContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const logger = options.logger ?? createLogger(config.logLevel);
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
  const accounts = createAccountsService({ db, dialect, now, keyring, vault: createPasswordVault(), audit });
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
    logger,
    db,
    dialect,
    now,
    keyring,
    services: {
      users: createUsersService({ db, dialect, now, audit }),
      auth: createAuthService({ db, now, sessionTtlHours: config.sessionTtlHours }),
      audit,
      accounts,
      contacts,
      organisation: createOrganisationService({ db, audit }),
      messages,
      connectionTests: createConnectionTestService({ accounts, probes: connectionProbes }),
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
      }),
      notifier,
      automation: createAutomationEngine({
        db,
        dialect,
        now,
        contacts,
        notifier,
        leaseMs: config.automation.leaseMs,
      }),
      mailboxes: createMailboxesService({
        db,
        now,
        accounts,
        settings: { leaseMs: config.sync.leaseMs },
        onDue: () => wakeups.forEach((wake) => wake()),
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
