import { createHash } from 'node:crypto';
import { classifyMessage, type BounceVerdict, type RecipientVerdict } from '../../bounces/classify/index.ts';
import type { Clock } from '../../clock.ts';
import type { Db } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import type { BounceNotice } from '../../mail/bounce-intake.ts';
import { parseVerpAddress } from '../../mail/verp.ts';
import type { RawStore } from '../messages/raw-store.ts';
import type { BouncesService } from './bounces.service.ts';
import * as repo from './intake.repository.ts';

export interface BounceIntakeDeps {
  db: Db;
  now: Clock;
  /** verpKeys(keyring): the current key's first. */
  keys: readonly Buffer[];
  bounceDomain: string;
  rawStore: RawStore;
  bounces: BouncesService;
}

export interface NoticeOutcome {
  noticeId: string;
  /** The classifier's category of the notice. */
  category: BounceVerdict['category'];
  /** Whether a record was written for the token's recipient: a failure, a delay or a complaint. */
  recorded: boolean;
  bounceType: 'hard' | 'soft' | null;
  /** The same notice was kept already (the MTA sent it again): nothing was written this time. */
  duplicate: boolean;
}

export type BounceIntakeService = ReturnType<typeof createBounceIntakeService>;

const sha256hex = (raw: Buffer): string => createHash('sha256').update(raw).digest('hex');

/**
 * What the notice says about the recipient the token named: its entry in the verdict when one has
 * that address, else the first failure (the notice may name the address as a forwarder rewrote it).
 */
function verdictFor(verdict: BounceVerdict, address: string): RecipientVerdict | undefined {
  const folded = address.toLowerCase();
  return (
    verdict.recipients.find((r) => r.address?.toLowerCase() === folded) ??
    verdict.recipients.find((r) => r.action === 'failed') ??
    verdict.recipients[0]
  );
}

/**
 * The bounce notices of marketing mail, as the SMTP intake (src/mail/bounce-intake.ts) hands them
 * over. The VERP token of the address the notice came to decides whose bounce it is, never the
 * notice's own text: a notice cannot be made to bounce another recipient.
 */
export function createBounceIntakeService(deps: BounceIntakeDeps) {
  const { db, now, keys, bounceDomain, rawStore, bounces } = deps;

  const recipientOf = (address: string) => parseVerpAddress(address, bounceDomain, keys)?.recipientId ?? null;

  return {
    /** RCPT TO: a token that verifies and names a recipient that exists. */
    async acceptRecipient(address: string): Promise<boolean> {
      const recipientId = recipientOf(address);
      return recipientId !== null && (await repo.findBouncedRecipient(db, recipientId)) !== undefined;
    },

    /**
     * Keeps the notice (raw in the raw store, its row with the verdict) and, when the classifier
     * reads a bounce (failed or delayed) or a complaint, records it for the token's recipient
     * through the one write path (src/domains/bounces/bounces.service.ts), which marks the contact.
     * An auto-reply or ordinary mail is kept with its verdict, nothing more.
     */
    async receive(notice: BounceNotice): Promise<NoticeOutcome> {
      const rawKey = sha256hex(notice.raw);
      // Ours are lower-case addresses, whatever case an MTA wrote them in.
      const rcptTo = notice.rcptTo.toLowerCase();
      const verdict = classifyMessage(notice.raw);
      const recipientId = recipientOf(rcptTo);
      return db.transaction().execute(async (tx): Promise<NoticeOutcome> => {
        const known = await repo.findNotice(tx, rawKey, rcptTo);
        if (known) {
          const kept = known.verdict ? (JSON.parse(known.verdict) as BounceVerdict) : verdict;
          return {
            noticeId: known.id,
            category: kept.category,
            recorded: false,
            bounceType: null,
            duplicate: true,
          };
        }
        const at = now().toISOString();
        const recipient = recipientId ? await repo.findBouncedRecipient(tx, recipientId) : undefined;
        await rawStore.putAll(tx, [{ key: rawKey, raw: notice.raw }]);
        const noticeId = newId();
        await repo.insertNotice(tx, {
          id: noticeId,
          mail_from: notice.mailFrom,
          rcpt_to: rcptTo,
          message_id: recipient?.messageId ?? null,
          recipient_id: recipient?.recipientId ?? null,
          raw_key: rawKey,
          size: notice.raw.length,
          verdict: JSON.stringify(verdict),
          received_at: at,
        });
        const outcome: NoticeOutcome = {
          noticeId,
          category: verdict.category,
          recorded: false,
          bounceType: null,
          duplicate: false,
        };
        if (!recipient) return outcome;
        // A notice whose recipients the classifier could not read is still the token's recipient's.
        const evidence = verdictFor(verdict, recipient.address) ?? null;
        const recorded = await bounces.recordForRecipient(
          tx,
          {
            orgId: recipient.orgId,
            source: 'verp',
            accountId: recipient.accountId,
            rawKey,
            noticeMessageId: null,
          },
          recipient.recipientId,
          verdict,
          evidence,
        );
        if (!recorded) return outcome;
        const bounceType = verdict.category === 'bounce' ? (evidence?.bounceType ?? null) : null;
        return { ...outcome, recorded: true, bounceType };
      });
    },
  };
}
