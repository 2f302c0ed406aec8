import type { Clock } from '../../clock.ts';
import type { DbOrTx } from '../../db/database.ts';
import { newId } from '../../db/ids.ts';
import { decideBounceType, decideReason } from '../../bounces/classify/reason.ts';

/**
 * One normalised record for every way a bounce is learnt (a 5xx at send time now; the mailbox
 * reader, VERP and webhooks later), written through one path.
 */
export interface BounceRecord {
  orgId: string;
  source: 'smtp' | 'mailbox' | 'verp' | 'webhook';
  messageId: string | null;
  accountId: string | null;
  contactId: string | null;
  recipient: string;
  reason: string;
  bounceType: 'hard' | 'soft' | null;
  status: string | null;
  replyCode: number | null;
  diagnostic: string | null;
  remoteMta: string | null;
}

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

export type BouncesService = ReturnType<typeof createBouncesService>;

export function createBouncesService({ now }: { now: Clock }) {
  return {
    /** Written in the caller's transaction, beside the change that learnt of the bounce. */
    async record(tx: DbOrTx, record: BounceRecord): Promise<void> {
      await tx
        .insertInto('bounces')
        .values({
          id: newId(),
          org_id: record.orgId,
          source: record.source,
          message_id: record.messageId,
          account_id: record.accountId,
          contact_id: record.contactId,
          recipient: record.recipient,
          bounce_type: record.bounceType,
          reason: record.reason,
          status: record.status,
          reply_code: record.replyCode,
          diagnostic: record.diagnostic,
          remote_mta: record.remoteMta,
          created_at: now().toISOString(),
        })
        .execute();
    },
  };
}
