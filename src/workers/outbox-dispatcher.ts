import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Row } from '../db/database.ts';
import type { AccountSender, AccountsService } from '../domains/accounts/accounts.service.ts';
import type { HealthState } from '../domains/accounts/accounts.ts';
import { renderSenderName, type SenderContact } from '../domains/accounts/templates.ts';
import type { ContactsService } from '../domains/contacts/contacts.service.ts';
import type { OutboxService, RecipientOutcome } from '../domains/outbox/outbox.service.ts';
import { composeMessage } from '../mail/compose.ts';
import { SmtpError, type SmtpErrorCode } from '../mail/errors.ts';
import type { SmtpSenderPool, SmtpServerConfig } from '../mail/smtp-types.ts';
import type { PeriodicTask } from './runner.ts';

export interface DispatcherDeps {
  outbox: OutboxService;
  accounts: AccountsService;
  contacts: ContactsService;
  pool: SmtpSenderPool;
  logger: Logger;
  /** Messages claimed and sent at once by this worker. */
  concurrency: number;
  pollIntervalMs: number;
  loadAttachments: (
    messageId: string,
  ) => Promise<{ filename: string; content_type: string; content: Buffer }[]>;
}

/** How each SMTP failure shows on the account's outgoing health. */
const healthForError: Partial<Record<SmtpErrorCode, HealthState>> = {
  SMTP_AUTH_FAILED: 'auth_error',
  SPA_UNAVAILABLE: 'auth_error',
  SMTP_CONNECT_FAILED: 'connect_error',
  SMTP_PROXY_FAILED: 'connect_error',
  SMTP_CONNECTION_LOST: 'connect_error',
  SMTP_TLS_FAILED: 'tls_error',
  SMTP_TIMEOUT: 'timeout',
};

/** Failures that no retry can fix until a person changes a setting or the password. */
const pausingErrors: readonly SmtpErrorCode[] = ['SMTP_AUTH_FAILED', 'SPA_UNAVAILABLE'];

export function smtpConfigFor(sender: AccountSender): SmtpServerConfig | { missingPassword: true } {
  const smtp = sender.settings.smtp!;
  let auth: SmtpServerConfig['auth'] = null;
  if (smtp.requiresAuth) {
    const user = smtp.useIncomingCredentials ? sender.settings.incoming.username : smtp.username;
    const pass = smtp.useIncomingCredentials ? sender.passwords.incoming : sender.passwords.smtp;
    if (!user || !pass) return { missingPassword: true };
    auth = { user, pass, spa: smtp.spa };
  }
  return {
    host: smtp.host,
    port: smtp.port,
    security: smtp.security,
    auth,
    proxy: smtp.proxy && { ...smtp.proxy, password: sender.passwords.proxy },
    timeoutMs: smtp.timeoutMs,
  };
}

/**
 * The outbox worker: recovers expired leases, claims due messages, and sends each through its
 * account's pooled SMTP connection. With a sender template, every recipient gets a transaction of
 * their own, with the From name drawn from their contact card.
 */
export function createOutboxDispatcher(deps: DispatcherDeps) {
  const { outbox, accounts, contacts, pool, logger } = deps;
  const owner = `worker-${randomUUID()}`;

  async function send(message: Row<'messages'>): Promise<void> {
    const log = logger.child({ messageId: message.id, accountId: message.account_id });
    const sender = message.account_id ? await accounts.sender(message.account_id) : null;
    if (!sender || sender.status !== 'active' || !sender.settings.smtp) {
      await outbox.fail(message, owner, {
        code: 'ACCOUNT_NOT_ACTIVE',
        transient: false,
        dataStarted: false,
        reply: {
          code: null,
          enhanced: null,
          text: sender ? `The account is ${sender.status}.` : 'The account was deleted.',
          command: null,
        },
      });
      return;
    }
    const config = smtpConfigFor(sender);
    if ('missingPassword' in config) {
      await accounts.recordHealth(
        sender.id,
        'outgoing',
        'password_required',
        'The password is not at hand; supply it again.',
      );
      await outbox.putBack(message, owner);
      return;
    }

    const recipients = await outbox.pendingRecipients(message.id);
    const personalised = Boolean(sender.fromNameTemplate || sender.replyToNameTemplate);
    const cards = personalised
      ? await contacts.forSending(undefined, sender.orgId, {
          ids: recipients.flatMap((recipient) => (recipient.contact_id ? [recipient.contact_id] : [])),
        })
      : new Map<string, SenderContact & { id: string }>();
    const cardOf = (contactId: string | null) => [...cards.values()].find((card) => card.id === contactId);
    const allRecipients = await outbox.pendingRecipients(message.id);
    const headerList = (kind: 'to' | 'cc') =>
      allRecipients
        .filter((recipient) => recipient.kind === kind)
        .map((recipient) => ({ name: recipient.name, address: recipient.address }));
    const attachments = await deps.loadAttachments(message.id);
    const groups = personalised ? recipients.map((recipient) => [recipient]) : [recipients];

    let lastReply = null;
    for (const group of groups) {
      const card = personalised ? cardOf(group[0]!.contact_id) : undefined;
      const contact: SenderContact = card ?? { email: group[0]!.address };
      const displayName = sender.displayName;
      const raw = await composeMessage({
        from: {
          name: renderSenderName(sender.fromNameTemplate, contact, displayName ?? '') || null,
          address: sender.email,
        },
        replyTo: {
          name:
            renderSenderName(sender.replyToNameTemplate, contact, sender.replyToName ?? displayName ?? '') ||
            null,
          address: sender.replyTo ?? sender.email,
        },
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
        headers: JSON.parse(message.headers) as Record<string, string>,
        messageId: message.message_id_header,
        date: new Date(message.created_at),
      });
      try {
        const result = await pool.send(
          sender.id,
          config,
          {
            envelope: { from: sender.email, to: group.map((recipient) => recipient.address) },
            raw,
            messageId: message.message_id_header,
          },
          () => outbox.dataStarted(group.map((recipient) => recipient.id)),
        );
        const outcomes: RecipientOutcome[] = group.map((recipient) => {
          const found = result.recipients.find(
            (entry) => entry.address.toLowerCase() === recipient.address.toLowerCase(),
          );
          return {
            recipientId: recipient.id,
            accepted: found?.accepted ?? true,
            reply: found?.reply ?? result.reply,
          };
        });
        await outbox.recordRecipients(message, outcomes);
        lastReply = result.reply;
        await accounts.recordHealth(sender.id, 'outgoing', 'ok', null);
        await outbox.renewLease(message.id, owner);
      } catch (error) {
        if (!(error instanceof SmtpError)) throw error;
        if (error.recipients) {
          await outbox.recordRecipients(
            message,
            group.map((recipient) => {
              const found = error.recipients!.find(
                (entry) => entry.address.toLowerCase() === recipient.address.toLowerCase(),
              );
              return { recipientId: recipient.id, accepted: false, reply: found?.reply ?? error.reply };
            }),
          );
          if (!personalised) break;
          continue;
        }
        const health = healthForError[error.code];
        if (health)
          await accounts.recordHealth(sender.id, 'outgoing', health, error.reply?.text ?? error.message);
        if (pausingErrors.includes(error.code)) {
          log.warn({ code: error.code }, 'sending paused: the server refused the login');
          await pool.close(sender.id);
          await outbox.putBack(message, owner);
          return;
        }
        log.warn({ code: error.code, transient: error.transient, attempt: message.attempts }, 'send failed');
        await outbox.fail(message, owner, {
          code: error.code,
          transient: error.transient,
          dataStarted: error.dataStarted,
          reply: error.reply,
        });
        return;
      }
    }
    await outbox.finish(message, owner, lastReply);
    await accounts.markUsed(sender.id);
  }

  async function runOnce(signal: AbortSignal): Promise<number> {
    const recovered = await outbox.recoverExpiredLeases();
    if (recovered.requeued + recovered.uncertain > 0)
      logger.warn(recovered, 'recovered messages from expired leases');
    let sent = 0;
    while (!signal.aborted) {
      const claimed = await outbox.claim(owner, deps.concurrency);
      if (claimed.length === 0) break;
      await Promise.all(
        claimed.map((message) =>
          send(message).catch(async (error: unknown) => {
            logger.error(
              { err: error, messageId: message.id },
              'dispatch crashed; the message is retried later',
            );
            await outbox.fail(message, owner, {
              code: 'INTERNAL_ERROR',
              transient: true,
              dataStarted: false,
              reply: null,
            });
          }),
        ),
      );
      sent += claimed.length;
    }
    return sent;
  }

  const task: PeriodicTask = {
    name: 'outbox',
    intervalMs: deps.pollIntervalMs,
    async run(signal) {
      await runOnce(signal);
    },
  };
  return { task, runOnce, owner };
}
