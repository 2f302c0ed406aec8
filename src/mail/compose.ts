import { randomBytes } from 'node:crypto';
import { domainToASCII } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer';
import { headerText, isHeaderName } from './header-value.ts';

export interface MailAddress {
  name: string | null;
  address: string;
}

export interface ComposeInput {
  from: MailAddress;
  replyTo: MailAddress | null;
  to: MailAddress[];
  cc: MailAddress[];
  /** Goes into the envelope only; never written as a header. */
  bcc: MailAddress[];
  subject: string;
  text: string | null;
  html: string | null;
  attachments: { filename: string; contentType: string; content: Buffer }[];
  /** Already allow-listed by the caller. */
  headers: Record<string, string>;
  /** "<…@domain>" */
  messageId: string;
  date: Date;
}

/** Every name and address passes the one header sanitiser, whoever wrote it. */
function asAddress(a: MailAddress) {
  const name = a.name ? headerText(a.name).trim() : '';
  const address = headerText(a.address).trim();
  return name ? { name, address } : address;
}

/**
 * Caller headers as nodemailer is handed them: plain strings only (an object value would be one of
 * nodemailer's "prepared" headers, written out raw), each value through the header sanitiser. A
 * name that is no RFC 5322 field name is a bug upstream (the API allow-lists them) and stops here.
 */
function customHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!isHeaderName(name)) throw new TypeError(`not a header field name: ${JSON.stringify(name)}`);
    out[name] = headerText(String(value));
  }
  return out;
}

/**
 * The complete RFC 5322 message, as the SMTP sender sends it and as the outbox stores it. Every
 * value that reaches a header (names, addresses, subject, caller headers, file names and content
 * types of attachments, the Message-ID) goes through `headerText` (src/mail/header-value.ts) first,
 * so no line break, control character or Unicode line separator reaches nodemailer, whatever path
 * the value took (API, contact card, an alert quoting an incoming subject).
 */
export async function composeMessage(input: ComposeInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: asAddress(input.from),
    ...(input.replyTo ? { replyTo: asAddress(input.replyTo) } : {}),
    ...(input.to.length > 0 ? { to: input.to.map(asAddress) } : {}),
    ...(input.cc.length > 0 ? { cc: input.cc.map(asAddress) } : {}),
    // bcc is left out on purpose: the dispatcher puts those addresses in the envelope only.
    subject: headerText(input.subject),
    ...(input.text !== null ? { text: input.text } : {}),
    ...(input.html !== null ? { html: input.html } : {}),
    attachments: input.attachments.map((a) => ({
      filename: headerText(a.filename),
      contentType: headerText(a.contentType),
      content: a.content,
    })),
    headers: customHeaders(input.headers),
    messageId: headerText(input.messageId),
    date: input.date,
    // The content is the user's; it must never make the server read its own files or fetch URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return composer.compile().build();
}

/** `<random@domain-of-from>`: the domain ties the id to the sender, the random part makes it unique. */
export function newMessageId(fromAddress: string): string {
  const at = fromAddress.lastIndexOf('@');
  const domain = at >= 0 ? domainToASCII(fromAddress.slice(at + 1).toLowerCase()) : '';
  const local = `${Date.now().toString(36)}.${randomBytes(12).toString('hex')}`;
  return `<${local}@${domain || 'mailroom.invalid'}>`;
}
