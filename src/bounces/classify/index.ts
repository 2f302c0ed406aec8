import { extractAddress, extractAddresses, isSystemAddress } from './address.ts';
import { isAutoReply } from './autoreply.ts';
import { parseDeliveryStatus } from './dsn.ts';
import type { DsnRecipient } from './dsn.ts';
import { readFeedback } from './feedback.ts';
import { MAX_DIAGNOSTIC, MAX_RECIPIENTS } from './limits.ts';
import { readMessage } from './message-view.ts';
import type { MessageView } from './message-view.ts';
import { firstHeader } from './mime.ts';
import { decideBounceType, decideReason } from './reason.ts';
import { readSesNotification } from './ses.ts';
import { findLastStatus, findReplyCode } from './status-code.ts';
import { findSmtpCommand } from './smtp-command.ts';
import { findTextRecipients } from './text-notice.ts';
import type { BounceVerdict, Category, Reason, RecipientVerdict } from './types.ts';
import { findVerpToken } from './verp.ts';

export type { BounceType, BounceVerdict, Category, Reason, RecipientVerdict } from './types.ts';

interface Evidence {
  address: string | null;
  /** The notice's own lines about this recipient, where the SMTP stage is usually named. */
  stageText?: string | null;
  action: string | null;
  status: string | null;
  diagnostic: string | null;
  diagnosticType: string | null;
  remoteMta: string | null;
}

function cleanDiagnostic(text: string | null): string | null {
  if (!text) return null;
  const collapsed = text.replace(/\s{1,4096}/g, ' ').trim();
  if (!collapsed) return null;
  return collapsed.length > MAX_DIAGNOSTIC ? collapsed.slice(0, MAX_DIAGNOSTIC) : collapsed;
}

/**
 * The code the remote server gave, quoted in the diagnostic, says more than the Status field a
 * relay filled in ("4.4.7" for whatever made it give up), so it is preferred. With no enhanced code
 * at all, the reply code's class still tells failure from delay: "421" gives "4.0.0".
 */
function chooseStatus(given: string | null, diagnostic: string, replyCode: string | null): string | null {
  const quoted = findLastStatus(diagnostic);
  if (quoted) return quoted;
  if (given) return given;
  return replyCode ? `${replyCode[0]}.0.0` : null;
}

/**
 * Builds a recipient's verdict from its evidence. `context` is wider text (the whole notice) that is
 * consulted only when the recipient's own lines name no reason.
 */
/** The hosts provider rules key on: the remote MTA, the recipient's domain, and who sent the notice. */
function hostsOf(evidence: Evidence, reporter: string | null | undefined): string[] {
  const hosts: string[] = [];
  const mta = evidence.remoteMta?.toLowerCase().match(/[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}/)?.[0];
  if (mta) hosts.push(mta);
  for (const address of [evidence.address, reporter]) {
    const at = address?.lastIndexOf('@') ?? -1;
    if (address && at >= 0) hosts.push(address.slice(at + 1).toLowerCase());
  }
  return hosts;
}

function toRecipient(
  evidence: Evidence,
  fixedReason?: Reason,
  context?: string,
  reporter?: string | null,
): RecipientVerdict {
  const full = evidence.diagnostic?.replace(/\s{1,4096}/g, ' ').trim() ?? '';
  const diagnostic = cleanDiagnostic(full);
  let replyCode = findReplyCode(full);
  let status = chooseStatus(evidence.status, full, replyCode);
  const decide = (text: string | null): Reason =>
    decideReason({
      action: evidence.action,
      status,
      replyCode,
      diagnostic: text,
      diagnosticType: evidence.diagnosticType,
      command: findSmtpCommand(evidence.stageText ?? text) ?? findSmtpCommand(text),
      hosts: hostsOf(evidence, reporter),
    });
  let reason = fixedReason ?? decide(diagnostic);
  if (!fixedReason && context && (reason === 'onhold' || reason === 'undefined')) {
    const wider = context.replace(/\s{1,4096}/g, ' ');
    replyCode ??= findReplyCode(wider);
    status ??= chooseStatus(null, wider, replyCode);
    reason = decide(wider);
  }
  return {
    address: evidence.address,
    action: evidence.action,
    status,
    replyCode,
    reason,
    bounceType: decideBounceType(reason, evidence.action, status, replyCode),
    diagnostic,
    remoteMta: evidence.remoteMta,
  };
}

const MESSAGE_ID = /^message-id:[ \t]{0,16}(<[^<>\s]{1,998}>)/im;

function originalMessageId(view: MessageView): string | null {
  const returned = view.returnedHeaders && firstHeader(view.returnedHeaders, 'message-id');
  if (returned) return /<[^<>\s]{1,998}>/.exec(returned)?.[0] ?? returned;
  return MESSAGE_ID.exec(view.trailer)?.[1] ?? null;
}

function verdict(
  view: MessageView,
  category: Category,
  recipients: RecipientVerdict[],
  envelopeId: string | null,
  messageId = originalMessageId(view),
  mailFrom: string | null = null,
): BounceVerdict {
  // Bounces and complaints come back through the envelope sender; auto-replies go to From instead.
  const returnsToSender = category === 'bounce' || category === 'feedback' || category === 'delivered';
  return {
    category,
    recipients,
    originalMessageId: messageId,
    envelopeId,
    verpToken: returnsToSender ? findVerpToken(view.headers, view.returnedHeaders, mailFrom) : null,
  };
}

function isFailure(recipient: RecipientVerdict): boolean {
  return recipient.reason !== 'delivered';
}

/** Fills in from the notice text what a DSN block leaves out: the diagnostic, and the SMTP stage. */
function withNoticeText(recipient: DsnRecipient, view: MessageView): Evidence {
  const address = recipient.address?.toLowerCase();
  const fromText = address
    ? findTextRecipients(view.notice, new Set()).find((r) => r.address.toLowerCase() === address)
    : undefined;
  const diagnostic = recipient.diagnostic ?? fromText?.diagnostic ?? null;
  return {
    ...recipient,
    diagnostic,
    stageText: fromText ? `${fromText.diagnostic} ${diagnostic ?? ''}` : diagnostic,
  };
}

function failedRecipientsHeader(view: MessageView): string[] {
  return (view.headers.get('x-failed-recipients') ?? []).flatMap((value) =>
    extractAddresses(value, MAX_RECIPIENTS),
  );
}

const INLINE_REPORT = /^(?:reporting-mta|final-recipient):[ \t]{0,16}[a-z0-9-]{1,32};/im;

/**
 * The delivery-status reports to read: the message/delivery-status parts, or else report fields
 * written into the text, as when a broken boundary line ran the report into the text part.
 */
function reportsOf(view: MessageView): string[] {
  if (view.deliveryStatus.length) return view.deliveryStatus;
  const start = view.notice.search(INLINE_REPORT);
  return start >= 0 && /^action:/im.test(view.notice.slice(start)) ? [view.notice.slice(start)] : [];
}

function classifyDeliveryStatus(view: MessageView): BounceVerdict | null {
  const reports = reportsOf(view).map(parseDeliveryStatus);
  const listed = reports.flatMap((report) => report.recipients).slice(0, MAX_RECIPIENTS);
  // A block whose recipient field is unusable ("rfc822; @host") borrows the address the text gives.
  if (listed.some((r) => !r.address)) {
    const inText = findTextRecipients(view.notice, new Set()).map((r) => r.address);
    // Exim names them in X-Failed-Recipients too, when its text part lists none.
    const named = inText.length ? inText : failedRecipientsHeader(view);
    listed.forEach((r, i) => (r.address ??= named[i] ?? null));
  }
  // A lone recipient is what the whole notice is about, so its text may explain a bare DSN block.
  const fallback = listed.length === 1 ? view.notice : undefined;
  const recipients = listed.map((r) =>
    toRecipient(withNoticeText(r, view), undefined, fallback, view.fromAddress),
  );
  if (!recipients.length) return null;
  const envelopeId = reports.find((report) => report.envelopeId)?.envelopeId ?? null;
  const failed = recipients.filter(isFailure);
  return failed.length
    ? verdict(view, 'bounce', failed, envelopeId)
    : verdict(view, 'delivered', recipients, envelopeId);
}

function classifySes(view: MessageView): BounceVerdict | null {
  const notification = readSesNotification(view.notice);
  if (!notification) return null;
  const messageId = notification.messageId;
  if (notification.kind === 'complaint') {
    const recipients = notification.recipients.map((r) =>
      toRecipient({ ...r, diagnosticType: null }, 'feedback'),
    );
    return verdict(view, 'feedback', recipients, null, messageId);
  }
  const recipients = notification.recipients.map((r) => toRecipient({ ...r, diagnosticType: null }));
  const category = notification.kind === 'delivery' ? 'delivered' : 'bounce';
  return verdict(view, category, recipients, null, messageId);
}

function classifyFeedback(view: MessageView): BounceVerdict | null {
  const report = readFeedback(view);
  if (!report) return null;
  const recipients = report.addresses.map((address) =>
    toRecipient(
      {
        address,
        action: null,
        status: null,
        diagnostic: report.feedbackType,
        diagnosticType: null,
        remoteMta: null,
      },
      'feedback',
    ),
  );
  return verdict(view, 'feedback', recipients, report.envelopeId, originalMessageId(view), report.mailFrom);
}

const DAEMON_SENDER =
  /mailer-daemon|postmaster|post_master|mail delivery|maildelivery|mail\.delivery|mail administrator|mdaemon|ndr administrator|system administrator|mail system|returned mail|bounce/i;
const BOUNCE_SUBJECT =
  /undeliver|undelivered|not delivered|non[- ]?deliver|delivery (?:status|failure|failed|has failed|problem|notification|report|error)|delivery failure|failure notice|failed delivery|mail delivery failed|returned mail|returned to sender|returning message|could not be delivered|couldn't be delivered|mail system error|mail failure|permanent (?:error|failure)|could not send|delayed mail|delivery delayed|message delayed|warning: message|unable to deliver|error sending|there was an error|not be delivered|nicht zustellbar|no se puede entregar|non remis/i;
const BOUNCE_TEXT =
  /could not be delivered|couldn't be delivered|cannot be delivered|can't be delivered|was not delivered|wasn't delivered|not be delivered|undeliverable|undelivered|unable to deliver|wasn't able to deliver|was unable to deliver|delivery (?:has )?failed|failed permanently|permanent error|permanent fatal error|delivery to the following recipients? failed|following address(?:\(es\)|es)? failed|could not be reached|transcript of session|returned to sender|delivery status notification|mail delivery failed|delivery failure|failed to deliver|delivery problem|has been delayed|will continue to (?:try|attempt)|still being retried|delivery attempts will continue|has not yet been delivered|not yet been delivered|rejected your message|message was rejected|could not deliver|has been blocked|error delivering|there was an error|kann nicht zugestellt/i;
const DELAY_TEXT =
  /\bdelayed\b|will (?:continue|keep) (?:trying|to try|attempting)|still (?:trying|being retried)|delivery attempts will continue|has not yet been delivered|not yet been delivered|will be retried|will retry|no action is required/i;

const INLINE_SENDER = /^(?:from|return-path|sender):[ \t]{0,16}(.{1,998})$/gim;
const TRANSCRIPT_SENDER = /\bmail\s{1,16}from:[ \t]{0,8}(<[^<>\s]{1,512}>)/gi;

function excludedAddresses(view: MessageView): Set<string> {
  const excluded = new Set<string>();
  for (const address of [view.fromAddress, view.toAddress]) if (address) excluded.add(address.toLowerCase());
  const returnedFrom = view.returnedHeaders && extractAddress(firstHeader(view.returnedHeaders, 'from'));
  if (returnedFrom) excluded.add(returnedFrom.toLowerCase());
  // The sender, as the copy of the message appended inline names it.
  for (const match of view.trailer.slice(0, 16_384).matchAll(INLINE_SENDER)) {
    const address = extractAddress(match[1] ?? null);
    if (address) excluded.add(address.toLowerCase());
  }
  // The envelope sender, as an SMTP transcript in the notice gives it ("MAIL FROM:<a@b>").
  for (const match of view.notice.slice(0, 16_384).matchAll(TRANSCRIPT_SENDER)) {
    const address = extractAddress(match[1] ?? null);
    if (address) excluded.add(address.toLowerCase());
  }
  return excluded;
}

const MESSAGE_ID_FIELDS = /^[ \t>]{0,40}(?:message-id|in-reply-to|references|content-id):.{0,998}$/gim;

/** The last resort for a notice that names no recipient in a shape we know: who the returned message went to. */
function fallbackRecipients(view: MessageView, excluded: Set<string>): string[] {
  // A message id looks like an address but names a message: a forwarded notice quotes its own.
  const text = view.notice.replace(MESSAGE_ID_FIELDS, '');
  const named = extractAddresses(text, MAX_RECIPIENTS).filter(
    (a) => !isSystemAddress(a) && !excluded.has(a.toLowerCase()),
  );
  if (named.length) return named;
  const returnedTo = view.returnedHeaders
    ? firstHeader(view.returnedHeaders, 'to')
    : /^to:[ \t]{0,16}(.{1,998})$/im.exec(view.trailer)?.[1];
  return returnedTo ? extractAddresses(returnedTo, MAX_RECIPIENTS) : [];
}

function fromDaemon(view: MessageView): boolean {
  return DAEMON_SENDER.test(view.fromText) || view.fromAddress === null;
}

function classifyTextNotice(view: MessageView): BounceVerdict | null {
  const daemon = fromDaemon(view);
  const subjectSays = BOUNCE_SUBJECT.test(view.subject);
  const textSays = BOUNCE_TEXT.test(view.notice.slice(0, 8192).replace(/\s{1,4096}/g, ' '));
  if (!daemon && !subjectSays && !textSays && !view.headers.has('x-failed-recipients')) return null;
  const excluded = excludedAddresses(view);
  let found = findTextRecipients(view.notice, excluded);
  if (!found.length) {
    // Exim and Google also name the failed recipients in a header, for notices in any language.
    found = failedRecipientsHeader(view).map((address) => ({ address, diagnostic: view.notice }));
  }
  if (!found.length) {
    if (!(textSays && (daemon || subjectSays))) return null;
    found = fallbackRecipients(view, excluded).map((address) => ({ address, diagnostic: view.notice }));
  }
  if (!found.length) return null;
  const delayed = DELAY_TEXT.test(view.subject) || DELAY_TEXT.test(view.notice.slice(0, 2048));
  const action = delayed ? 'delayed' : 'failed';
  // With one recipient the whole notice is about it, including the SMTP stage it names.
  const stageText = found.length === 1 ? view.notice : null;
  const recipients = found.map((r) =>
    toRecipient(
      {
        address: r.address,
        action,
        status: null,
        diagnostic: r.diagnostic,
        diagnosticType: null,
        remoteMta: null,
        stageText,
      },
      undefined,
      view.notice,
      view.fromAddress,
    ),
  );
  return verdict(view, 'bounce', recipients, null);
}

function classifyAutoReply(view: MessageView): BounceVerdict | null {
  if (!isAutoReply(view.headers, view.subject, view.notice)) return null;
  const recipient = toRecipient(
    {
      address: view.fromAddress,
      action: null,
      status: null,
      diagnostic: view.subject,
      diagnosticType: null,
      remoteMta: null,
    },
    'vacation',
  );
  const inReplyTo = /<[^<>\s]{1,998}>/.exec(firstHeader(view.headers, 'in-reply-to') ?? '')?.[0] ?? null;
  return verdict(view, 'autoreply', [recipient], null, inReplyTo);
}

/** Classifies a raw RFC 5322 message. Pure: no I/O, and the work is bounded by the caps in limits.ts. */
export function classifyMessage(raw: Buffer): BounceVerdict {
  const view = readMessage(raw);
  // A person's auto-reply may quote enough of a failure to look like one; a daemon's never is one.
  const personal = !fromDaemon(view);
  return (
    classifyFeedback(view) ??
    classifyDeliveryStatus(view) ??
    classifySes(view) ??
    (personal ? classifyAutoReply(view) : null) ??
    classifyTextNotice(view) ??
    (personal ? null : classifyAutoReply(view)) ?? {
      category: 'none',
      recipients: [],
      originalMessageId: null,
      envelopeId: null,
      verpToken: null,
    }
  );
}
