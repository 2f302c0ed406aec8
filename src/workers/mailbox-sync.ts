import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccountSender, AccountsService } from '../domains/accounts/accounts.service.ts';
import type { MailboxClaim, MailboxesService } from '../domains/mailboxes/mailboxes.service.ts';
import type { IncomingItem, IncomingService } from '../domains/messages/incoming.service.ts';
import type { OutboxService } from '../domains/outbox/outbox.service.ts';
import { classifyMessage } from '../bounces/classify/index.ts';
import { contentHash, parseMessage } from '../mail/parse.ts';
import { ReaderError, type FetchResult, type MailReader, type ReaderConfig } from '../mail/reader.ts';
import type { HostPolicy } from '../net/address-policy.ts';
import { incomingHealthFor, readerConfigFor } from '../server-configs.ts';
import { composeOutgoing } from './compose-outgoing.ts';
import type { PeriodicTask } from './runner.ts';

export interface MailboxSyncDeps {
  mailboxes: MailboxesService;
  accounts: AccountsService;
  incoming: IncomingService;
  outbox: OutboxService;
  /** The adapters, by protocol; an account whose protocol has none here is not read. */
  readers: Partial<Record<'imap' | 'pop3' | 'jmap', (config: ReaderConfig) => Promise<MailReader>>>;
  logger: Logger;
  /** The worker process this runs in: accounts whose memory-only passwords it has are its alone. */
  workerId: string;
  /** Mailboxes read at once by this worker. */
  concurrency: number;
  pollIntervalMs: number;
  /** Raw messages above this keep only their header block. */
  maxRawBytes: number;
  /** Keep IMAP IDLE open on INBOX between syncs, for mail within seconds. */
  idle: boolean;
  now: () => Date;
  /** Jitter source, for tests. */
  random?: () => number;
  /** Which addresses the accounts' servers may resolve to (container.hostPolicy). */
  hostPolicy: HostPolicy;
}

const DAY_MS = 86_400_000;
/** Without syncSince, a first sync reads the last 30 days. */
const DEFAULT_SYNC_DAYS = 30;
/** How long an account that reads no mail (or waits for a password) waits before it is looked at again. */
const IDLE_ACCOUNT_RECHECK_MS = 60 * 60_000;
/** IDLE connections opened at once when a worker takes accounts over. */
const WATCHES_OPENED_AT_ONCE = 10;
/** Sent copies filed per sync at most: the rest wait for the next one. */
const SENT_COPIES_PER_SYNC = 50;

interface Watcher {
  fingerprint: string;
  stop(): Promise<void>;
}

/**
 * The mailbox worker: claims accounts whose mailbox is due (one worker per account at a time,
 * under a lease), reads what is new since the stored cursor in batches of `maxMessagesPerFetch`,
 * parses and files each batch with its cursor in one transaction, files the account's sent mail
 * in Sent, and keeps IDLE open on INBOX so new mail is read within seconds.
 */
export function createMailboxSync(deps: MailboxSyncDeps) {
  const { mailboxes, accounts, incoming, outbox, logger } = deps;
  const owner = `sync-${randomUUID()}`;
  const random = deps.random ?? Math.random;
  const watchers = new Map<string, Watcher>();
  /** The accounts this worker holds (src/domains/workers); null without a fleet: all of them. */
  let held: ReadonlySet<string> | null = null;
  const holds = (accountId: string) => held === null || held.has(accountId);
  const wakeListeners = new Set<() => void>();
  const wake = () => wakeListeners.forEach((listener) => listener());

  /** The poll interval, give or take a fifth, so accounts added together do not sync in lockstep. */
  const nextSyncInMs = (sender: AccountSender) =>
    Math.round(sender.settings.incoming.pollIntervalSeconds * 1000 * (0.8 + 0.4 * random()));

  /** Settings and password in one digest, so changed settings reopen the IDLE connection. Memory only. */
  function fingerprint(config: ReaderConfig): string {
    return createHash('sha256').update(JSON.stringify(config)).digest('hex');
  }

  async function fileSentCopies(reader: MailReader, sender: AccountSender): Promise<void> {
    if (!reader.appendSent) return;
    const pending = await outbox.pendingSentCopies(sender.id, SENT_COPIES_PER_SYNC);
    for (const { message, recipients, attachments } of pending) {
      const raw = await composeOutgoing(message, recipients, attachments, sender, {
        email: recipients[0]?.address ?? sender.email,
      });
      try {
        await reader.appendSent(raw);
        await outbox.markSentCopy(message.id, 'filed');
      } catch (error) {
        // The connection went: try again next sync. The server refused: it will refuse again.
        if (error instanceof ReaderError && error.code === 'INCOMING_PROTOCOL_ERROR') {
          await outbox.markSentCopy(message.id, 'failed');
          logger.warn({ accountId: sender.id, messageId: message.id, err: error }, 'Sent copy refused');
        } else throw error;
      }
    }
  }

  async function importNew(
    reader: MailReader,
    sender: AccountSender,
    claim: MailboxClaim,
    signal: AbortSignal,
  ) {
    const settings = sender.settings.incoming;
    const since = settings.syncSince
      ? new Date(settings.syncSince)
      : new Date(deps.now().getTime() - DEFAULT_SYNC_DAYS * DAY_MS);
    const fetchAfter = (cursor: string | null) =>
      reader.fetchNew(cursor, {
        limit: settings.maxMessagesPerFetch,
        since,
        maxRawBytes: deps.maxRawBytes,
        storedAmong: (serverIds) => incoming.storedServerIds(sender.id, serverIds),
      });
    let imported = 0;
    let cursor = claim.cursor;
    // The next batch is on its way from the server while this one is parsed and stored.
    let next: Promise<FetchResult> | null = fetchAfter(claim.cursor);
    while (next) {
      const batch: FetchResult = await next;
      next = batch.more && !signal.aborted ? fetchAfter(batch.cursor) : null;
      const items: IncomingItem[] = [];
      for (const fetched of batch.messages) {
        items.push({
          fetched,
          parsed: await parseMessage(fetched.raw),
          hash: contentHash(fetched.raw),
          verdict: classifyMessage(fetched.raw),
        });
      }
      const outcome = await incoming.store(
        {
          id: sender.id,
          orgId: sender.orgId,
          markIncomingPrivate: sender.settings.options.markIncomingPrivate,
        },
        items,
        async (tx) => {
          await incoming.refile(tx, sender.id, batch.nowIn ?? []);
          await mailboxes.saveCursor(tx, sender.id, owner, batch.cursor, items.length);
        },
      );
      imported += outcome.placed;
      cursor = batch.cursor;
    }
    return { imported, cursor };
  }

  async function startWatching(
    open: (config: ReaderConfig) => Promise<MailReader>,
    config: ReaderConfig,
    accountId: string,
    /** What the sync before it read up to, when one did: mail since then is read at once. */
    readUpTo?: string | null,
  ): Promise<void> {
    const print = fingerprint(config);
    const current = watchers.get(accountId);
    if (current?.fingerprint === print) return;
    if (current) {
      watchers.delete(accountId);
      await current.stop();
    }
    const reader = await open(config);
    if (!reader.watch) {
      await reader.close();
      return;
    }
    const entry: Watcher = {
      fingerprint: print,
      stop: () => reader.close(),
    };
    watchers.set(accountId, entry);
    await reader.watch(
      () => {
        mailboxes.makeDue(accountId).then(wake, (error: unknown) => {
          logger.warn({ accountId, err: error }, 'could not mark the mailbox due');
        });
      },
      (error) => {
        // The next sync opens it again.
        if (watchers.get(accountId) === entry) watchers.delete(accountId);
        logger.debug({ accountId, err: { message: error.message } }, 'IDLE ended');
        void reader.close().catch(() => undefined);
      },
      readUpTo,
    );
  }

  async function stopWatching(accountId: string): Promise<void> {
    const watcher = watchers.get(accountId);
    if (!watcher) return;
    watchers.delete(accountId);
    await watcher.stop().catch(() => undefined);
  }

  /** One account's sync, from its claim to its release; never throws. */
  async function syncOne(claim: MailboxClaim, signal: AbortSignal): Promise<void> {
    const log = logger.child({ accountId: claim.accountId });
    const sender = await accounts.sender(claim.accountId);
    const protocol = sender?.settings.incoming.protocol ?? 'none';
    const open = protocol === 'none' ? undefined : deps.readers[protocol];
    if (!sender || sender.status !== 'active' || !open) {
      await stopWatching(claim.accountId);
      await mailboxes.release(claim.accountId, owner, IDLE_ACCOUNT_RECHECK_MS);
      return;
    }
    const config = readerConfigFor(sender, deps.hostPolicy);
    if ('missingPassword' in config) {
      await stopWatching(claim.accountId);
      await accounts.recordHealth(
        sender.id,
        'incoming',
        'password_required',
        'The password is not at hand; supply it again.',
      );
      await mailboxes.release(claim.accountId, owner, IDLE_ACCOUNT_RECHECK_MS);
      return;
    }
    let reader: MailReader | null = null;
    try {
      reader = await open(config);
      const { imported, cursor } = await importNew(reader, sender, claim, signal);
      await fileSentCopies(reader, sender);
      const removals = await incoming.serverRemovals(sender.id, sender.settings.incoming);
      if (removals.length > 0) await reader.delete(removals.map((removal) => removal.serverId));
      // POP3 commits its deletions when the session ends well: only then are they done.
      const closing = reader;
      const canWatch = closing.watch !== undefined;
      reader = null;
      await closing.close();
      if (removals.length > 0) {
        await incoming.markRemovedFromServer(removals.map((removal) => removal.placementId));
        log.info({ removed: removals.length }, 'removed from the server as the delivery options say');
      }
      await mailboxes.finish(claim.accountId, owner, nextSyncInMs(sender));
      if (imported > 0) log.info({ imported }, 'mailbox synced');
      if (deps.idle && canWatch && !signal.aborted && holds(sender.id)) {
        await startWatching(open, config, sender.id, cursor).catch((error: unknown) => {
          log.debug({ err: error }, 'IDLE could not start; polling only');
        });
      }
    } catch (error) {
      await stopWatching(claim.accountId);
      if (!(error instanceof ReaderError)) {
        log.error({ err: error }, 'mailbox sync crashed; retried later');
        await mailboxes.release(claim.accountId, owner, nextSyncInMs(sender));
        return;
      }
      const authRefused = error.code === 'INCOMING_AUTH_FAILED' || error.code === 'SPA_UNAVAILABLE';
      const { paused } = await mailboxes.fail(claim, owner, {
        state: incomingHealthFor(error.code),
        lastError: error.reply ?? error.message,
        authRefused,
        retryAfterMs: nextSyncInMs(sender),
      });
      log.warn(
        { code: error.code, paused },
        paused ? 'receiving paused: the server refused the login' : 'mailbox sync failed',
      );
    } finally {
      await reader?.close().catch(() => undefined);
    }
  }

  async function runOnce(signal: AbortSignal): Promise<number> {
    let synced = 0;
    for (;;) {
      const claims = await mailboxes.claimDue(owner, deps.workerId, deps.concurrency);
      if (claims.length === 0 || signal.aborted) {
        await Promise.all(claims.map((claim) => mailboxes.release(claim.accountId, owner, 0)));
        return synced;
      }
      await Promise.all(claims.map((claim) => syncOne(claim, signal)));
      synced += claims.length;
    }
  }

  /** Opens IDLE for a newly held account (after reading what came meanwhile); never throws. */
  async function watchHeld(accountId: string): Promise<void> {
    const sender = await accounts.sender(accountId);
    const protocol = sender?.settings.incoming.protocol ?? 'none';
    const open = protocol === 'none' ? undefined : deps.readers[protocol];
    if (!sender || sender.status !== 'active' || !open) return;
    const config = readerConfigFor(sender, deps.hostPolicy);
    if ('missingPassword' in config) return;
    await mailboxes.makeDue(accountId);
    wake();
    await startWatching(open, config, accountId);
  }

  /** Accounts taken and still waiting for their IDLE connection. */
  const toOpen = new Set<string>();
  let opening: Promise<void> | null = null;

  /**
   * Opens IDLE for the accounts taken, a few at a time, in the background: a worker that takes a
   * thousand accounts at start must not hold up its heartbeat (the others would take it for dead)
   * nor its HTTP server while they all connect.
   */
  function openTaken(): void {
    if (opening) return;
    opening = (async () => {
      while (toOpen.size > 0) {
        const batch = [...toOpen].slice(0, WATCHES_OPENED_AT_ONCE);
        batch.forEach((accountId) => toOpen.delete(accountId));
        await Promise.all(
          batch
            .filter((accountId) => holds(accountId) && !watchers.has(accountId))
            .map((accountId) =>
              watchHeld(accountId).catch((error: unknown) => {
                logger.debug({ accountId, err: error }, 'IDLE could not start; polling only');
              }),
            ),
        );
        // Let go meanwhile: closed again at once, for the worker that holds it now.
        await Promise.all(batch.filter((accountId) => !holds(accountId)).map(stopWatching));
      }
    })().finally(() => {
      opening = null;
    });
  }

  /**
   * The accounts this worker holds now: IDLE closes at once for those it let go (another worker
   * opens it), and opens in the background for those it took.
   */
  async function hold(accountIds: ReadonlySet<string>): Promise<void> {
    const before = held;
    held = accountIds;
    for (const accountId of toOpen) if (!accountIds.has(accountId)) toOpen.delete(accountId);
    await Promise.all([...watchers.keys()].filter((id) => !accountIds.has(id)).map(stopWatching));
    if (!deps.idle) return;
    for (const accountId of accountIds) {
      if (!before?.has(accountId) && !watchers.has(accountId)) toOpen.add(accountId);
    }
    openTaken();
  }

  const task: PeriodicTask = {
    name: 'mailboxes',
    intervalMs: deps.pollIntervalMs,
    async run(signal) {
      await runOnce(signal);
    },
    onWake(listener) {
      wakeListeners.add(listener);
    },
  };

  return {
    task,
    runOnce,
    /** Cuts the wait short: a mailbox was made due in this process. */
    wake,
    hold,
    /** Closes every IDLE connection, once the ones being opened are open. */
    async close(): Promise<void> {
      toOpen.clear();
      await opening;
      await Promise.all([...watchers.keys()].map(stopWatching));
    },
    /** Accounts with IDLE open in this worker, for tests and metrics. */
    watching: () => [...watchers.keys()],
  };
}
