import { extractAddress } from './address.ts';
import { fieldGroups } from './fields.ts';
import { MAX_RECIPIENTS } from './limits.ts';
import type { MessageView } from './message-view.ts';
import { firstHeader } from './mime.ts';

export interface FeedbackReport {
  /** The complaining recipients; one null entry when the report names nobody. */
  addresses: Array<string | null>;
  feedbackType: string | null;
  envelopeId: string | null;
  /** The envelope sender of the reported message, which carries a VERP token when one was used. */
  mailFrom: string | null;
}

/**
 * Recognises a complaint: an RFC 5965 report (message/feedback-report), Microsoft's JMRP reports
 * (the returned message carries X-HmXmrOriginalRecipient), and the one-click unsubscribe mail that
 * Apple Mail sends (X-Apple-Unsubscribe), which is an opt-out from the sender's own address.
 */
export function readFeedback(view: MessageView): FeedbackReport | null {
  const [report] = view.feedbackReports;
  const returnedTo = view.returnedHeaders ? extractAddress(firstHeader(view.returnedHeaders, 'to')) : null;
  if (report !== undefined) {
    const fields = fieldGroups(report).flat();
    const value = (name: string): string | null => fields.find((f) => f.name === name)?.value || null;
    const recipients = fields
      .filter((f) => f.name === 'original-rcpt-to' || f.name === 'removal-recipient')
      .map((f) => extractAddress(f.value))
      .filter((a): a is string => a !== null);
    const unique = [...new Set(recipients)].slice(0, MAX_RECIPIENTS);
    return {
      addresses: unique.length ? unique : [returnedTo],
      feedbackType: value('feedback-type')?.toLowerCase() ?? null,
      envelopeId: value('original-envelope-id'),
      mailFrom: value('original-mail-from'),
    };
  }
  const jmrp = view.returnedHeaders && firstHeader(view.returnedHeaders, 'x-hmxmroriginalrecipient');
  if (jmrp)
    return {
      addresses: [extractAddress(jmrp) ?? returnedTo],
      feedbackType: 'abuse',
      envelopeId: null,
      mailFrom: null,
    };
  if ((firstHeader(view.headers, 'x-apple-unsubscribe') ?? '').trim().toLowerCase() === 'true') {
    return { addresses: [view.fromAddress], feedbackType: 'opt-out', envelopeId: null, mailFrom: null };
  }
  const reportType = (firstHeader(view.headers, 'content-type') ?? '').toLowerCase();
  if (reportType.includes('feedback-report')) {
    return { addresses: [returnedTo], feedbackType: null, envelopeId: null, mailFrom: null };
  }
  return null;
}
