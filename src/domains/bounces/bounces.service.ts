import type { BounceVerdict, RecipientVerdict } from '../../bounces/classify/index.ts';
import { decideBounceType, decideReason } from '../../bounces/classify/reason.ts';
import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, NewRow, Row } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import { parseEnvelopeId, parseVerpToken } from '../../mail/verp.ts';
import { toPageWindow, type PageResult } from '../../pagination.ts';
import { eventRow, insertEvents } from '../automation/events.repository.ts';
import type { ContactMarkedPayload, EmailBouncedPayload } from '../automation/events.ts';
import { findContactRowByEmail } from '../contacts/contacts.repository.ts';
import { foldAddress } from '../contacts/contacts.ts';
import type { MessagesService } from '../messages/messages.service.ts';
import type { RawStore } from '../messages/raw-store.ts';
import type { Actor } from '../users/users.ts';
import * as repo from './bounces.repository.ts';
import type { Bounce, BounceListQuery, BounceRecord, MatchedBy } from './bounces.ts';

/** The server's refusal of one recipient at RCPT TO, read with the classifier's own rules. */
export function verdictForRcptReply(reply: { code: number | null; enhanced: string | null; text: string }) {
  const replyCode = reply.code === null ? null : String(reply.code);
  const reason = decideReason({
    action: 'failed',
    status: reply.enhanced,
    replyCode,
    diagnostic: reply.text,
    diagnosticType: 'smtp',
    command: 'RCPT',
  });
  return { reason, bounceType: decideBounceType(reason, 'failed', reply.enhanced, replyCode) };
}

/** What a notice offers to find the mail it answers, in the order they are tried. */
export interface NoticeClues {
  /** A message recipient the notice is known to be about (the intake's token): no other is tried. */
  recipientId?: string;
  /** The classifier's VERP token, as the notice quotes the return path. */
  verpToken?: string | null;
  /** The DSN's Original-Envelope-Id. */
  envelopeId?: string | null;
  /** The Message-ID of the returned message. */
  originalMessageId?: string | null;
  /** The failed recipient's address as the notice gives it. */
  address: string | null;
}

export interface BounceMatch {
  matchedBy: MatchedBy | null;
  messageId: string | null;
  recipientId: string | null;
  accountId: string | null;
  contactId: string | null;
  /** The recipient's address as sent, else the notice's. */
  address: string | null;
}

/** Where a notice came from and where it is kept, for every record it produces. */
export interface NoticeSource {
  orgId: string;
  source: 'mailbox' | 'verp';
  /** The account whose mailbox the notice was read from: its sent mail is looked at first. */
  accountId: string | null;
  rawKey: string;
  noticeMessageId: string | null;
}

export interface RecordOutcome {
  bounceId: string;
  /** The contact's mark this bounce set (it had not been set before), if any. */
  marked: 'faulty' | 'complained' | null;
}

export type BouncesService = ReturnType<typeof createBouncesService>;

const DAY_MS = 86_400_000;

/** The recipients a bounce notice reports failed or delayed; a notice that names none still counts once. */
function failuresIn(verdict: BounceVerdict): (RecipientVerdict | null)[] {
  const failures = verdict.recipients.filter(
    (recipient) =>
      recipient.action === null || recipient.action === 'failed' || recipient.action === 'delayed',
  );
  return failures.length > 0 ? failures : [null];
}

function toBounce(row: Row<'bounces'>): Bounce {
  return {
    id: row.id,
    source: row.source as Bounce['source'],
    action: row.action,
    matchedBy: row.matched_by as Bounce['matchedBy'],
    messageId: row.message_id,
    recipientId: row.recipient_id,
    accountId: row.account_id,
    contactId: row.contact_id,
    recipient: row.recipient,
    bounceType: row.bounce_type,
    reason: row.reason,
    status: row.status,
    replyCode: row.reply_code,
    diagnostic: row.diagnostic,
    remoteMta: row.remote_mta,
    hasRawNotice: row.raw_key !== null,
    noticeMessageId: row.notice_message_id,
    createdAt: row.created_at,
  };
}

/**
 * The one write path for bounces and complaints, whichever way they were learnt: the record, the
 * recipient's status, the contact's mark (a hard bounce or N soft ones in D days: faulty; a
 * complaint: complained) and the events, all in the caller's transaction.
 */
export function createBouncesService(deps: {
  db: Db;
  now: Clock;
  /** verpKeys(keyring): what VERP tokens and ENVIDs are signed with, newest first. */
  keys: readonly Buffer[];
  rawStore: RawStore;
  /** A notice read from a mailbox is that mailbox's message: whoever may read it may read the notice. */
  messages: Pick<MessagesService, 'raw'>;
}) {
  const { db, now, keys, rawStore, messages } = deps;

  async function pick(
    recipients: Awaited<ReturnType<typeof repo.findSentRecipients>>,
    address: string | null,
  ) {
    const folded = address ? foldAddress(address) : null;
    return (
      recipients.find((recipient) => foldAddress(recipient.address) === folded) ??
      (recipients.length === 1 ? recipients[0] : undefined)
    );
  }

  /** Finds the sent mail a notice answers: VERP token, ENVID, returned Message-ID, then the address. */
  async function match(
    tx: DbOrTx,
    orgId: string,
    accountId: string | null,
    clues: NoticeClues,
  ): Promise<BounceMatch> {
    const found = async (): Promise<
      [MatchedBy, Awaited<ReturnType<typeof repo.findSentRecipient>>] | null
    > => {
      if (clues.recipientId) return ['verp', await repo.findSentRecipient(tx, orgId, clues.recipientId)];
      const verp = clues.verpToken ? parseVerpToken(clues.verpToken, keys) : null;
      const byToken = verp ? await repo.findSentRecipient(tx, orgId, verp.recipientId) : undefined;
      if (byToken) return ['verp', byToken];
      const envelope = clues.envelopeId ? parseEnvelopeId(clues.envelopeId, keys) : null;
      if (envelope) {
        const recipient = await pick(
          await repo.findSentRecipients(tx, orgId, { id: envelope.messageId }),
          clues.address,
        );
        if (recipient) return ['envid', recipient];
      }
      if (clues.originalMessageId) {
        const recipients = await repo.findSentRecipients(tx, orgId, { header: clues.originalMessageId });
        const recipient = await pick(recipients, clues.address);
        if (recipient) return ['message_id', recipient];
      }
      if (clues.address) {
        const recipient = await repo.findLatestSentTo(tx, orgId, accountId, foldAddress(clues.address));
        if (recipient) return ['address', recipient];
      }
      return null;
    };
    const result = await found();
    const recipient = result?.[1];
    const address = recipient?.address ?? clues.address;
    const contactId =
      recipient?.contactId ??
      (address ? ((await findContactRowByEmail(tx, orgId, foldAddress(address)))?.id ?? null) : null);
    return {
      matchedBy: result && recipient ? result[0] : null,
      messageId: recipient?.messageId ?? null,
      recipientId: recipient?.recipientId ?? null,
      accountId: recipient?.accountId ?? null,
      contactId,
      address,
    };
  }

  /** What the bounce does to its contact: the mark it sets and the event that says so. */
  async function applyToContact(
    tx: DbOrTx,
    record: BounceRecord,
    bounceId: string,
    at: string,
  ): Promise<{ marked: RecordOutcome['marked']; event: NewRow<'events'> | null }> {
    const contact = record.contactId ? await repo.findContactForBounce(tx, record.contactId) : undefined;
    if (!contact || record.action === 'delayed') return { marked: null, event: null };
    const announce = (type: 'contact.faulty' | 'contact.complained', payload: ContactMarkedPayload) =>
      eventRow(
        record.orgId,
        type,
        { contactId: contact.id, accountId: record.accountId, messageId: record.messageId },
        payload,
        at,
      );
    if (record.action === 'complained') {
      if (!(await repo.markContact(tx, contact.id, 'complained_at', at)))
        return { marked: null, event: null };
      return {
        marked: 'complained',
        event: announce('contact.complained', {
          contactId: contact.id,
          email: contact.email,
          cause: 'complaint',
          bounceId,
        }),
      };
    }
    if (contact.faulty_at) return { marked: null, event: null };
    if (record.bounceType === 'hard') {
      await repo.markContact(tx, contact.id, 'faulty_at', at);
      return {
        marked: 'faulty',
        event: announce('contact.faulty', {
          contactId: contact.id,
          email: contact.email,
          cause: 'hard_bounce',
          bounceId,
        }),
      };
    }
    const windowStart = new Date(new Date(at).getTime() - contact.soft_bounce_window_days * DAY_MS);
    const resetAt = contact.soft_bounces_since ? new Date(contact.soft_bounces_since) : null;
    const since = resetAt && resetAt > windowStart ? resetAt : windowStart;
    const softBounces = await repo.countSoftBounces(tx, contact.id, since.toISOString());
    if (softBounces < contact.soft_bounce_limit) return { marked: null, event: null };
    await repo.markContact(tx, contact.id, 'faulty_at', at);
    return {
      marked: 'faulty',
      event: announce('contact.faulty', {
        contactId: contact.id,
        email: contact.email,
        cause: 'soft_bounces',
        bounceId,
        softBounces,
      }),
    };
  }

  async function record(tx: DbOrTx, record: BounceRecord): Promise<RecordOutcome> {
    const at = now().toISOString();
    const bounceId = newId();
    await repo.insertBounce(tx, {
      id: bounceId,
      org_id: record.orgId,
      source: record.source,
      action: record.action,
      matched_by: record.matchedBy,
      message_id: record.messageId,
      recipient_id: record.recipientId,
      account_id: record.accountId,
      contact_id: record.contactId,
      recipient: record.recipient,
      bounce_type: record.bounceType,
      reason: record.reason,
      status: record.status,
      reply_code: record.replyCode,
      diagnostic: record.diagnostic,
      remote_mta: record.remoteMta,
      raw_key: record.rawKey,
      notice_message_id: record.noticeMessageId,
      created_at: at,
    });
    if (record.action === 'failed' && record.recipientId)
      await repo.markRecipientBounced(tx, record.recipientId, at);
    const events: NewRow<'events'>[] = [];
    if (record.action === 'failed') {
      const payload: EmailBouncedPayload = {
        bounceId,
        source: record.source,
        messageId: record.messageId,
        recipientId: record.recipientId,
        accountId: record.accountId,
        contactId: record.contactId,
        recipient: record.recipient,
        bounceType: record.bounceType,
        reason: record.reason,
        status: record.status,
        diagnostic: record.diagnostic,
      };
      events.push(
        eventRow(
          record.orgId,
          'email.bounced',
          { accountId: record.accountId, messageId: record.messageId, contactId: record.contactId },
          payload,
          at,
        ),
      );
    }
    const { marked, event } = await applyToContact(tx, record, bounceId, at);
    if (event) events.push(event);
    await insertEvents(tx, events);
    return { bounceId, marked };
  }

  /** One record from one recipient's evidence in a notice, matched with the notice's clues. */
  async function recordEvidence(
    tx: DbOrTx,
    notice: NoticeSource,
    action: BounceRecord['action'],
    evidence: RecipientVerdict | null,
    clues: NoticeClues,
  ): Promise<RecordOutcome> {
    const matched = await match(tx, notice.orgId, notice.accountId, clues);
    const replyCode = Number(evidence?.replyCode ?? NaN);
    return record(tx, {
      orgId: notice.orgId,
      source: notice.source,
      action,
      matchedBy: matched.matchedBy,
      messageId: matched.messageId,
      recipientId: matched.recipientId,
      accountId: matched.accountId ?? notice.accountId,
      contactId: matched.contactId,
      recipient: matched.address ?? '',
      reason: action === 'complained' ? 'feedback' : (evidence?.reason ?? 'undefined'),
      bounceType: action === 'failed' ? (evidence?.bounceType ?? null) : null,
      status: evidence?.status ?? null,
      replyCode: Number.isInteger(replyCode) ? replyCode : null,
      diagnostic: evidence?.diagnostic ?? null,
      remoteMta: evidence?.remoteMta ?? null,
      rawKey: notice.rawKey,
      noticeMessageId: notice.noticeMessageId,
    });
  }

  return {
    /** Written in the caller's transaction, beside the change that learnt of the bounce. */
    record,

    match,

    /**
     * Records what a classified notice says: each failed or delayed recipient of a bounce, or the
     * complaint of a feedback report. Auto-replies, delivery reports and ordinary mail record nothing.
     */
    async recordNotice(tx: DbOrTx, notice: NoticeSource, verdict: BounceVerdict): Promise<RecordOutcome[]> {
      const shared = {
        verpToken: verdict.verpToken,
        envelopeId: verdict.envelopeId,
        originalMessageId: verdict.originalMessageId,
      };
      const outcomes: RecordOutcome[] = [];
      if (verdict.category === 'bounce') {
        for (const evidence of failuresIn(verdict)) {
          const action = evidence?.action === 'delayed' ? 'delayed' : 'failed';
          outcomes.push(
            await recordEvidence(tx, notice, action, evidence, {
              ...shared,
              address: evidence?.address ?? null,
            }),
          );
        }
      } else if (verdict.category === 'feedback') {
        const complainants = verdict.recipients.length > 0 ? verdict.recipients : [null];
        for (const evidence of complainants) {
          outcomes.push(
            await recordEvidence(tx, notice, 'complained', evidence, {
              ...shared,
              address: evidence?.address ?? null,
            }),
          );
        }
      }
      return outcomes;
    },

    /**
     * Records a notice the VERP intake received for one recipient: the token decides whose it is,
     * never the notice's text, so a notice cannot be made to bounce another recipient.
     */
    async recordForRecipient(
      tx: DbOrTx,
      notice: NoticeSource,
      recipientId: string,
      verdict: BounceVerdict,
      evidence: RecipientVerdict | null,
    ): Promise<RecordOutcome | null> {
      const action =
        verdict.category === 'feedback'
          ? 'complained'
          : evidence?.action === 'delayed'
            ? 'delayed'
            : 'failed';
      if (verdict.category !== 'bounce' && verdict.category !== 'feedback') return null;
      return recordEvidence(tx, notice, action, evidence, {
        recipientId,
        address: evidence?.address ?? null,
      });
    },

    async list(actor: Actor, query: BounceListQuery): Promise<PageResult<Bounce>> {
      const { rows, total } = await repo.listBounceRows(
        db,
        actor.orgId,
        { contactId: query.contactId, messageId: query.messageId, noticeMessageId: query.noticeMessageId },
        toPageWindow(query),
      );
      return { items: rows.map(toBounce), total };
    },

    /** The notice as it was received, so a person can see why a contact was marked. */
    async rawNotice(actor: Actor, id: string): Promise<Buffer> {
      const row = await repo.findBounceRow(db, actor.orgId, id);
      if (!row) throw new AppError('BOUNCE_NOT_FOUND', `No bounce ${id}.`);
      if (row.notice_message_id) return messages.raw(actor, row.notice_message_id);
      const raw = row.raw_key ? await rawStore.get(db, row.raw_key) : null;
      if (!raw)
        throw new AppError(
          'BOUNCE_NOT_FOUND',
          `Bounce ${id} has no raw notice: it was a reply at send time.`,
        );
      return raw;
    },
  };
}
