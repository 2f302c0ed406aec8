import type { Clock } from '../../clock.ts';
import type { Db, DbOrTx, Row } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { newId } from '../../db/ids.ts';
import { AppError } from '../../errors.ts';
import { parseUnsubscribeToken } from '../../mail/verp.ts';
import { toPageWindow, type PageResult } from '../../pagination.ts';
import type { SenderContact } from '../accounts/templates.ts';
import { findUserIdsInOrganisation } from '../users/users.repository.ts';
import type { Actor } from '../users/users.ts';
import * as repo from './contacts.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { eventRow, insertEvents, type EventCause } from '../automation/events.repository.ts';
import type {
  ContactReactivatedPayload,
  ContactScorePayload,
  ContactTagsPayload,
} from '../automation/events.ts';
import {
  foldAddress,
  statusOf,
  suppressionOf,
  type Contact,
  type Suppression,
  type ContactListQuery,
  type CreateContactInput,
  type UpdateContactInput,
} from './contacts.ts';

type Fields = Contact['fields'];

function toContact(row: Row<'contacts'>, tags: string[]): Contact {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    ownerId: row.owner_id,
    status: statusOf(row),
    score: row.score,
    tags,
    fields: JSON.parse(row.fields) as Fields,
    suppressed: suppressionOf(row),
    unsubscribedAt: row.unsubscribed_at,
    complainedAt: row.complained_at,
    faultyAt: row.faulty_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function emailTaken(email: string): AppError {
  return new AppError('CONTACT_EMAIL_TAKEN', `A contact with the address ${email} already exists.`, {
    fields: { email: 'is already a contact' },
  });
}

/** A contact, as a sender template reads it; also which contact an address belongs to. */
export interface ContactForSending extends SenderContact {
  id: string;
  emailFolded: string;
  suppressed: Suppression | null;
}

export type ContactsService = ReturnType<typeof createContactsService>;

export function createContactsService({
  db,
  now,
  audit,
  unsubscribeKeys,
}: {
  db: Db;
  now: Clock;
  audit: AuditService;
  /** What one-click unsubscribe tokens are signed with (src/mail/verp.ts), newest first. */
  unsubscribeKeys: readonly Buffer[];
}) {
  async function checkOwner(tx: DbOrTx, actor: Actor, ownerId: string | null | undefined): Promise<void> {
    if (!ownerId) return;
    if ((await findUserIdsInOrganisation(tx, actor.orgId, [ownerId])).length === 0) {
      throw new AppError('VALIDATION_FAILED', 'The owner is not a user of this organisation.', {
        fields: { ownerId: `no user ${ownerId} in this organisation` },
      });
    }
  }

  async function load(tx: DbOrTx, actor: Actor, id: string): Promise<Row<'contacts'>> {
    const row = await repo.findContactRow(tx, actor.orgId, id);
    if (!row) throw new AppError('CONTACT_NOT_FOUND', `No contact ${id}.`);
    return row;
  }

  /** Adds to the score (atomically, so concurrent rules do not lose each other's points) and says so. */
  async function changeScore(
    tx: DbOrTx,
    contact: Pick<Row<'contacts'>, 'id' | 'org_id'>,
    delta: number,
    cause: EventCause,
  ): Promise<ContactScorePayload | null> {
    const to = await repo.addToScore(tx, contact.id, delta, now().toISOString());
    if (to === undefined || delta === 0) return null;
    const payload: ContactScorePayload = { contactId: contact.id, from: to - delta, to, delta };
    await insertEvents(tx, [
      eventRow(
        contact.org_id,
        'contact.score_changed',
        { contactId: contact.id },
        payload,
        now().toISOString(),
        cause,
      ),
    ]);
    return payload;
  }

  /** Adds and removes tags; says so when any changed. */
  async function changeTags(
    tx: DbOrTx,
    contact: Pick<Row<'contacts'>, 'id' | 'org_id'>,
    change: { add: readonly string[]; remove: readonly string[] },
    cause: EventCause,
  ): Promise<ContactTagsPayload | null> {
    const added = await repo.addTags(tx, contact.id, change.add);
    const removed = await repo.removeTags(tx, contact.id, change.remove);
    if (added.length === 0 && removed.length === 0) return null;
    await repo.updateContactRow(tx, contact.id, { updated_at: now().toISOString() });
    const payload: ContactTagsPayload = { contactId: contact.id, added, removed };
    await insertEvents(tx, [
      eventRow(
        contact.org_id,
        'contact.tags_changed',
        { contactId: contact.id },
        payload,
        now().toISOString(),
        cause,
      ),
    ]);
    return payload;
  }

  async function withTags(tx: DbOrTx, row: Row<'contacts'>): Promise<Contact> {
    return toContact(row, (await repo.findTags(tx, [row.id])).get(row.id) ?? []);
  }

  return {
    async create(actor: Actor, input: CreateContactInput): Promise<Contact> {
      const email = input.email.trim();
      await checkOwner(db, actor, input.ownerId);
      if (await repo.findContactRowByEmail(db, actor.orgId, foldAddress(email))) throw emailTaken(email);
      const timestamp = now().toISOString();
      const row = {
        id: newId(),
        org_id: actor.orgId,
        email,
        email_folded: foldAddress(email),
        name: input.name ?? null,
        owner_id: input.ownerId ?? null,
        fields: JSON.stringify(input.fields ?? {}),
        unsubscribed_at: null,
        complained_at: null,
        faulty_at: null,
        score: input.score ?? 0,
        soft_bounces_since: null,
        created_at: timestamp,
        updated_at: timestamp,
      };
      const tags = [...(input.tags ?? [])].sort();
      try {
        await db.transaction().execute(async (tx) => {
          await repo.insertContactRow(tx, row);
          await repo.addTags(tx, row.id, tags);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw emailTaken(email);
        throw error;
      }
      return toContact(row, tags);
    },

    async get(actor: Actor, id: string): Promise<Contact> {
      return withTags(db, await load(db, actor, id));
    },

    async list(actor: Actor, query: ContactListQuery): Promise<PageResult<Contact>> {
      const q = query.q ? query.q.trim().toLowerCase() : undefined;
      const { rows, total } = await repo.listContactRows(
        db,
        actor.orgId,
        { q, status: query.status, tag: query.tag },
        toPageWindow(query),
      );
      const tags = await repo.findTags(
        db,
        rows.map((row) => row.id),
      );
      return { items: rows.map((row) => toContact(row, tags.get(row.id) ?? [])), total };
    },

    /**
     * Undoes a wrong mark: faulty and complained are cleared, and soft bounces so far stop counting.
     * An unsubscribe stays: it was the contact's own choice. The audit log keeps who did it.
     */
    async reactivate(actor: Actor, id: string): Promise<Contact> {
      return db.transaction().execute(async (tx) => {
        const row = await load(tx, actor, id);
        const cleared: ContactReactivatedPayload['cleared'] = [];
        if (row.faulty_at) cleared.push('faulty');
        if (row.complained_at) cleared.push('complained');
        if (cleared.length === 0) return withTags(tx, row);
        const at = now().toISOString();
        await repo.updateContactRow(tx, id, {
          faulty_at: null,
          complained_at: null,
          soft_bounces_since: at,
          updated_at: at,
        });
        await audit.record(tx, {
          orgId: actor.orgId,
          actorId: actor.userId,
          action: 'contact.reactivated',
          targetType: 'contact',
          targetId: id,
          fields: cleared.map((mark) => (mark === 'faulty' ? 'faultyAt' : 'complainedAt')),
        });
        const payload: ContactReactivatedPayload = {
          contactId: id,
          email: row.email,
          actorId: actor.userId,
          cleared,
        };
        await insertEvents(tx, [
          eventRow(actor.orgId, 'contact.reactivated', { contactId: id }, payload, at),
        ]);
        return withTags(tx, await load(tx, actor, id));
      });
    },

    /** Custom fields merge: a key sent as null is removed, the others are kept. */
    async update(actor: Actor, id: string, input: UpdateContactInput): Promise<Contact> {
      return db.transaction().execute(async (tx) => {
        const row = await load(tx, actor, id);
        await checkOwner(tx, actor, input.ownerId);
        const email = input.email?.trim();
        if (email && foldAddress(email) !== row.email_folded) {
          if (await repo.findContactRowByEmail(tx, actor.orgId, foldAddress(email))) throw emailTaken(email);
        }
        const fields = { ...(JSON.parse(row.fields) as Fields) };
        for (const [key, value] of Object.entries(input.fields ?? {})) {
          if (value === null) delete fields[key];
          else fields[key] = value;
        }
        await repo.updateContactRow(tx, id, {
          ...(email && { email, email_folded: foldAddress(email) }),
          ...(input.name !== undefined && { name: input.name }),
          ...(input.ownerId !== undefined && { owner_id: input.ownerId }),
          ...(input.fields === null ? { fields: '{}' } : { fields: JSON.stringify(fields) }),
          updated_at: now().toISOString(),
        });
        const cause = { actorId: actor.userId };
        if (input.score !== undefined && input.score !== row.score) {
          await changeScore(tx, row, input.score - row.score, cause);
        }
        if (input.tags) {
          const current = (await repo.findTags(tx, [id])).get(id) ?? [];
          await changeTags(
            tx,
            row,
            {
              add: input.tags.filter((tag) => !current.includes(tag)),
              remove: current.filter((tag) => !input.tags!.includes(tag)),
            },
            cause,
          );
        }
        return withTags(tx, await load(tx, actor, id));
      });
    },

    /**
     * One-click unsubscribe (RFC 8058): the token names the message recipient it was sent to, whose
     * contact is not mailed from marketing accounts again. No login: the signed token is the proof.
     */
    async unsubscribeByToken(token: string): Promise<void> {
      const parsed = parseUnsubscribeToken(token, unsubscribeKeys);
      const contactId = parsed ? await repo.findRecipientContactId(db, parsed.recipientId) : undefined;
      if (!contactId) throw new AppError('UNSUBSCRIBE_LINK_INVALID', 'This unsubscribe link is not valid.');
      await repo.markUnsubscribed(db, contactId, now().toISOString());
    },

    /** For rule actions: in the action's transaction, with the rule as the cause. */
    changeScore,
    changeTags,

    /** The contacts behind these addresses (or ids), keyed by folded address. */
    async forSending(
      tx: DbOrTx | undefined,
      orgId: string,
      by: { addresses?: readonly string[]; ids?: readonly string[] },
    ): Promise<Map<string, ContactForSending>> {
      const rows = await repo.findContactsForSending(tx ?? db, orgId, {
        ...(by.ids && { ids: by.ids }),
        ...(by.addresses && { emailsFolded: [...new Set(by.addresses.map(foldAddress))] }),
      });
      return new Map(
        rows.map((row) => [
          row.email_folded,
          {
            id: row.id,
            email: row.email,
            emailFolded: row.email_folded,
            name: row.name,
            fields: JSON.parse(row.fields) as Fields,
            owner: row.owner_name ? { name: row.owner_name } : null,
            suppressed: suppressionOf(row),
          },
        ]),
      );
    },
  };
}
