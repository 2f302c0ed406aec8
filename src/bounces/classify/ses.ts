import { extractAddress } from './address.ts';
import { MAX_RECIPIENTS } from './limits.ts';

/** One recipient of an Amazon SES event notification. */
export interface SesRecipient {
  address: string | null;
  action: string | null;
  status: string | null;
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface SesNotification {
  kind: 'bounce' | 'complaint' | 'delivery';
  permanent: boolean;
  recipients: SesRecipient[];
  messageId: string | null;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
}

function asString(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value.slice(0, MAX_RECIPIENTS) : [];
}

function parseJson(text: string): Json | null {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return null;
  }
}

/**
 * Reads the JSON that Amazon SES publishes for bounces, complaints and deliveries (sent by mail
 * through SNS, sometimes still wrapped in the SNS envelope whose "Message" holds the JSON as a string).
 */
export function readSesNotification(text: string): SesNotification | null {
  const start = text.indexOf('{');
  if (start === -1 || start > 512 || !text.includes('notificationType')) return null;
  const end = text.lastIndexOf('}');
  // Sendmail breaks lines longer than its limit with "!" and a folded newline; undo that first.
  let body = parseJson(text.slice(start, end + 1).replace(/!\r?\n /g, ''));
  const wrapped = asString(body?.Message);
  if (wrapped) body = parseJson(wrapped);
  if (!body) return null;
  const mail = asObject(body.mail);
  const headers = asObject(mail?.commonHeaders);
  const messageId = asString(headers?.messageId);
  const type = asString(body.notificationType)?.toLowerCase();
  if (type === 'bounce') {
    const bounce = asObject(body.bounce);
    const reportingMta = asString(bounce?.reportingMTA)?.replace(/^dns;\s{0,8}/i, '') ?? null;
    const recipients = asList(bounce?.bouncedRecipients).map((entry) => {
      const r = asObject(entry);
      return {
        address: extractAddress(asString(r?.emailAddress)),
        action: asString(r?.action),
        status: asString(r?.status),
        diagnostic: asString(r?.diagnosticCode),
        remoteMta: reportingMta,
      };
    });
    return { kind: 'bounce', permanent: asString(bounce?.bounceType) === 'Permanent', recipients, messageId };
  }
  if (type === 'complaint') {
    const complaint = asObject(body.complaint);
    const recipients = asList(complaint?.complainedRecipients).map((entry) => ({
      address: extractAddress(asString(asObject(entry)?.emailAddress)),
      action: null,
      status: null,
      diagnostic: asString(complaint?.complaintFeedbackType),
      remoteMta: null,
    }));
    return { kind: 'complaint', permanent: false, recipients, messageId };
  }
  if (type === 'delivery') {
    const delivery = asObject(body.delivery);
    const diagnostic = asString(delivery?.smtpResponse);
    const remoteMta = asString(delivery?.reportingMTA);
    const recipients = asList(delivery?.recipients).map((entry) => ({
      address: extractAddress(asString(entry)),
      action: 'delivered',
      status: null,
      diagnostic,
      remoteMta,
    }));
    return { kind: 'delivery', permanent: false, recipients, messageId };
  }
  return null;
}
