import { extractFieldAddress } from './address.ts';
import { MAX_RECIPIENTS } from './limits.ts';
import { fieldGroups, typedValue } from './fields.ts';
import { findStatus } from './status-code.ts';

/** One per-recipient block of an RFC 3464 delivery-status report. */
export interface DsnRecipient {
  address: string | null;
  action: string | null;
  status: string | null;
  diagnosticType: string | null;
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface DeliveryStatus {
  envelopeId: string | null;
  reportingMta: string | null;
  recipients: DsnRecipient[];
}

function emptyRecipient(): DsnRecipient {
  return {
    address: null,
    action: null,
    status: null,
    diagnosticType: null,
    diagnostic: null,
    remoteMta: null,
  };
}

/**
 * Parses the body of a message/delivery-status part. Per-recipient blocks are recognised by their
 * fields rather than by position, so a report that forgets a blank line still splits correctly.
 */
export function parseDeliveryStatus(text: string): DeliveryStatus {
  const result: DeliveryStatus = { envelopeId: null, reportingMta: null, recipients: [] };
  for (const group of fieldGroups(text)) {
    let current: DsnRecipient | null = null;
    let hasFinal = false;
    let original: string | null = null;
    const close = (): void => {
      if (current && result.recipients.length < MAX_RECIPIENTS) {
        current.address ??= original;
        if (current.address || current.status || current.action) result.recipients.push(current);
      }
      current = null;
      hasFinal = false;
      original = null;
    };
    for (const { name, value } of group) {
      if (name === 'original-envelope-id') result.envelopeId ??= value || null;
      else if (name === 'reporting-mta') result.reportingMta ??= typedValue(value).text || null;
      else if (name === 'final-recipient' || name === 'x-actual-recipient') {
        if (name === 'final-recipient' && hasFinal) close();
        current ??= emptyRecipient();
        if (name === 'final-recipient') {
          hasFinal = true;
          current.address = extractFieldAddress(typedValue(value).text) ?? current.address;
        } else current.address ??= extractFieldAddress(typedValue(value).text);
      } else if (name === 'original-recipient') {
        current ??= emptyRecipient();
        original = extractFieldAddress(typedValue(value).text);
      } else if (name === 'action') {
        current ??= emptyRecipient();
        current.action = value.split(/[\s(;]/, 1)[0]?.toLowerCase() || null;
      } else if (name === 'status') {
        current ??= emptyRecipient();
        current.status = findStatus(value);
      } else if (name === 'diagnostic-code') {
        current ??= emptyRecipient();
        const { type, text: diagnostic } = typedValue(value);
        current.diagnosticType = type;
        current.diagnostic = diagnostic || null;
      } else if (name === 'remote-mta') {
        current ??= emptyRecipient();
        current.remoteMta = typedValue(value).text.replace(/^\[|\]$/g, '') || null;
      }
    }
    close();
  }
  return result;
}
