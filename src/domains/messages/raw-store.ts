import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import type { DbOrTx } from '../../db/database.ts';

/**
 * Raw incoming messages, by key (the content hash, so the same mail is kept once). A blob store
 * under DATA_DIR for the embedded default, so the main database file stays small; a table of the
 * database for PostgreSQL deployments, where workers on many machines share nothing else.
 */
export interface RawStore {
  /**
   * Keeps each message under its key (a key kept already is left as it is). A store outside the
   * database commits before the transaction that names the keys: a crash between the two leaves a
   * message nobody names, never a name without its message.
   */
  putAll(tx: DbOrTx, entries: readonly { key: string; raw: Buffer }[]): Promise<void>;
  get(db: DbOrTx, key: string): Promise<Buffer | null>;
  /** Forgets these messages (mail deleted here that no stored message names any more). */
  deleteAll(db: DbOrTx, keys: readonly string[]): Promise<void>;
  close?(): void;
}

const keyPattern = /^[0-9a-f]{64}$/;
/** Bytes of raw messages per INSERT into the database. */
const RAW_BATCH_BYTES = 4 * 1024 * 1024;

function checkKey(key: string): void {
  if (!keyPattern.test(key)) throw new Error(`Not a raw message key: ${key}`);
}

/**
 * A database file of its own under DATA_DIR, beside the main one: one synchronous transaction per
 * batch, committed before the main transaction that names its keys. A file per message costs four
 * file-system calls each (about 0.8 ms apiece on the machines we measured, ADR 008); this costs
 * well under a millisecond for a whole batch.
 */
export function createDataDirRawStore(dataDir: string): RawStore {
  fs.mkdirSync(dataDir, { recursive: true });
  const database = new SQLite(path.join(dataDir, 'raw-messages.sqlite'));
  database.pragma('journal_mode = WAL');
  database.exec('create table if not exists raw_messages (key text primary key, content blob not null)');
  const insert = database.prepare(
    'insert into raw_messages (key, content) values (?, ?) on conflict do nothing',
  );
  const select = database.prepare<[string], { content: Buffer }>(
    'select content from raw_messages where key = ?',
  );
  const remove = database.prepare('delete from raw_messages where key = ?');
  const insertAll = database.transaction((entries: readonly { key: string; raw: Buffer }[]) => {
    for (const { key, raw } of entries) insert.run(key, raw);
  });
  return {
    async putAll(_tx, entries) {
      entries.forEach(({ key }) => checkKey(key));
      insertAll(entries);
    },
    async get(_db, key) {
      checkKey(key);
      return select.get(key)?.content ?? null;
    },
    async deleteAll(_db, keys) {
      for (const key of keys) remove.run(key);
    },
    close: () => database.close(),
  };
}

export function createDatabaseRawStore(): RawStore {
  return {
    async putAll(tx, entries) {
      // A few messages per statement: enough to save round trips, few enough to keep each small.
      let batch: { key: string; content: Buffer }[] = [];
      let bytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        await tx
          .insertInto('raw_messages')
          .values(batch)
          .onConflict((conflict) => conflict.column('key').doNothing())
          .execute();
        batch = [];
        bytes = 0;
      };
      for (const [key, raw] of new Map(entries.map((entry) => [entry.key, entry.raw]))) {
        checkKey(key);
        if (bytes + raw.length > RAW_BATCH_BYTES || batch.length >= 100) await flush();
        batch.push({ key, content: raw });
        bytes += raw.length;
      }
      await flush();
    },
    async deleteAll(db, keys) {
      if (keys.length > 0) await db.deleteFrom('raw_messages').where('key', 'in', keys).execute();
    },
    async get(db, key) {
      checkKey(key);
      const row = await db
        .selectFrom('raw_messages')
        .select('content')
        .where('key', '=', key)
        .executeTakeFirst();
      return row ? Buffer.from(row.content) : null;
    },
  };
}
