import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, NewRow, Row } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { newId } from '../../db/ids.ts';
import { AppError, type FieldErrors } from '../../errors.ts';
import { newMessageId } from '../../mail/compose.ts';
import { attachmentContent } from '../../mail/parse.ts';
import { toPageWindow, type PageResult } from '../../pagination.ts';
import type { AccountsService } from '../accounts/accounts.service.ts';
import type { ContactsService } from '../contacts/contacts.service.ts';
import { foldAddress, type Suppression } from '../contacts/contacts.ts';
import type { Actor } from '../users/users.ts';
import * as repo from './messages.repository.ts';
import type { RawStore } from './raw-store.ts';
import {
  emptyOutboxCounts,
  MAX_ATTACHMENT_BYTES,
  type Message,
  type MessageListQuery,
  type MessageStatus,
  type NewMessageInput,
  type OutboxCounts,
  type OutboxStatus,
  type Queued,
} from './messages.ts';

type Mailbox = NewMessageInput['to'][number];

/** Who the CLI acts as: no user, with an admin's reach in the one organisation concerned. */
const OPERATOR_ID = '00000000-0000-0000-0000-000000000000';
type RecipientRow = Row<'message_recipients'>;

function mailbox(entry: Mailbox): { name: string | null; address: string } {
  return typeof entry === 'string'
    ? { name: null, address: entry }
    : { name: entry.name ?? null, address: entry.address };
}

function toRecipient(row: RecipientRow): Message['recipients'][number] {
  return {
    kind: row.kind,
    address: row.address,
    name: row.name,
    contactId: row.contact_id,
    status: row.status,
    reply:
      row.reply_text === null
        ? null
        : { code: row.reply_code, enhanced: row.reply_enhanced, text: row.reply_text },
  };
}

const base64Pattern = /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/;

/** The checks a schema cannot make, each named by its field path. */
function messageProblems(input: NewMessageInput, prefix: string, now: Date): FieldErrors {
  const fields: FieldErrors = {};
  const field = (name: string) => (prefix ? `${prefix}.${name}` : name);
  if (input.to.length + (input.cc?.length ?? 0) + (input.bcc?.length ?? 0) === 0) {
    fields[field('to')] = 'give at least one recipient in to, cc or bcc';
  }
  if (!input.text && !input.html) fields[field('text')] = 'give text, html or both';
  let size = 0;
  input.attachments?.forEach((attachment, index) => {
    if (!base64Pattern.test(attachment.content))
      fields[field(`attachments.${index}.content`)] = 'must be base64';
    else size += Buffer.byteLength(attachment.content, 'base64');
  });
  if (size > MAX_ATTACHMENT_BYTES) {
    fields[field('attachments')] = `are ${size} bytes in all; the limit is ${MAX_ATTACHMENT_BYTES}`;
  }
  if (input.sendAt && Date.parse(input.sendAt) > now.getTime() + 366 * 86_400_000) {
    fields[field('sendAt')] = 'must be within a year';
  }
  return fields;
}

export type MessagesService = ReturnType<typeof createMessagesService>;

export interface MessagesServiceDeps {
  db: Db;
  now: Clock;
  accounts: AccountsService;
  contacts: ContactsService;
  rawStore: RawStore;
  /** Whether MAILROOM_RELAY_URL is set: marketing accounts send through it and nothing else. */
  relayConfigured: boolean;
}

export function createMessagesService({
  db,
  now,
  accounts,
  contacts,
  rawStore,
  relayConfigured,
}: MessagesServiceDeps) {
  async function toMessages(tx: DbOrTx, rows: Row<'messages'>[]): Promise<Message[]> {
    const ids = rows.map((row) => row.id);
    const [recipients, attachments, placements] = await Promise.all([
      repo.findRecipientRows(tx, ids),
      repo.findAttachmentSummaries(tx, ids),
      repo.findPlacementRows(tx, ids),
    ]);
    return rows.map((row) => ({
      id: row.id,
      direction: row.direction,
      status: row.status,
      kind: row.mail_kind,
      accountId: row.account_id,
      messageId: row.message_id_header,
      subject: row.subject,
      text: row.text_body,
      html: row.html_body,
      headers: JSON.parse(row.headers) as Record<string, string>,
      private: row.is_private === 1,
      sendAt: row.send_at,
      attempts: row.attempts,
      nextAttemptAt: row.next_attempt_at,
      sentAt: row.sent_at,
      errorCode: row.error_code,
      reply:
        row.reply_text === null
          ? null
          : {
              code: row.reply_code,
              enhanced: row.reply_enhanced,
              text: row.reply_text,
              command: row.reply_command,
            },
      recipients: recipients.filter((recipient) => recipient.message_id === row.id).map(toRecipient),
      attachments: row.incoming_attachments
        ? (JSON.parse(row.incoming_attachments) as Partial<Message['attachments'][number]>[]).map(
            (attachment) => ({
              filename: attachment.filename ?? '',
              contentType: attachment.contentType ?? 'application/octet-stream',
              size: attachment.size ?? 0,
              // Stored since the HTML view; older messages have neither.
              contentId: attachment.contentId ?? null,
              inline: attachment.inline ?? false,
            }),
          )
        : attachments
            .filter((attachment) => attachment.message_id === row.id)
            .map((attachment) => ({
              filename: attachment.filename,
              contentType: attachment.content_type,
              size: attachment.size,
              contentId: null,
              inline: false,
            })),
      from: row.from_address ? { name: row.from_name, address: row.from_address } : null,
      receivedAt: row.received_at,
      inReplyTo: row.in_reply_to,
      threadParentId: row.thread_parent_id,
      placements: placements
        .filter((placement) => placement.message_id === row.id)
        .map((placement) => ({
          accountId: placement.account_id,
          folder: placement.folder,
          private: placement.is_private === 1,
          contactId: placement.contact_id,
        })),
      raw: row.raw_key ? { size: row.raw_size ?? 0, truncated: row.raw_truncated === 1 } : null,
      quarantine: row.parse_error === null ? null : { error: row.parse_error },
      sentCopy: row.sent_copy,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }

  async function load(tx: DbOrTx, actor: Actor, id: string): Promise<Row<'messages'>> {
    const row = await repo.findMessageRow(tx, actor.orgId, id);
    if (!row || !(await canSee(tx, actor, row))) throw new AppError('MESSAGE_NOT_FOUND', `No message ${id}.`);
    return row;
  }

  /** The same rule as the list's: see repo.visibleTo. */
  async function canSee(tx: DbOrTx, actor: Actor, row: Row<'messages'>): Promise<boolean> {
    if (row.deleted_at !== null) return false;
    if (actor.role === 'admin' || row.created_by === actor.userId) return true;
    if (row.direction === 'out' && row.account_id !== null) {
      return accounts.canUseAccount(tx, actor, row.account_id);
    }
    for (const placement of await repo.findPlacementRows(tx, [row.id])) {
      if (await accounts.canUseAccount(tx, actor, placement.account_id)) return true;
    }
    return false;
  }

  /** The accounts a request sends from, checked once per request however many messages it queues. */
  function accountLookups(tx: DbOrTx, actor: Actor) {
    let defaultId: Promise<string | null> | undefined;
    const sendable = new Map<string, ReturnType<AccountsService['requireSendable']>>();
    return {
      defaultAccountId: () => (defaultId ??= accounts.defaultAccountId(tx, actor.userId)),
      sendable(id: string) {
        if (!sendable.has(id)) sendable.set(id, accounts.requireSendable(tx, actor, id));
        return sendable.get(id)!;
      },
    };
  }

  interface PreparedMessage {
    message: NewRow<'messages'>;
    recipients: NewRow<'message_recipients'>[];
    attachments: NewRow<'message_attachments'>[];
    queued: Queued;
  }

  async function accountFor(input: NewMessageInput, lookups: ReturnType<typeof accountLookups>) {
    const accountId = input.accountId ?? (await lookups.defaultAccountId());
    if (!accountId) {
      throw new AppError(
        'NO_DEFAULT_ACCOUNT',
        'You have no default account: pass accountId, or make one of your accounts the default.',
        { fields: { accountId: 'is required when you have no default account' } },
      );
    }
    const account = await lookups.sendable(accountId);
    if (account.type === 'marketing' && !relayConfigured) {
      throw new AppError(
        'RELAY_NOT_CONFIGURED',
        'Marketing accounts send through the platform relay, and none is configured (MAILROOM_RELAY_URL).',
      );
    }
    return account;
  }

  function recipientsOf(input: NewMessageInput) {
    return (['to', 'cc', 'bcc'] as const).flatMap((kind) =>
      (input[kind] ?? []).map((entry) => ({ kind, ...mailbox(entry) })),
    );
  }

  /** The rows of one message; its recipients are matched to contacts by id or, failing that, by address. */
  function prepare(
    actor: Actor,
    input: NewMessageInput,
    idempotencyKey: string | null,
    account: Awaited<ReturnType<typeof accountFor>>,
    known: Map<string, { id: string; suppressed: Suppression | null }>,
  ): PreparedMessage {
    const settings = JSON.parse(account.settings) as { options?: { markOutgoingPrivate?: boolean } };
    const id = newId();
    const timestamp = now().toISOString();
    const message: NewRow<'messages'> = {
      id,
      org_id: actor.orgId,
      account_id: account.id,
      // The operator is no user of ours: what it queues (automation alerts) has no creator.
      created_by: actor.userId === OPERATOR_ID ? null : actor.userId,
      direction: 'out',
      status: 'ready',
      message_id_header: newMessageId(account.email),
      subject: input.subject,
      text_body: input.text ?? null,
      html_body: input.html ?? null,
      headers: JSON.stringify(input.headers ?? {}),
      is_private: settings.options?.markOutgoingPrivate ? 1 : 0,
      send_at: input.sendAt ? new Date(input.sendAt).toISOString() : null,
      attempts: 0,
      next_attempt_at: input.sendAt ? new Date(input.sendAt).toISOString() : timestamp,
      lease_owner: null,
      lease_until: null,
      sent_at: null,
      error_code: null,
      reply_code: null,
      reply_enhanced: null,
      reply_text: null,
      reply_command: null,
      idempotency_key: idempotencyKey,
      created_at: timestamp,
      updated_at: timestamp,
    };
    const recipients = recipientsOf(input).map((recipient, position) => ({
      id: newId(),
      message_id: id,
      position,
      kind: recipient.kind,
      address: recipient.address,
      name: recipient.name,
      contact_id: known.get(foldAddress(recipient.address))?.id ?? null,
      status: 'pending' as const,
      reply_code: null,
      reply_enhanced: null,
      reply_text: null,
      data_started_at: null,
      updated_at: timestamp,
    }));
    const attachments = (input.attachments ?? []).map((attachment, position) => {
      const content = Buffer.from(attachment.content, 'base64');
      return {
        id: newId(),
        message_id: id,
        position,
        filename: attachment.filename,
        content_type: attachment.contentType,
        size: content.length,
        content,
      };
    });
    return {
      message,
      recipients,
      attachments,
      queued: {
        id,
        status: 'ready',
        recipients: recipients.map(toRecipient),
        suppressed: recipientsOf(input).flatMap(({ address }) => {
          const reason = known.get(foldAddress(address))?.suppressed;
          return reason ? [{ address, reason }] : [];
        }),
      },
    };
  }

  /**
   * Inserts messages in a few statements. Contacts are looked up once for all the addresses of
   * messages that name no contactIds, and once per message that does.
   */
  async function insertAll(
    tx: DbOrTx,
    actor: Actor,
    inputs: NewMessageInput[],
    idempotencyKey: string | null,
  ): Promise<Queued[]> {
    const lookups = accountLookups(tx, actor);
    const byAddress = await contacts.forSending(tx, actor.orgId, {
      addresses: inputs
        .filter((input) => !input.contactIds)
        .flatMap((input) => recipientsOf(input).map((r) => r.address)),
    });
    const prepared: PreparedMessage[] = [];
    for (const input of inputs) {
      const account = await accountFor(input, lookups);
      const known = input.contactIds
        ? await contacts.forSending(tx, actor.orgId, { ids: input.contactIds })
        : byAddress;
      prepared.push(prepare(actor, input, idempotencyKey, account, known));
    }
    await repo.insertMessageRows(
      tx,
      prepared.map((entry) => entry.message),
      prepared.flatMap((entry) => entry.recipients),
      prepared.flatMap((entry) => entry.attachments),
    );
    return prepared.map((entry) => entry.queued);
  }

  async function queued(tx: DbOrTx, actor: Actor, id: string): Promise<Queued> {
    const [message] = await toMessages(tx, [await load(tx, actor, id)]);
    const cards = await contacts.forSending(tx, actor.orgId, {
      ids: message!.recipients.flatMap((recipient) => (recipient.contactId ? [recipient.contactId] : [])),
    });
    const reasons = new Map([...cards.values()].map((card) => [card.id, card.suppressed]));
    return {
      id: message!.id,
      status: message!.status,
      recipients: message!.recipients,
      suppressed: message!.recipients.flatMap(({ address, contactId }) => {
        const reason = contactId ? reasons.get(contactId) : null;
        return reason ? [{ address, reason }] : [];
      }),
    };
  }

  function check(inputs: NewMessageInput[], batch: boolean): void {
    const current = now();
    const fields = Object.assign(
      {},
      ...inputs.map((input, index) => messageProblems(input, batch ? `messages.${index}` : '', current)),
    );
    if (Object.keys(fields).length > 0) {
      throw new AppError('VALIDATION_FAILED', `Invalid message: check ${Object.keys(fields).join(', ')}.`, {
        fields,
      });
    }
  }

  async function transition(
    actor: Actor,
    id: string,
    from: MessageStatus[],
    changes: Partial<Row<'messages'>>,
    action: string,
  ) {
    return db.transaction().execute(async (tx) => {
      const row = await load(tx, actor, id);
      if (!(await repo.updateMessageFrom(tx, id, from, { ...changes, updated_at: now().toISOString() }))) {
        throw new AppError(
          'MESSAGE_STATE_CONFLICT',
          `The message is ${row.status}; only a ${from.join(' or ')} message can be ${action}.`,
        );
      }
      const [message] = await toMessages(tx, [await load(tx, actor, id)]);
      return message!;
    });
  }

  return {
    /**
     * Queues one message (202). With an idempotency key, a retried request returns the message the
     * first one queued instead of queueing it again.
     */
    async queue(actor: Actor, input: NewMessageInput, idempotencyKey: string | null): Promise<Queued> {
      check([input], false);
      if (idempotencyKey) {
        const existing = await repo.findMessageByIdempotencyKey(db, actor.userId, idempotencyKey);
        if (existing) return queued(db, actor, existing.id);
      }
      try {
        return await db
          .transaction()
          .execute(async (tx) => (await insertAll(tx, actor, [input], idempotencyKey))[0]!);
      } catch (error) {
        if (idempotencyKey && isUniqueViolation(error)) {
          const existing = await repo.findMessageByIdempotencyKey(db, actor.userId, idempotencyKey);
          if (existing) return queued(db, actor, existing.id);
        }
        throw error;
      }
    },

    /**
     * Queues messages the organisation itself sends (automation alerts from its notification
     * account) in the caller's transaction, so they are queued exactly when the caller's change commits.
     */
    async queueForOrganisation(tx: DbOrTx, orgId: string, inputs: NewMessageInput[]): Promise<Queued[]> {
      check(inputs, true);
      return insertAll(tx, { userId: OPERATOR_ID, orgId, role: 'admin' }, inputs, null);
    },

    /** Up to 1,000 messages in one transaction: all are queued, or none. */
    async queueBatch(actor: Actor, inputs: NewMessageInput[]): Promise<Queued[]> {
      check(inputs, true);
      return db.transaction().execute((tx) => insertAll(tx, actor, inputs, null));
    },

    async get(actor: Actor, id: string): Promise<Message> {
      const [message] = await toMessages(db, [await load(db, actor, id)]);
      return message!;
    },

    /**
     * Deletes a message here. Sent mail (not while it is being sent) goes at once. Received mail is
     * taken out of the accounts the caller may use (or only `accountId`): a copy another account
     * received stays there. A copy whose account says "remove from the server when deleted here"
     * is removed from the server at that account's next sync; until then, and whenever the server
     * keeps it, a tombstone stops a re-read from bringing it back. A message deleted from every
     * account keeps nothing but what de-duplication needs.
     */
    async remove(actor: Actor, id: string, accountId?: string): Promise<void> {
      const orphanedRaw = await db.transaction().execute(async (tx) => {
        const row = await load(tx, actor, id);
        if (row.direction === 'out') {
          if (row.status === 'sending') {
            throw new AppError('MESSAGE_STATE_CONFLICT', 'The message is being sent; cancel it or wait.');
          }
          await repo.deleteMessageRow(tx, id);
          return null;
        }
        const placements = await repo.findPlacementRows(tx, [id]);
        const chosen = [];
        for (const placement of placements) {
          if (accountId !== undefined && placement.account_id !== accountId) continue;
          if (await accounts.canUseAccount(tx, actor, placement.account_id)) chosen.push(placement);
        }
        if (chosen.length === 0) {
          throw new AppError(
            'MESSAGE_NOT_FOUND',
            `No message ${id} in ${accountId ? 'that account' : 'your accounts'}.`,
          );
        }
        const timestamp = now().toISOString();
        await repo.markPlacementsDeleted(
          tx,
          chosen.map((placement) => placement.id),
          timestamp,
        );
        if (chosen.length < placements.length) return null;
        await repo.updateMessageRow(tx, id, {
          deleted_at: timestamp,
          subject: '',
          text_body: null,
          html_body: null,
          headers: '{}',
          from_address: null,
          from_name: null,
          incoming_attachments: '[]',
          raw_key: null,
          updated_at: timestamp,
        });
        return row.raw_key && !(await repo.isRawKeyUsed(tx, row.raw_key)) ? row.raw_key : null;
      });
      if (orphanedRaw) await rawStore.deleteAll(db, [orphanedRaw]);
    },

    /**
     * One attachment's content: an outgoing message's as queued, an incoming message's read from
     * the kept raw message (none when only its header block was kept).
     */
    async attachment(
      actor: Actor,
      id: string,
      index: number,
    ): Promise<{ filename: string; contentType: string; content: Buffer }> {
      const row = await load(db, actor, id);
      const none = (why = '') =>
        new AppError('ATTACHMENT_NOT_FOUND', `Message ${id} has no attachment ${index}${why}.`);
      if (row.direction === 'out') {
        const found = await repo.findAttachmentContent(db, id, index);
        if (!found) throw none();
        return { filename: found.filename, contentType: found.content_type, content: found.content };
      }
      if (row.raw_truncated === 1)
        throw none(': it was above the size cap, so only its header block was kept');
      const raw = row.raw_key ? await rawStore.get(db, row.raw_key) : null;
      const found = raw ? await attachmentContent(raw, index) : null;
      if (!found) throw none();
      return { filename: found.filename ?? '', contentType: found.contentType, content: found.content };
    },

    /** The raw incoming message as kept. */
    async raw(actor: Actor, id: string): Promise<Buffer> {
      const row = await load(db, actor, id);
      const raw = row.raw_key ? await rawStore.get(db, row.raw_key) : null;
      if (!raw) throw new AppError('MESSAGE_NOT_FOUND', `No raw message is kept for message ${id}.`);
      return raw;
    },

    async list(actor: Actor, query: MessageListQuery): Promise<PageResult<Message>> {
      const { rows, total } = await repo.listMessageRows(
        db,
        {
          visible: repo.visibleTo(actor.orgId, actor.userId, actor.role === 'admin'),
          ...(query.direction && { direction: query.direction }),
          ...(query.status && { status: query.status }),
          ...(query.accountId && { accountId: query.accountId }),
          ...(query.contactId && { contactId: query.contactId }),
          ...(query.q?.trim() && { text: query.q.trim().toLowerCase() }),
        },
        toPageWindow(query),
      );
      return { items: await toMessages(db, rows), total };
    },

    cancel(actor: Actor, id: string) {
      return transition(
        actor,
        id,
        ['ready', 'error', 'uncertain'],
        { status: 'cancelled', next_attempt_at: null },
        'cancelled',
      );
    },

    /** A person decides a message stuck in sending (or uncertain) should go again. */
    resetSending(actor: Actor, id: string) {
      return transition(
        actor,
        id,
        ['sending', 'uncertain'],
        { status: 'ready', lease_owner: null, lease_until: null, next_attempt_at: now().toISOString() },
        'reset',
      );
    },

    clearError(actor: Actor, id: string) {
      return transition(
        actor,
        id,
        ['error'],
        { status: 'ready', attempts: 0, next_attempt_at: now().toISOString(), error_code: null },
        'retried',
      );
    },

    /**
     * For the CLI, which acts for the operator on the machine: an admin of the organisation that
     * holds the account or message.
     */
    async operatorFor(target: { accountId: string } | { messageId: string }): Promise<Actor> {
      const orgId =
        'accountId' in target
          ? (await accounts.sender(target.accountId))?.orgId
          : (
              await db
                .selectFrom('messages')
                .select('org_id')
                .where('id', '=', target.messageId)
                .executeTakeFirst()
            )?.org_id;
      if (!orgId) {
        throw 'accountId' in target
          ? new AppError('ACCOUNT_NOT_FOUND', `No account ${target.accountId}.`)
          : new AppError('MESSAGE_NOT_FOUND', `No message ${target.messageId}.`);
      }
      return { userId: OPERATOR_ID, orgId, role: 'admin' };
    },

    /** How many of the account's outgoing messages are in each state, for its outbox buttons. */
    async outboxCounts(actor: Actor, accountId: string): Promise<OutboxCounts> {
      await accounts.requireManageable(db, actor, accountId);
      const counts = emptyOutboxCounts();
      for (const row of await repo.countAccountMessagesByStatus(db, accountId)) {
        if (row.status in counts) counts[row.status as OutboxStatus] = Number(row.count);
      }
      return counts;
    },

    /** "Reset sending status" for a whole account: sending → ready. */
    async resetAccountSending(actor: Actor, accountId: string): Promise<number> {
      return db.transaction().execute(async (tx) => {
        await accounts.requireManageable(tx, actor, accountId);
        return repo.updateAccountMessagesFrom(tx, accountId, 'sending', {
          status: 'ready',
          lease_owner: null,
          lease_until: null,
          next_attempt_at: now().toISOString(),
          updated_at: now().toISOString(),
        });
      });
    },

    /** "Clear error status" for a whole account: error → ready, attempts from zero. */
    async clearAccountErrors(actor: Actor, accountId: string): Promise<number> {
      return db.transaction().execute(async (tx) => {
        await accounts.requireManageable(tx, actor, accountId);
        return repo.updateAccountMessagesFrom(tx, accountId, 'error', {
          status: 'ready',
          attempts: 0,
          next_attempt_at: now().toISOString(),
          error_code: null,
          updated_at: now().toISOString(),
        });
      });
    },
  };
}
