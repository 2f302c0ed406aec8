import { extractAddress } from './address.ts';
import { decodeHeaderValue } from './header-text.ts';
import { MAX_PART_TEXT } from './limits.ts';
import { firstHeader, parseHeaderBlock, readPartText, walkMessage } from './mime.ts';
import type { Headers, MimeMessage, MimePart } from './mime.ts';

/** What the classifier reads of a message, gathered in one walk. */
export interface MessageView {
  headers: Headers;
  subject: string;
  fromAddress: string | null;
  fromText: string;
  toAddress: string | null;
  /** The human-readable notice, without the returned message that some MTAs append inline. */
  notice: string;
  /** Bodies of message/delivery-status (and global) parts. */
  deliveryStatus: string[];
  /** Bodies of message/feedback-report parts. */
  feedbackReports: string[];
  /** Headers of the returned original message, from message/rfc822 or text/rfc822-headers. */
  returnedHeaders: Headers | null;
  /** The raw text that follows the notice, which often holds the returned headers inline. */
  trailer: string;
}

const RETURNED_TYPES = new Set([
  'message/rfc822',
  'text/rfc822-headers',
  'message/rfc822-headers',
  'message/global',
  'message/global-headers',
  'message/partial',
]);
const DSN_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);

/*
 * Where MTAs start the copy of the returned message inside the notice text. Anchored at a line
 * start with bounded repetition, so each line is scanned once.
 */
const RETURNED_MARKER = new RegExp(
  [
    '^[ \\t]{0,8}[-=_*]{2,80}[ \\t]{0,8}(?:this is a copy of|below this line|original message|returned message|unsent message|undelivered message|the header of the original|header of original|message header|original header|the original message|a copy of the original|start of returned|content of the returned|included is|returned mail)',
    '^(?:original message (?:follows|headers)|original message headers:|--- below this line|the original message headers|message headers follow|the original message headers are included|------ original message ------|unsent message below|the message that caused this notification was)',
    '^[ \\t]{0,8}-{2,80}[ \\t]{0,8}(?:original|returned|unsent)[ \\t]',
  ].join('|'),
  'im',
);
const INLINE_HEADERS =
  /^(?:received|return-path|dkim-signature|x-received|authentication-results|arc-seal|message-id):/im;

const HTML_TAG = /<[^<>]{0,4096}>/g;
const ENTITY = /&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});/gi;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: ' ' };

function htmlToText(html: string): string {
  return html
    .replace(/<(?:br|\/p|\/div|\/tr|\/li|\/h\d)[^<>]{0,256}>/gi, '\n')
    .replace(HTML_TAG, ' ')
    .replace(ENTITY, (whole, name: string) => {
      if (name[0] === '#') {
        const code =
          name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return NAMED[name.toLowerCase()] ?? whole;
    });
}

/** Splits a notice text where the returned message starts, keeping the notice before it. */
function splitReturned(text: string): { notice: string; trailer: string } {
  const marker = RETURNED_MARKER.exec(text);
  let cut = marker ? marker.index : -1;
  const inline = INLINE_HEADERS.exec(text);
  if (inline && (cut === -1 || inline.index < cut) && /\n[ \t]{0,64}\n$/.test(text.slice(0, inline.index))) {
    cut = inline.index;
  }
  return cut === -1
    ? { notice: text, trailer: '' }
    : { notice: text.slice(0, cut), trailer: text.slice(cut) };
}

function isAttachment(part: MimePart): boolean {
  return /^attachment/i.test(firstHeader(part.headers, 'content-disposition') ?? '');
}

function collect(
  message: MimeMessage,
): Omit<MessageView, 'headers' | 'subject' | 'fromAddress' | 'fromText' | 'toAddress'> {
  const { source, parts } = message;
  const ownStatus: string[] = [];
  const embeddedStatus: string[] = [];
  const feedbackReports: string[] = [];
  let returnedHeaders: Headers | null = null;
  let plain: string | null = null;
  let html: string | null = null;
  let looseText = '';
  parts.forEach((part, index) => {
    const type = part.contentType.mediaType;
    if (DSN_TYPES.has(type)) (part.embedded ? embeddedStatus : ownStatus).push(readPartText(source, part));
    else if (type === 'message/feedback-report') feedbackReports.push(readPartText(source, part));
    else if (RETURNED_TYPES.has(type)) {
      const child = parts[index + 1];
      if (child?.embedded && child.depth === part.depth + 1) returnedHeaders ??= child.headers;
      else {
        const returned = readPartText(source, part, 32 * 1024);
        returnedHeaders ??= parseHeaderBlock(returned, 0, returned.length).headers;
      }
    } else if (part.embedded || type.startsWith('multipart/') || isAttachment(part)) return;
    else if (type === 'text/plain' && plain === null) plain = readPartText(source, part);
    else if (type === 'text/html' && html === null) html = readPartText(source, part);
    else if (type.startsWith('text/') && looseText.length < MAX_PART_TEXT)
      looseText += readPartText(source, part);
  });
  // A multipart whose boundary never appears leaves only its container: read its body as text.
  const top = parts[0];
  if (
    plain === null &&
    html === null &&
    top &&
    top.contentType.mediaType.startsWith('multipart/') &&
    parts.length === 1
  ) {
    plain = readPartText(source, { ...top, contentType: { mediaType: 'text/plain', params: new Map() } });
  }
  const text = plain ?? (html !== null ? htmlToText(html) : looseText);
  const { notice, trailer } = splitReturned(text.replace(/\r\n?/g, '\n'));
  // A notice forwarded as an attachment carries its report inside the attached message.
  const deliveryStatus = ownStatus.length ? ownStatus : embeddedStatus;
  return { notice, trailer, deliveryStatus, feedbackReports, returnedHeaders };
}

export function readMessage(raw: Buffer): MessageView {
  const message = walkMessage(raw);
  const { headers } = message;
  const fromText = decodeHeaderValue(firstHeader(headers, 'from') ?? '');
  return {
    headers,
    subject: decodeHeaderValue(firstHeader(headers, 'subject') ?? ''),
    fromText,
    fromAddress: extractAddress(fromText),
    toAddress: extractAddress(decodeHeaderValue(firstHeader(headers, 'to') ?? '')),
    ...collect(message),
  };
}
