import type { Row } from '../db/database.ts';
import type { AccountSender } from '../domains/accounts/accounts.service.ts';
import { senderHeaders, type SenderContact } from '../domains/accounts/templates.ts';
import { composeMessage } from '../mail/compose.ts';

/**
 * A queued message as it goes out from its account: the From and Reply-To names drawn for one
 * contact (the sender templates), every To and Cc in the headers, Bcc in the envelope only. The
 * dispatcher sends it; the mailbox sync files the same in the account's Sent folder.
 */
export function composeOutgoing(
  message: Row<'messages'>,
  recipients: readonly Pick<Row<'message_recipients'>, 'kind' | 'name' | 'address'>[],
  attachments: readonly Pick<Row<'message_attachments'>, 'filename' | 'content_type' | 'content'>[],
  sender: AccountSender,
  contact: SenderContact,
  /** Headers of this transaction only (a marketing recipient's List-Unsubscribe). */
  extraHeaders: Record<string, string> = {},
): Promise<Buffer> {
  const headerList = (kind: 'to' | 'cc') =>
    recipients
      .filter((recipient) => recipient.kind === kind)
      .map((recipient) => ({ name: recipient.name, address: recipient.address }));
  return composeMessage({
    ...senderHeaders(sender, contact),
    to: headerList('to'),
    cc: headerList('cc'),
    bcc: [],
    subject: message.subject,
    text: message.text_body,
    html: message.html_body,
    attachments: attachments.map((attachment) => ({
      filename: attachment.filename,
      contentType: attachment.content_type,
      content: attachment.content,
    })),
    headers: { ...(JSON.parse(message.headers) as Record<string, string>), ...extraHeaders },
    messageId: message.message_id_header,
    date: new Date(message.created_at),
  });
}
