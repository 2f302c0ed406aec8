import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Row } from '../db/database.ts';
import type { AccountSender, AccountsService } from '../domains/accounts/accounts.service.ts';
import type { SenderContact } from '../domains/accounts/templates.ts';
import type { ContactForSending, ContactsService } from '../domains/contacts/contacts.service.ts';
import { LeaseLost, type OutboxService, type RecipientOutcome } from '../domains/outbox/outbox.service.ts';
import { SmtpError, type SmtpErrorCode } from '../mail/errors.ts';
import type { SmtpSenderPool, SmtpServerConfig } from '../mail/smtp-types.ts';
import { replyCodeLabel, type SendMetrics } from '../metrics.ts';
import type { HostPolicy } from '../net/address-policy.ts';
import { envelopeIdFor, unsubscribeToken, verpAddress } from '../mail/verp.ts';
import { outgoingHealthFor, smtpConfigFor } from '../server-configs.ts';
import { composeOutgoing } from './compose-outgoing.ts';
import { createQuotaGate } from './quota.ts';
import type { PeriodicTask } from './runner.ts';

export interface DispatcherDeps {
  outbox: OutboxService;
  accounts: AccountsService;
  contacts: ContactsService;
  pool: SmtpSenderPool;
  logger: Logger;
  /** The worker process this runs in: accounts whose memory-only passwords it has are its alone. */
  workerId: string;
  /** Messages claimed and sent at once by this worker. */
  concurrency: number;
  pollIntervalMs: number;
  /** How marketing accounts send: through the platform relay only. */
  marketing: MarketingSending;
  /**
   * Signs what ties a bounce back to what was sent (src/mail/verp.ts): marketing mail's VERP return
   * path and unsubscribe link, own-account mail's ENVID.
   */
  tokenKey: Buffer;
  now: Clock;
  /** Counts sends, send errors and recovered leases (src/metrics.ts); none in tests that need none. */
  metrics?: SendMetrics;
  /** Which addresses the accounts' servers and proxies may resolve to (container.hostPolicy). */
  hostPolicy: HostPolicy;
}

export interface MarketingSending {
  /** The platform relay; null when MAILROOM_RELAY_URL is not set (marketing mail then waits). */
  relay: SmtpServerConfig | null;
  /** The VERP return path's domain; without it the account's address is used. */
  bounceDomain: string | undefined;
  /** Where `POST /u/<token>` is reached, for List-Unsubscribe. */
  publicUrl: string | undefined;
  quotaHourly: number;
  quotaDaily: number;
  /** Signs a message with its domain's DKIM key, when the domain has one. */
  sign(domain: string, raw: Buffer): Promise<Buffer>;
}

/** Every marketing account sends through the one relay: one pool of connections for them all. */
const RELAY_POOL = 'platform-relay';

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** Failures that no retry can fix until a person changes a setting or the password. */
const pausingErrors: readonly SmtpErrorCode[] = ['SMTP_AUTH_FAILED', 'SPA_UNAVAILABLE'];

/**
 * The outbox worker: recovers expired leases, claims due messages, and sends each through its
 * account's pooled SMTP connection. With a sender template, every recipient gets a transaction of
 * their own, with the From name drawn from their contact card.
 */
export function createOutboxDispatcher(deps: DispatcherDeps) {
  const { outbox, accounts, contacts, pool, logger, metrics } = deps;
  const owner = `worker-${randomUUID()}`;
  const countError = (code: string, reply: { code: number | null } | null | undefined) =>
    metrics?.sendErrors.inc({ code, reply: replyCodeLabel(reply?.code) });

  type Loaded =
    Awaited<ReturnType<OutboxService['loadForSending']>> extends Map<string, infer Value> ? Value : never;

  const quota = createQuotaGate({
    hourly: deps.marketing.quotaHourly,
    daily: deps.marketing.quotaDaily,
    sentSince: (accountId, since) => outbox.countSentSince(accountId, since),
    now: deps.now,
  });

  /** RFC 8058 one-click unsubscribe: a signed link per recipient, answered by `POST /u/<token>`. */
  function unsubscribeHeaders(recipientId: string): Record<string, string> {
    const { publicUrl } = deps.marketing;
    if (!publicUrl) return {};
    return {
      'List-Unsubscribe': `<${publicUrl}/u/${unsubscribeToken(recipientId, deps.tokenKey)}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    };
  }

  /** Messages being sent whose note before DATA has committed: the server may have them. */
  const dataBegan = new Set<string>();

  /** Outcomes written behind and not yet committed: a pass ends only once they are. */
  const unwritten = new Set<Promise<void>>();
  function outcomeWritten(written: Promise<void>, log: Logger): void {
    const settled = written.then(
      () => undefined,
      (error: unknown) => {
        log.error(
          { err: error },
          'the outcome was not recorded; the message turns uncertain when its lease ends',
        );
      },
    );
    unwritten.add(settled);
    void settled.finally(() => unwritten.delete(settled));
  }

  async function send(
    message: Row<'messages'>,
    sender: AccountSender | null,
    loaded: Loaded,
  ): Promise<boolean> {
    const log = logger.child({ messageId: message.id, accountId: message.account_id });
    const marketing = sender?.type === 'marketing';
    if (!sender || sender.status !== 'active' || (!marketing && !sender.settings.smtp)) {
      countError('ACCOUNT_NOT_ACTIVE', null);
      await outbox.fail(message, owner, {
        code: 'ACCOUNT_NOT_ACTIVE',
        transient: false,
        uncertain: false,
        reply: {
          code: null,
          enhanced: null,
          text: sender ? `The account is ${sender.status}.` : 'The account was deleted.',
          command: null,
        },
      });
      return false;
    }
    if (marketing && !deps.marketing.relay) {
      log.warn('marketing mail waits: no platform relay is configured (MAILROOM_RELAY_URL)');
      await outbox.putBack(message, owner);
      return false;
    }
    const config = marketing ? deps.marketing.relay! : smtpConfigFor(sender, deps.hostPolicy);
    if ('missingPassword' in config) {
      await accounts.recordHealth(
        sender.id,
        'outgoing',
        'password_required',
        'The password is not at hand; supply it again.',
      );
      await outbox.putBack(message, owner);
      return false;
    }

    const allRecipients = loaded.recipients;
    let recipients = allRecipients.filter((recipient) => recipient.status === 'pending');
    // Marketing mail goes to each recipient on their own: their own return path and unsubscribe link.
    const personalised = marketing || Boolean(sender.fromNameTemplate || sender.replyToNameTemplate);
    const cards = personalised
      ? await contacts.forSending(undefined, sender.orgId, {
          ids: recipients.flatMap((recipient) => (recipient.contact_id ? [recipient.contact_id] : [])),
        })
      : new Map<string, ContactForSending>();
    const cardsById = new Map([...cards.values()].map((card) => [card.id, card]));
    if (marketing) {
      const suppressed = recipients.flatMap((recipient) => {
        const reason = recipient.contact_id ? cardsById.get(recipient.contact_id)?.suppressed : null;
        return reason ? [{ recipientId: recipient.id, status: `skipped_${reason}` as const }] : [];
      });
      if (suppressed.length > 0) {
        await outbox.skipRecipients(allRecipients, suppressed);
        recipients = recipients.filter((recipient) => recipient.status === 'pending');
      }
      if (recipients.length === 0) {
        await outbox.finish(message, owner, allRecipients, null, false);
        return false;
      }
      const wait = await quota.take(sender.id);
      if (wait !== null) {
        await outbox.defer(message, owner, wait);
        return false;
      }
    }
    const groups = personalised ? recipients.map((recipient) => [recipient]) : [recipients];
    // A mail client files what it sends in Sent; the mailbox sync does it where the server has one.
    const fileSentCopy = ['imap', 'jmap'].includes(sender.settings.incoming.protocol);

    let lastReply = null;
    let accepted = false;
    for (const group of groups) {
      const contactId = group[0]!.contact_id;
      const card = contactId ? cardsById.get(contactId) : undefined;
      const contact: SenderContact = card ?? { email: group[0]!.address };
      const returnPath =
        marketing && deps.marketing.bounceDomain
          ? verpAddress(group[0]!.id, deps.marketing.bounceDomain, deps.tokenKey)
          : sender.email;
      let raw = await composeOutgoing(
        message,
        allRecipients,
        loaded.attachments,
        sender,
        contact,
        marketing ? unsubscribeHeaders(group[0]!.id) : {},
      );
      if (marketing) raw = await deps.marketing.sign(domainOf(sender.email), raw);
      try {
        const result = await pool.send(
          marketing ? RELAY_POOL : sender.id,
          config,
          {
            envelope: { from: returnPath, to: group.map((recipient) => recipient.address) },
            raw,
            messageId: message.message_id_header,
            ...(!marketing && { envelopeId: envelopeIdFor(message.id, deps.tokenKey) }),
          },
          async () => {
            await outbox.dataStarted(
              message.id,
              owner,
              group.map((recipient) => recipient.id),
            );
            dataBegan.add(message.id);
          },
        );
        const outcomes: RecipientOutcome[] = group.map((recipient) => {
          const found = result.recipients.find(
            (entry) => entry.address.toLowerCase() === recipient.address.toLowerCase(),
          );
          return {
            recipientId: recipient.id,
            accepted: found?.accepted ?? true,
            reply: found?.reply ?? result.reply,
          };
        });
        // Counted once per message, at the first transaction the server accepted.
        if (!accepted) metrics?.messagesSent.inc();
        accepted = true;
        if (sender.outgoingState !== 'ok') {
          await accounts.recordHealth(sender.id, 'outgoing', 'ok', null);
          sender.outgoingState = 'ok';
        }
        if (!personalised) {
          // Written behind, with other messages' outcomes in one commit; a failed write leaves the
          // message `sending` with its DATA noted, which the lease's end turns into `uncertain`.
          outcomeWritten(
            outbox.complete(message, owner, allRecipients, outcomes, result.reply, fileSentCopy),
            log,
          );
          return true;
        }
        await outbox.recordRecipients(message, allRecipients, outcomes);
        lastReply = result.reply;
        await outbox.renewLease(message.id, owner);
      } catch (error) {
        if (!(error instanceof SmtpError)) throw error;
        countError(error.code, error.reply);
        if (error.recipients) {
          await outbox.recordRecipients(
            message,
            allRecipients,
            group.map((recipient) => {
              const found = error.recipients!.find(
                (entry) => entry.address.toLowerCase() === recipient.address.toLowerCase(),
              );
              return { recipientId: recipient.id, accepted: false, reply: found?.reply ?? error.reply };
            }),
          );
          if (!personalised) break;
          continue;
        }
        const health = outgoingHealthFor(error.code);
        if (health) {
          await accounts.recordHealth(sender.id, 'outgoing', health, error.reply?.text ?? error.message);
          sender.outgoingState = health;
        }
        if (pausingErrors.includes(error.code) && !error.transient) {
          log.warn({ code: error.code }, 'sending paused: the server refused the login');
          await pool.close(sender.id);
          await outbox.putBack(message, owner);
          return false;
        }
        log.warn({ code: error.code, transient: error.transient, attempt: message.attempts }, 'send failed');
        await outbox.fail(message, owner, {
          code: error.code,
          transient: error.transient,
          uncertain: error.uncertain,
          reply: error.reply,
        });
        return false;
      }
    }
    await outbox.finish(message, owner, allRecipients, lastReply, fileSentCopy);
    return true;
  }

  /** Account settings and passwords, read once a second at most however many messages go out. */
  const SENDER_TTL_MS = 1000;

  /**
   * Keeps up to `concurrency` messages in flight, claiming more as each one finishes rather than in
   * rounds, so that no connection waits for the slowest message of a round. Returns the number of
   * messages it dispatched, when nothing more is due.
   */
  async function runOnce(signal: AbortSignal): Promise<number> {
    const recovered = await outbox.recoverExpiredLeases();
    if (recovered.requeued + recovered.uncertain > 0) {
      metrics?.leaseTakeovers.inc({ kind: 'outbox' }, recovered.requeued + recovered.uncertain);
      logger.warn(recovered, 'recovered messages from expired leases');
    }
    const senders = new Map<string, { at: number; sender: Promise<AccountSender | null> }>();
    const senderOf = (accountId: string | null) => {
      if (!accountId) return Promise.resolve(null);
      const cached = senders.get(accountId);
      if (cached && performance.now() - cached.at < SENDER_TTL_MS) return cached.sender;
      const entry = { at: performance.now(), sender: accounts.sender(accountId) };
      senders.set(accountId, entry);
      return entry.sender;
    };
    const used = new Set<string>();
    const inFlight = new Set<Promise<void>>();
    const dispatch = async (message: Row<'messages'>, loaded: Loaded) => {
      try {
        if (await send(message, await senderOf(message.account_id), loaded)) used.add(message.account_id!);
      } catch (error) {
        if (error instanceof LeaseLost) {
          // Another worker may have it now; what this one held is no longer its to record.
          logger.warn({ messageId: message.id }, error.message);
          return;
        }
        // Once a note before DATA has committed, the server may have the message: never retry it.
        const uncertain = dataBegan.has(message.id);
        countError('INTERNAL_ERROR', null);
        logger.error(
          { err: error, messageId: message.id, accountId: message.account_id, uncertain },
          uncertain
            ? 'dispatch crashed after DATA; the message waits for a person'
            : 'dispatch crashed; the message is retried later',
        );
        await outbox.fail(message, owner, {
          code: 'INTERNAL_ERROR',
          transient: true,
          uncertain,
          reply: null,
        });
      } finally {
        dataBegan.delete(message.id);
      }
    };
    const refill = Math.max(1, Math.floor(deps.concurrency / 2));
    let dispatched = 0;
    while (!signal.aborted) {
      const room = deps.concurrency - inFlight.size;
      // Claims come in handfuls: one claim per finished message would cost a transaction each.
      const claimed =
        room >= refill || inFlight.size === 0 ? await outbox.claim(owner, deps.workerId, room) : [];
      const loaded =
        claimed.length > 0 ? await outbox.loadForSending(claimed.map((message) => message.id)) : new Map();
      for (const message of claimed) {
        const running: Promise<void> = dispatch(message, loaded.get(message.id)!).finally(() =>
          inFlight.delete(running),
        );
        inFlight.add(running);
      }
      dispatched += claimed.length;
      if (inFlight.size === 0) break;
      if (claimed.length < room || room < refill) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await outbox.flush();
    await Promise.all(unwritten);
    await Promise.all([...used].map((accountId) => accounts.markUsed(accountId)));
    return dispatched;
  }

  const task: PeriodicTask = {
    name: 'outbox',
    intervalMs: deps.pollIntervalMs,
    async run(signal) {
      await runOnce(signal);
    },
  };
  return { task, runOnce };
}
