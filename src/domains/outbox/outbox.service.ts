import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, Dialect, NewRow, Row } from '../../db/database.ts';
import { eventRow, insertEvents } from '../automation/events.repository.ts';
import type { EmailOutcomePayload } from '../automation/events.ts';
import type { BouncesService } from '../bounces/bounces.service.ts';
import { verdictForRcptReply } from '../bounces/bounces.service.ts';
import { findRecipientRows } from '../messages/messages.repository.ts';
import * as repo from './outbox.repository.ts';
import { batchWrites } from './write-behind.ts';

export interface OutboxSettings {
  /** How long a claimed message stays with its worker without a sign of life. */
  leaseMs: number;
  /** Attempts, counting the first, before a transient failure becomes an error. */
  maxAttempts: number;
  /** The first retry waits about this long; each next one twice as long, with jitter, up to an hour. */
  retryBaseMs: number;
}

export interface ServerReply {
  code: number | null;
  enhanced: string | null;
  text: string;
  command: string | null;
}

export interface RecipientOutcome {
  recipientId: string;
  accepted: boolean;
  reply: ServerReply | null;
}

export interface SendFailure {
  code: string;
  transient: boolean;
  /** The server took the data (354) and gave no verdict: the message may have arrived. */
  uncertain: boolean;
  reply: ServerReply | null;
}

const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;

/** `email.sent` or `email.failed` for the recipients concerned: one event per contact among them. */
function outcomeEvents(
  type: 'email.sent' | 'email.failed',
  message: Row<'messages'>,
  recipients: readonly Row<'message_recipients'>[],
  outcome: { reply: EmailOutcomePayload['reply']; errorCode: string | null },
  at: string,
): NewRow<'events'>[] {
  const byContact = new Map<string | null, string[]>();
  for (const recipient of recipients) {
    byContact.set(recipient.contact_id, [...(byContact.get(recipient.contact_id) ?? []), recipient.address]);
  }
  return [...byContact].map(([contactId, addresses]) => {
    const payload: EmailOutcomePayload = {
      messageId: message.id,
      accountId: message.account_id,
      contactId,
      subject: message.subject,
      recipients: addresses,
      ...outcome,
    };
    return eventRow(
      message.org_id,
      type,
      { accountId: message.account_id, messageId: message.id, contactId },
      payload,
      at,
    );
  });
}

/** Exponential backoff with full jitter: retries of many messages do not arrive in lockstep. */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function replyOf(
  reply: ServerReply | Pick<Row<'message_recipients'>, 'reply_code' | 'reply_enhanced' | 'reply_text'> | null,
): EmailOutcomePayload['reply'] {
  if (!reply) return null;
  return 'text' in reply
    ? { code: reply.code, enhanced: reply.enhanced, text: reply.text }
    : { code: reply.reply_code, enhanced: reply.reply_enhanced, text: reply.reply_text };
}

function replyColumns(reply: ServerReply | null) {
  return {
    reply_code: reply?.code ?? null,
    reply_enhanced: reply?.enhanced ?? null,
    reply_text: reply?.text ?? null,
  };
}

/** How long a message's outcome may wait for others to share its commit; the dispatcher never waits on it. */
const OUTCOME_DELAY_MS = 20;
const OUTCOMES_PER_COMMIT = 256;
/** Notes written at once on PostgreSQL: about one per SMTP connection waiting at its 354. */
const NOTE_WRITES_AT_ONCE = 4;

export type OutboxService = ReturnType<typeof createOutboxService>;

/** The worker's lease on a message ended before its DATA: another worker may have claimed it. */
export class LeaseLost extends Error {
  constructor(readonly messageId: string) {
    super(`The lease on message ${messageId} ended before its DATA; it was not sent.`);
    this.name = 'LeaseLost';
  }
}

/**
 * The dispatcher's store: claims, leases and the recorded outcome of every attempt. It knows no
 * SMTP; the dispatcher (src/workers/outbox-dispatcher.ts) brings the two together.
 */
export function createOutboxService(deps: {
  db: Db;
  dialect: Dialect;
  now: Clock;
  bounces: BouncesService;
  settings: OutboxSettings;
}) {
  const { db, dialect, now, bounces, settings } = deps;
  const stamp = () => now().toISOString();

  /**
   * Records one SMTP transaction's outcome per recipient. A recipient refused with a 5xx is also a
   * bounce for that address and its contact, written through the one bounce path.
   */
  async function recordOutcomes(
    tx: DbOrTx,
    message: Row<'messages'>,
    recipients: Row<'message_recipients'>[],
    outcomes: RecipientOutcome[],
  ) {
    // Recipients accepted with the same reply (the reply to the data) are one statement.
    const accepted = outcomes.filter((outcome) => outcome.accepted);
    const sameReply = accepted.every((outcome) => outcome.reply === accepted[0]?.reply);
    if (accepted.length > 0 && sameReply) {
      await repo.updateRecipients(
        tx,
        accepted.map((outcome) => outcome.recipientId),
        {
          status: 'accepted',
          ...replyColumns(accepted[0]!.reply),
          data_started_at: null,
          updated_at: stamp(),
        },
      );
    }
    for (const outcome of outcomes) {
      const recipient = recipients.find((row) => row.id === outcome.recipientId);
      if (recipient) recipient.status = outcome.accepted ? 'accepted' : 'rejected';
      if (outcome.accepted && sameReply) continue;
      await repo.updateRecipients(tx, [outcome.recipientId], {
        status: outcome.accepted ? 'accepted' : 'rejected',
        ...replyColumns(outcome.reply),
        data_started_at: null,
        updated_at: stamp(),
      });
      if (recipient) Object.assign(recipient, replyColumns(outcome.reply));
      if (!outcome.accepted && recipient && outcome.reply?.code && outcome.reply.code >= 500) {
        const verdict = verdictForRcptReply(outcome.reply);
        await bounces.record(tx, {
          orgId: message.org_id,
          source: 'smtp',
          action: 'failed',
          matchedBy: 'rcpt_reply',
          messageId: message.id,
          recipientId: recipient.id,
          accountId: message.account_id,
          contactId: recipient.contact_id,
          recipient: recipient.address,
          reason: verdict.reason,
          bounceType: verdict.bounceType,
          status: outcome.reply.enhanced,
          replyCode: outcome.reply.code,
          diagnostic: outcome.reply.text,
          remoteMta: null,
          rawKey: null,
          noticeMessageId: null,
        });
      }
    }
  }

  /**
   * Closes a message once no recipient is pending: sent when any was accepted (with the server's
   * reply to the data), error when all were refused.
   */
  async function close(
    tx: DbOrTx,
    message: Row<'messages'>,
    owner: string,
    recipients: Row<'message_recipients'>[],
    reply: ServerReply | null,
    fileSentCopy: boolean,
  ) {
    const accepted = recipients.some((recipient) => recipient.status === 'accepted');
    const lastRefusal = recipients.filter((recipient) => recipient.status === 'rejected').at(-1);
    if (!accepted && !lastRefusal) {
      // Every recipient was skipped (suppressed): nothing to send, and nothing went wrong.
      await repo.updateLeasedMessage(tx, message.id, owner, {
        status: 'cancelled',
        error_code: 'ALL_RECIPIENTS_SUPPRESSED',
        lease_owner: null,
        lease_until: null,
        next_attempt_at: null,
        updated_at: stamp(),
      });
      return;
    }
    const closed = await repo.updateLeasedMessage(tx, message.id, owner, {
      status: accepted ? 'sent' : 'error',
      sent_at: accepted ? stamp() : null,
      sent_copy: accepted && fileSentCopy ? 'pending' : null,
      error_code: accepted ? null : 'SMTP_ALL_RECIPIENTS_REJECTED',
      ...(accepted
        ? { ...replyColumns(reply), reply_command: reply?.command ?? 'DATA' }
        : {
            reply_code: lastRefusal?.reply_code ?? null,
            reply_enhanced: lastRefusal?.reply_enhanced ?? null,
            reply_text: lastRefusal?.reply_text ?? null,
            reply_command: 'RCPT TO',
          }),
      lease_owner: null,
      lease_until: null,
      next_attempt_at: null,
      updated_at: stamp(),
    });
    if (!closed) return;
    await insertEvents(
      tx,
      accepted
        ? outcomeEvents(
            'email.sent',
            message,
            recipients.filter((recipient) => recipient.status === 'accepted'),
            { reply: replyOf(reply), errorCode: null },
            stamp(),
          )
        : outcomeEvents(
            'email.failed',
            message,
            recipients.filter((recipient) => recipient.status === 'rejected'),
            { reply: replyOf(lastRefusal!), errorCode: 'SMTP_ALL_RECIPIENTS_REJECTED' },
            stamp(),
          ),
    );
  }

  /** The note before DATA (waited on), or one SMTP transaction's outcome with the message's close. */
  type JournalItem =
    | { kind: 'dataStarted'; note: repo.DataNote }
    | { kind: 'sent'; outcome: repo.SentOutcome }
    | {
        kind: 'complete';
        message: Row<'messages'>;
        owner: string;
        recipients: Row<'message_recipients'>[];
        outcomes: RecipientOutcome[];
        reply: ServerReply;
        fileSentCopy: boolean;
      };

  /**
   * The outbox's journal, written in batches: notes before DATA (each waited on, so written at the
   * next turn) and outcomes written behind, several messages to one commit. A crash before an
   * outcome is written leaves its message `sending` with the note of its DATA, which a takeover
   * turns into `uncertain`: never sent twice, never lost (ADR 006).
   */
  async function writeJournal(items: JournalItem[]): Promise<Set<string>> {
    const write: repo.JournalWrite = {
      dataStarted: items.flatMap((item) => (item.kind === 'dataStarted' ? [item.note] : [])),
      sent: items.flatMap((item) => (item.kind === 'sent' ? [item.outcome] : [])),
      at: stamp(),
    };
    const others = items.flatMap((item) => (item.kind === 'complete' ? [item] : []));
    // One statement needs no transaction around it: PostgreSQL's whole batch, SQLite's notes alone.
    if (others.length === 0 && (dialect === 'postgres' || write.sent.length === 0)) {
      return repo.writeJournal(db, dialect, write);
    }
    return db.transaction().execute(async (tx) => {
      const noted = await repo.writeJournal(tx, dialect, write);
      for (const item of others) {
        await recordOutcomes(tx, item.message, item.recipients, item.outcomes);
        await close(tx, item.message, item.owner, item.recipients, item.reply, item.fileSentCopy);
      }
      return noted;
    });
  }
  const journal = batchWrites(writeJournal, {
    urgent: (item) => item.kind === 'dataStarted',
    delayMs: OUTCOME_DELAY_MS,
    maxItems: OUTCOMES_PER_COMMIT,
  });
  /**
   * On SQLite a commit is paid on the one thread, so notes and outcomes share them. On PostgreSQL a
   * write is a round trip, and a note (which a connection waits on) should not queue behind an
   * outcome's: notes have their own writer beside the outcomes', several writes at once (each note
   * touches only its own recipients, so they never wait on each other's locks).
   */
  const notes =
    dialect === 'postgres'
      ? batchWrites(writeJournal, {
          urgent: () => true,
          delayMs: 0,
          maxItems: Infinity,
          concurrency: NOTE_WRITES_AT_ONCE,
        })
      : journal;

  /**
   * What sending a handful of claimed messages needs, in two queries: every recipient (the
   * headers name them all) and the attachments.
   */
  async function loadForSending(messageIds: readonly string[]) {
    const [recipients, attachments] = await Promise.all([
      findRecipientRows(db, messageIds),
      repo.findAttachmentsOf(db, messageIds),
    ]);
    return new Map(
      messageIds.map((id) => [
        id,
        {
          recipients: recipients.filter((row) => row.message_id === id),
          attachments: attachments.filter((row) => row.message_id === id),
        },
      ]),
    );
  }

  return {
    /**
     * A message whose worker died goes back to ready, unless a recipient's DATA had begun: then the
     * server may have it, so it waits as `uncertain` for a person rather than going out twice.
     */
    async recoverExpiredLeases(): Promise<{ requeued: number; uncertain: number }> {
      let requeued = 0;
      let uncertain = 0;
      for (const { id } of await repo.findExpiredLeases(db, stamp())) {
        await db.transaction().execute(async (tx) => {
          // Locked before its notes are read: a note being written now is then either seen here or
          // refused (its lease check waits for this transaction), never missed while it goes out.
          if (!(await repo.lockExpiredLease(tx, dialect, id, stamp()))) return;
          const maybeDelivered = await repo.hasUnsettledData(tx, id);
          const changed = await repo.updateLeasedMessage(tx, id, null, {
            status: maybeDelivered ? 'uncertain' : 'ready',
            lease_owner: null,
            lease_until: null,
            next_attempt_at: maybeDelivered ? null : stamp(),
            ...(maybeDelivered && {
              error_code: 'DELIVERY_UNCERTAIN',
              reply_text:
                'The worker stopped after the server accepted DATA; the message may have been delivered.',
            }),
            updated_at: stamp(),
          });
          if (changed && maybeDelivered) uncertain += 1;
          else if (changed) requeued += 1;
        });
      }
      return { requeued, uncertain };
    },

    /** Due messages for the dispatcher `owner` in the worker process `workerId`. */
    claim(owner: string, workerId: string, limit: number): Promise<Row<'messages'>[]> {
      const current = now();
      // One statement, atomic on its own: no transaction around it (on PostgreSQL, two round trips fewer).
      return repo.claimDueMessages(db, dialect, {
        owner,
        workerId,
        now: current.toISOString(),
        leaseUntil: new Date(current.getTime() + settings.leaseMs).toISOString(),
        limit,
      });
    },

    async renewLease(messageId: string, owner: string): Promise<boolean> {
      return repo.updateLeasedMessage(db, messageId, owner, {
        lease_until: new Date(now().getTime() + settings.leaseMs).toISOString(),
      });
    },

    /**
     * Durably noted before the first byte of the message goes out (after the server's 354). Marks
     * asked for at the same moment share one statement and one commit. Throws `LeaseLost` when
     * `owner` no longer holds the message: then it must not be sent.
     */
    async dataStarted(messageId: string, owner: string, recipientIds: readonly string[]): Promise<void> {
      const noted = await notes.add({ kind: 'dataStarted', note: { messageId, owner, recipientIds } });
      if (!noted.has(messageId)) throw new LeaseLost(messageId);
    },

    loadForSending,

    /**
     * One transaction's outcome, in a message that sends to each recipient on their own. The
     * in-memory recipients are kept up to date with what was recorded.
     */
    async recordRecipients(
      message: Row<'messages'>,
      recipients: Row<'message_recipients'>[],
      outcomes: RecipientOutcome[],
    ): Promise<void> {
      await db.transaction().execute((tx) => recordOutcomes(tx, message, recipients, outcomes));
    },

    /**
     * One transaction's outcome and the message's close together: the common, unpersonalised case.
     * Written behind: it resolves once committed, in a batch with others, and nothing need wait
     * for it but a worker about to stop (`flush`).
     */
    async complete(
      message: Row<'messages'>,
      owner: string,
      recipients: Row<'message_recipients'>[],
      outcomes: RecipientOutcome[],
      reply: ServerReply,
      fileSentCopy: boolean,
    ): Promise<void> {
      const plain =
        outcomes.length > 0 && outcomes.every((outcome) => outcome.accepted && outcome.reply === reply);
      if (!plain) {
        await journal.add({ kind: 'complete', message, owner, recipients, outcomes, reply, fileSentCopy });
        return;
      }
      for (const outcome of outcomes) {
        const recipient = recipients.find((row) => row.id === outcome.recipientId);
        if (recipient) recipient.status = 'accepted';
      }
      await journal.add({
        kind: 'sent',
        outcome: {
          messageId: message.id,
          owner,
          recipientIds: outcomes.map((outcome) => outcome.recipientId),
          reply: {
            code: reply.code,
            enhanced: reply.enhanced,
            text: reply.text,
            command: reply.command ?? 'DATA',
          },
          sentCopy: fileSentCopy ? 'pending' : null,
          at: stamp(),
          events: outcomeEvents(
            'email.sent',
            message,
            recipients.filter((recipient) => recipient.status === 'accepted'),
            { reply: replyOf(reply), errorCode: null },
            stamp(),
          ),
        },
      });
    },

    /** Resolves once every journal write asked for so far has ended: before a worker stops. */
    async flush(): Promise<void> {
      await Promise.all([notes.flush(), journal.flush()]);
    },

    async finish(
      message: Row<'messages'>,
      owner: string,
      recipients: Row<'message_recipients'>[],
      reply: ServerReply | null,
      fileSentCopy: boolean,
    ): Promise<void> {
      await close(db, message, owner, recipients, reply, fileSentCopy);
    },
    /**
     * A failed attempt. Without a final answer after DATA began, the message may have arrived:
     * `uncertain`. A transient failure retries with backoff until the attempts run out; a permanent
     * one is an error at once.
     */
    async fail(message: Row<'messages'>, owner: string, failure: SendFailure): Promise<void> {
      const maybeDelivered = failure.uncertain;
      const retry = !maybeDelivered && failure.transient && message.attempts < settings.maxAttempts;
      const failed = !maybeDelivered && !retry;
      // A final failure is announced (email.failed) in the transaction that records it.
      const write = async (tx: DbOrTx) => {
        const changed = await repo.updateLeasedMessage(tx, message.id, owner, {
          status: maybeDelivered ? 'uncertain' : retry ? 'ready' : 'error',
          error_code: failure.code,
          ...replyColumns(failure.reply),
          reply_command: failure.reply?.command ?? null,
          next_attempt_at: retry
            ? new Date(now().getTime() + retryDelayMs(message.attempts, settings.retryBaseMs)).toISOString()
            : null,
          lease_owner: null,
          lease_until: null,
          updated_at: stamp(),
        });
        if (maybeDelivered) return;
        const pending = await repo.findPendingRecipients(tx, message.id);
        await repo.updateRecipients(
          tx,
          pending.map((recipient) => recipient.id),
          { data_started_at: null },
        );
        if (changed && failed) {
          await insertEvents(
            tx,
            outcomeEvents(
              'email.failed',
              message,
              pending,
              { reply: replyOf(failure.reply), errorCode: failure.code },
              stamp(),
            ),
          );
        }
      };
      await (failed ? db.transaction().execute(write) : write(db));
    },

    /** Recipients a marketing send passes over (suppressed contacts), each with why. */
    async skipRecipients(
      recipients: Row<'message_recipients'>[],
      skipped: readonly { recipientId: string; status: `skipped_${string}` }[],
    ): Promise<void> {
      await db.transaction().execute(async (tx) => {
        for (const { recipientId, status } of skipped) {
          await repo.updateRecipients(tx, [recipientId], { status, updated_at: stamp() });
          const recipient = recipients.find((row) => row.id === recipientId);
          if (recipient) recipient.status = status;
        }
      });
    },

    /** Over quota: the message waits as ready until `until`; this attempt does not count. */
    async defer(message: Row<'messages'>, owner: string, until: Date): Promise<void> {
      await repo.updateLeasedMessage(db, message.id, owner, {
        status: 'ready',
        attempts: Math.max(0, message.attempts - 1),
        next_attempt_at: until.toISOString(),
        lease_owner: null,
        lease_until: null,
        updated_at: stamp(),
      });
    },

    /** Messages of the account sent since then: what its quotas count. */
    countSentSince(accountId: string, since: string): Promise<number> {
      return repo.countSentSince(db, accountId, since);
    },

    /** Sent messages of an account still to be filed in its Sent folder, oldest first. */
    async pendingSentCopies(accountId: string, limit: number) {
      const messages = await repo.findPendingSentCopies(db, accountId, limit);
      const loaded = await loadForSending(messages.map((message) => message.id));
      return messages.map((message) => ({ message, ...loaded.get(message.id)! }));
    },

    async markSentCopy(messageId: string, state: 'filed' | 'failed'): Promise<void> {
      await repo.updateSentCopy(db, messageId, state, stamp());
    },

    /**
     * The account cannot send now (its login failed, its password is not at hand): the message
     * waits as ready, and this attempt does not count against it.
     */
    async putBack(message: Row<'messages'>, owner: string): Promise<void> {
      await repo.updateLeasedMessage(db, message.id, owner, {
        status: 'ready',
        attempts: Math.max(0, message.attempts - 1),
        lease_owner: null,
        lease_until: null,
        updated_at: stamp(),
      });
    },
  };
}
