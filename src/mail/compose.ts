import { randomBytes } from 'node:crypto';
import { domainToASCII } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer';

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

const asAddress = (a: MailAddress) => (a.name ? { name: a.name, address: a.address } : a.address);

/** The complete RFC 5322 message, as the SMTP sender sends it and as the outbox stores it. */
export function composeMessage(input: ComposeInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: asAddress(input.from),
    ...(input.replyTo ? { replyTo: asAddress(input.replyTo) } : {}),
    ...(input.to.length > 0 ? { to: input.to.map(asAddress) } : {}),
    ...(input.cc.length > 0 ? { cc: input.cc.map(asAddress) } : {}),
    // bcc is left out on purpose: the dispatcher puts those addresses in the envelope only.
    subject: input.subject,
    ...(input.text !== null ? { text: input.text } : {}),
    ...(input.html !== null ? { html: input.html } : {}),
    attachments: input.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
    })),
    headers: input.headers,
    messageId: input.messageId,
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
