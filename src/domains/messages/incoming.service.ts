import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, NewRow, Row } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { newId } from '../../db/ids.ts';
import type { BounceVerdict } from '../../bounces/classify/index.ts';
import type { MailKind } from '../../db/database.ts';
import type { FetchedMessage, MessageLocation } from '../../mail/reader.ts';
import type { ParsedMessage, ParseOutcome } from '../../mail/parse.ts';
import { insertEvents } from '../automation/events.repository.ts';
import type { BouncesService } from '../bounces/bounces.service.ts';
import { resetSoftBounces } from '../contacts/contacts.repository.ts';
import type { EmailReceivedPayload } from '../automation/events.ts';
import type { ContactsService } from '../contacts/contacts.service.ts';
import { foldAddress } from '../contacts/contacts.ts';
import * as repo from './incoming.repository.ts';
import type { RawStore } from './raw-store.ts';

/** One message as read from a server, parsed and hashed by the sync worker. */
export interface IncomingItem {
  fetched: FetchedMessage;
  parsed: ParseOutcome;
  /** contentHash() of the raw message: with the Message-ID, what makes two copies the same mail. */
  hash: string;
  /** What the bounce classifier read the raw message as. */
  verdict: BounceVerdict;
}

const kindOf: Record<BounceVerdict['category'], MailKind> = {
  bounce: 'bounce',
  feedback: 'complaint',
  autoreply: 'auto_reply',
  delivered: 'delivery_report',
  none: 'ordinary',
};

/** Notices go to the bounce pipeline; everything else is mail from someone, filed as such. */
const isNotice = (kind: MailKind) => kind === 'bounce' || kind === 'complaint';

export interface ReceivingAccount {
  id: string;
  orgId: string;
  markIncomingPrivate: boolean;
}

export interface StoreOutcome {
  /** Messages new to the organisation. */
  stored: number;
  /** Messages new to this account, stored or already known; each one that is not a notice emits `email.received`. */
  placed: number;
  /** Copies this account had already: a resync or a crash before the cursor was saved. */
  known: number;
  /** Bounce and complaint records written from the notices among the new messages. */
  notices: number;
}

export type IncomingService = ReturnType<typeof createIncomingService>;

/** Header lines as an object: repeated names (Received, …) keep every value, one per line. */
function headerObject(headers: ParsedMessage['headers']): Record<string, string> {
  const object: Record<string, string> = {};
  for (const { name, value } of headers) {
    object[name] = name in object ? `${object[name]}\n${value}` : value;
  }
  return object;
}

/**
 * Files incoming mail: one stored message per organisation for the same mail, a placement for each
 * account that received it (each with that account's private flag), the contact whose address is
 * in From, the sent or received message it answers, and one `email.received` per placement, all
 * in the transaction that also moves the mailbox's cursor past them. Bounce and complaint notices
 * (as the classifier reads them) go to the bounce pipeline instead of `email.received`, once per
 * organisation however many of its accounts received them; mail from a contact resets its soft
 * bounce count.
 */
export function createIncomingService(deps: {
  db: Db;
  now: Clock;
  rawStore: RawStore;
  contacts: ContactsService;
  bounces: BouncesService;
}) {
  const { db, now, rawStore, contacts, bounces } = deps;

  function messageRow(
    account: ReceivingAccount,
    item: IncomingItem,
    isPrivate: boolean,
    threadParentId: string | null,
    timestamp: string,
  ): NewRow<'messages'> {
    const { fetched, parsed, hash } = item;
    const message = parsed.ok ? parsed.message : null;
    return {
      id: newId(),
      org_id: account.orgId,
      account_id: account.id,
      created_by: null,
      direction: 'in',
      status: 'received',
      mail_kind: kindOf[item.verdict.category],
      message_id_header: message?.messageId ?? '',
      subject: message?.subject ?? '',
      text_body: message?.text ?? null,
      html_body: message?.html ?? null,
      headers: JSON.stringify(message ? headerObject(message.headers) : {}),
      is_private: isPrivate ? 1 : 0,
      attempts: 0,
      from_address: message?.from?.address ?? null,
      from_name: message?.from?.name ?? null,
      in_reply_to: message?.inReplyTo ?? null,
      thread_parent_id: threadParentId,
      content_hash: hash,
      raw_key: hash,
      raw_size: fetched.size,
      raw_truncated: fetched.truncated ? 1 : 0,
      parse_error: parsed.ok ? null : parsed.error,
      received_at: (fetched.receivedAt ?? now()).toISOString(),
      header_date: message?.date ?? null,
      incoming_attachments: JSON.stringify(
        message?.attachments.map((attachment) => ({
          filename: attachment.filename ?? '',
          contentType: attachment.contentType,
          size: attachment.size,
          contentId: attachment.contentId,
          inline: attachment.inline,
        })) ?? [],
      ),
      created_at: timestamp,
      updated_at: timestamp,
    };
  }

  /** The ids a reply names, nearest first: In-Reply-To, then References from the last. */
  function parentCandidates(item: IncomingItem): string[] {
    if (!item.parsed.ok) return [];
    const { inReplyTo, references } = item.parsed.message;
    return [...new Set([...(inReplyTo ? [inReplyTo] : []), ...[...references].reverse()])];
  }

  return {
    /**
     * Stores a batch read from one account, then runs `advance` (which saves the reader's cursor)
     * in the same transaction: a crash before the commit re-reads the batch, and the placements
     * make that re-read a no-op.
     */
    async store(
      account: ReceivingAccount,
      items: readonly IncomingItem[],
      advance: (tx: DbOrTx) => Promise<void>,
    ): Promise<StoreOutcome> {
      // Two accounts of the organisation may store the same new mail at the same moment: the
      // unique index lets one win, and the other, run again, finds that message and places it.
      for (let attempt = 1; ; attempt++) {
        try {
          return await storeOnce(account, items, advance);
        } catch (error) {
          if (!isUniqueViolation(error) || attempt >= 3) throw error;
        }
      }
    },

    /** Which of these server ids name a message the account has stored: what a reader need not download. */
    async storedServerIds(accountId: string, serverIds: readonly string[]): Promise<ReadonlySet<string>> {
      return new Set(await repo.findPlaced(db, accountId, 'server_id', serverIds));
    },

    /** Stored messages the server keeps in another folder now (a reader's `nowIn`): their placements follow. */
    async refile(tx: DbOrTx, accountId: string, nowIn: readonly MessageLocation[]): Promise<void> {
      const byFolder = new Map<string, string[]>();
      for (const { serverId, folder } of nowIn) {
        const serverIds = byFolder.get(folder) ?? [];
        serverIds.push(serverId);
        byFolder.set(folder, serverIds);
      }
      for (const [folder, serverIds] of byFolder) {
        await repo.refilePlacements(tx, accountId, folder, serverIds);
      }
    },

    /** The raw message as received (or its header block, when it was above the size cap). */
    async raw(tx: DbOrTx, key: string): Promise<Buffer | null> {
      return rawStore.get(tx, key);
    },

    /** What the account's delivery options say to remove from the server now. */
    async serverRemovals(
      accountId: string,
      options: {
        leaveOnServer: boolean;
        removeAfterDays: number | null;
        removeWhenDeleted: boolean;
        deleteBounces: boolean;
      },
    ): Promise<{ placementId: string; serverId: string }[]> {
      const rows = await repo.findServerRemovals(db, accountId, {
        all: !options.leaveOnServer,
        deletedHere: options.removeWhenDeleted,
        notices: options.deleteBounces,
        seenBefore:
          options.removeAfterDays === null
            ? null
            : new Date(now().getTime() - options.removeAfterDays * 86_400_000).toISOString(),
      });
      return rows.map((row) => ({ placementId: row.id, serverId: row.server_id }));
    },

    /** Called once the server has confirmed the removals (for POP3: after a clean QUIT). */
    async markRemovedFromServer(placementIds: readonly string[]): Promise<void> {
      await repo.markServerRemoved(db, placementIds, now().toISOString());
    },
  };

  async function storeOnce(
    account: ReceivingAccount,
    items: readonly IncomingItem[],
    advance: (tx: DbOrTx) => Promise<void>,
  ): Promise<StoreOutcome> {
    const outcome: StoreOutcome = { stored: 0, placed: 0, known: 0, notices: 0 };
    await db.transaction().execute(async (tx) => {
      const timestamp = now().toISOString();
      const existing = await repo.findIncomingByHashes(
        tx,
        account.orgId,
        items.map((item) => item.hash),
      );
      const existingByKey = new Map(
        existing.map((row) => [`${row.message_id_header}\n${row.content_hash}`, row]),
      );
      const fromAddresses = items.flatMap((item) =>
        item.parsed.ok && item.parsed.message.from ? [item.parsed.message.from.address] : [],
      );
      const cards = account.markIncomingPrivate
        ? new Map<string, { id: string }>()
        : await contacts.forSending(tx, account.orgId, { addresses: fromAddresses });
      const parents = await repo.findIdsByMessageIdHeader(tx, account.orgId, items.flatMap(parentCandidates));
      const placedAlready = new Set(
        await repo.findPlaced(
          tx,
          account.id,
          'message_id',
          existing.map((row) => row.id),
        ),
      );

      const newMessages: NewRow<'messages'>[] = [];
      const placements: NewRow<'message_placements'>[] = [];
      const events: NewRow<'events'>[] = [];
      const seenInBatch = new Map<string, Pick<Row<'messages'>, 'id'>>();
      const raws = new Map<string, Buffer>();
      const notices: { item: IncomingItem; messageId: string }[] = [];
      const heardFrom = new Set<string>();
      for (const item of items) {
        const kind = kindOf[item.verdict.category];
        const messageIdHeader = item.parsed.ok ? (item.parsed.message.messageId ?? '') : '';
        const key = `${messageIdHeader}\n${item.hash}`;
        let target: Pick<Row<'messages'>, 'id'> | undefined = existingByKey.get(key) ?? seenInBatch.get(key);
        const from = item.parsed.ok ? item.parsed.message.from : null;
        const contactId = from ? (cards.get(foldAddress(from.address))?.id ?? null) : null;
        if (target && placedAlready.has(target.id)) {
          outcome.known += 1;
          await repo.movePlacement(tx, account.id, target.id, item.fetched.folder, item.fetched.serverId);
          continue;
        }
        const parentId =
          parentCandidates(item)
            .map((candidate) => parents.get(candidate))
            .find((id) => id !== undefined) ?? null;
        if (!target) {
          raws.set(item.hash, item.fetched.raw);
          const row = messageRow(account, item, account.markIncomingPrivate, parentId, timestamp);
          newMessages.push(row);
          target = { id: row.id };
          outcome.stored += 1;
          if (isNotice(kind)) notices.push({ item, messageId: row.id });
        }
        seenInBatch.set(key, target);
        placedAlready.add(target.id);
        placements.push({
          id: newId(),
          message_id: target.id,
          account_id: account.id,
          folder: item.fetched.folder,
          server_id: item.fetched.serverId,
          is_private: account.markIncomingPrivate ? 1 : 0,
          contact_id: account.markIncomingPrivate ? null : contactId,
          created_at: timestamp,
        });
        outcome.placed += 1;
        if (isNotice(kind)) continue;
        if (contactId && !account.markIncomingPrivate) heardFrom.add(contactId);
        const payload: EmailReceivedPayload = {
          messageId: target.id,
          accountId: account.id,
          contactId: account.markIncomingPrivate ? null : contactId,
          folder: item.fetched.folder,
          from,
          subject: item.parsed.ok ? item.parsed.message.subject : '',
          receivedAt: (item.fetched.receivedAt ?? now()).toISOString(),
          inReplyToMessageId: parentId,
        };
        events.push({
          id: newId(),
          org_id: account.orgId,
          type: 'email.received',
          account_id: account.id,
          message_id: target.id,
          contact_id: payload.contactId,
          payload: JSON.stringify(payload),
          created_at: timestamp,
        });
      }
      await rawStore.putAll(
        tx,
        [...raws].map(([key, raw]) => ({ key, raw })),
      );
      await repo.insertIncomingRows(tx, newMessages, placements);
      // Mail from a contact shows the address works: its soft bounces so far no longer count.
      await resetSoftBounces(tx, [...heardFrom], timestamp);
      for (const { item, messageId } of notices) {
        const recorded = await bounces.recordNotice(
          tx,
          {
            orgId: account.orgId,
            source: 'mailbox',
            accountId: account.id,
            rawKey: item.hash,
            noticeMessageId: messageId,
          },
          item.verdict,
        );
        outcome.notices += recorded.length;
      }
      await insertEvents(tx, events);
      await advance(tx);
    });
    return outcome;
  }
}
