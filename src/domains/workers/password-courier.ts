import pg from 'pg';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, DbOrTx, Dialect } from '../../db/database.ts';
import { decryptSecret, encryptSecret } from '../../secrets/cipher.ts';
import type { Keyring } from '../../secrets/keyring.ts';
import type { PasswordKind, PasswordVault } from '../accounts/password-vault.ts';
import type { FleetService } from './fleet.service.ts';

const CHANNEL = 'mailroom_passwords';
const passwordKinds: readonly PasswordKind[] = ['smtp', 'incoming'];
const RECONNECT_MAX_MS = 30_000;

export type MemoryPasswords = Partial<Record<PasswordKind, string>>;

/** Where an account's memory-only passwords are: the worker that has them, and which kinds. */
export interface MemoryPlace {
  password_holder: string | null;
  memory_kinds: string;
}

/** A note on the channel: the passwords, sealed under the secret key, or which kinds to forget. */
interface CourierNote {
  to: string;
  accountId: string;
  sealed?: string;
  forget?: PasswordKind[];
}

const sealContext = (accountId: string) => `memory-password:${accountId}`;
const kindsOf = (passwords: MemoryPasswords) => passwordKinds.filter((kind) => passwords[kind]);

export type PasswordCourier = ReturnType<typeof createPasswordCourier>;

/**
 * Memory-only passwords ("Remember password" off) live in the memory of one worker: the one that
 * holds the account, which alone sends and reads for it. A password given to any process reaches
 * that worker over PostgreSQL NOTIFY, sealed under the secret key on the way, inside the
 * transaction that records where it went, and is never written to a table. On SQLite there is one
 * process, and the password stays in its memory.
 */
export function createPasswordCourier(deps: {
  db: Db;
  dialect: Dialect;
  keyring: Keyring;
  vault: PasswordVault;
  fleet: FleetService;
}) {
  const { db, dialect, keyring, vault, fleet } = deps;
  const { workerId } = fleet;

  async function post(tx: DbOrTx, note: CourierNote): Promise<void> {
    await sql`select pg_notify(${CHANNEL}, ${JSON.stringify(note)})`.execute(tx);
  }

  async function deliver(tx: DbOrTx, to: string, accountId: string, passwords: MemoryPasswords) {
    if (to === workerId) {
      for (const kind of kindsOf(passwords)) vault.set(accountId, kind, passwords[kind]!);
      return;
    }
    const sealed = encryptSecret(keyring, JSON.stringify(passwords), sealContext(accountId));
    await post(tx, { to, accountId, sealed });
  }

  async function forget(tx: DbOrTx, at: string, accountId: string, kinds: PasswordKind[]) {
    if (at === workerId) kinds.forEach((kind) => vault.forget(accountId, kind));
    else await post(tx, { to: at, accountId, forget: kinds });
  }

  /** The holder of the account if alive; else whoever has its passwords now, if alive; else this process. */
  async function chooseWorker(tx: DbOrTx, accountId: string, current: string | null): Promise<string> {
    if (dialect === 'sqlite') return workerId;
    const holder = await fleet.liveHolder(accountId, tx);
    if (holder) return holder;
    if (current && current !== workerId && (await fleet.isLive(current, tx))) return current;
    return workerId;
  }

  function receive(payload: string | undefined): void {
    if (!payload) return;
    const note = JSON.parse(payload) as CourierNote;
    if (note.to !== workerId) return;
    if (note.forget) note.forget.forEach((kind) => vault.forget(note.accountId, kind));
    if (note.sealed) {
      const passwords = JSON.parse(
        decryptSecret(keyring, note.sealed, sealContext(note.accountId)),
      ) as MemoryPasswords;
      for (const kind of kindsOf(passwords)) vault.set(note.accountId, kind, passwords[kind]!);
    }
  }

  return {
    /**
     * Sends newly given memory-only passwords to the worker that should have them, in the
     * transaction `tx`, and returns the columns that say where they went. Kinds the account's
     * worker already has are kept when it stays the same worker.
     */
    async place(
      tx: DbOrTx,
      accountId: string,
      given: MemoryPasswords,
      current: { holder: string | null; kinds: string },
    ): Promise<MemoryPlace> {
      const target = await chooseWorker(tx, accountId, current.holder);
      const held = current.kinds.split(',').filter(Boolean) as PasswordKind[];
      const kept = target === current.holder ? held.filter((kind) => !given[kind]) : [];
      if (current.holder && current.holder !== target && held.length > 0) {
        await forget(tx, current.holder, accountId, held);
      }
      if (kindsOf(given).length > 0) await deliver(tx, target, accountId, given);
      const kinds = [...new Set([...kept, ...kindsOf(given)])].sort();
      return { password_holder: kinds.length > 0 ? target : null, memory_kinds: kinds.join(',') };
    },

    /** The account remembers its passwords now, or is gone: whoever held them in memory forgets them. */
    async withdraw(tx: DbOrTx, accountId: string, current: { holder: string | null }): Promise<MemoryPlace> {
      vault.forget(accountId);
      if (current.holder && current.holder !== workerId) {
        await forget(tx, current.holder, accountId, [...passwordKinds]);
      }
      return { password_holder: null, memory_kinds: '' };
    },

    /** This worker was taken for dead: the passwords it had were given up with it. */
    forgetAll(): void {
      vault.clear();
    },

    /**
     * A worker stopping on purpose gives the memory-only passwords it has to another live worker,
     * so the accounts go on working; with no other worker, they ask for their passwords again.
     */
    async handOver(): Promise<void> {
      const pinned = await db
        .selectFrom('accounts')
        .select(['id', 'memory_kinds'])
        .where('password_holder', '=', workerId)
        .execute();
      if (pinned.length === 0) return;
      const others =
        dialect === 'postgres' ? (await fleet.liveWorkerIds()).filter((id) => id !== workerId) : [];
      await db.transaction().execute(async (tx) => {
        for (const [index, account] of pinned.entries()) {
          const passwords = vault.take(account.id);
          const to = others[index % Math.max(others.length, 1)];
          const kinds = kindsOf(passwords);
          if (to && kinds.length > 0) await deliver(tx, to, account.id, passwords);
          await tx
            .updateTable('accounts')
            .set(
              to && kinds.length > 0
                ? { password_holder: to, memory_kinds: kinds.join(',') }
                : { password_holder: null, memory_kinds: '' },
            )
            .where('id', '=', account.id)
            .where('password_holder', '=', workerId)
            .execute();
        }
      });
    },

    /**
     * Listens on the channel, on a connection of its own, and takes the passwords addressed to this
     * worker. A lost connection is made again with growing waits; what was sent meanwhile is lost,
     * and the account asks for its password again when this worker finds it missing.
     */
    listen(databaseUrl: string, logger: Logger): { ready: Promise<void>; close(): Promise<void> } {
      let listening: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (listening = resolve));
      let client: pg.Client | null = null;
      let closed = false;
      let retryMs = 500;
      let timer: NodeJS.Timeout | undefined;
      const connect = async () => {
        if (closed) return;
        const next = new pg.Client({ connectionString: databaseUrl });
        next.on('notification', (message) => {
          try {
            receive(message.payload);
          } catch (error) {
            logger.warn({ err: { message: (error as Error).message } }, 'a password note could not be read');
          }
        });
        next.on('error', () => reconnect(next));
        next.on('end', () => reconnect(next));
        try {
          await next.connect();
          await next.query(`listen ${CHANNEL}`);
          client = next;
          retryMs = 500;
          listening();
        } catch (error) {
          logger.warn(
            { err: { message: (error as Error).message } },
            'password channel unavailable; retrying',
          );
          reconnect(next);
        }
      };
      const reconnect = (failed: pg.Client) => {
        if (closed || (client !== null && client !== failed) || timer) return;
        client = null;
        void failed.end().catch(() => undefined);
        timer = setTimeout(() => {
          timer = undefined;
          void connect();
        }, retryMs);
        retryMs = Math.min(retryMs * 2, RECONNECT_MAX_MS);
      };
      void connect();
      return {
        ready,
        async close() {
          closed = true;
          clearTimeout(timer);
          await client?.end().catch(() => undefined);
        },
      };
    },
  };
}
