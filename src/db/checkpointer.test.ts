/**
 * SQLite's checkpoints run on a thread of their own (src/db/checkpointer.ts): the connection that
 * writes never copies the write-ahead log into the database file itself, yet the file gets it; if
 * the thread fails, the writing connection checkpoints itself again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointInBackground } from './checkpointer.ts';
import { connectDatabase, type DatabaseHandle } from './connect.ts';

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 5_000; waited += 50) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`still not so after 5 s: ${what}`);
}

describe('SQLite checkpoints', () => {
  const dirs: string[] = [];
  const open = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-checkpoint-'));
    dirs.push(dir);
    const file = path.join(dir, 'mailroom.sqlite');
    return { file, handle: connectDatabase({ dialect: 'sqlite', file }) };
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function write(handle: DatabaseHandle, megabytes: number): Promise<void> {
    await sql`create table filler (id integer primary key, body text not null)`.execute(handle.db);
    for (let commit = 0; commit < megabytes * 4; commit++) {
      await sql`insert into filler (body) values (${'x'.repeat(256 * 1024)})`.execute(handle.db);
    }
  }

  it('copy what was written into the database file from another thread, while the writer goes on', async () => {
    const { file, handle } = open();
    try {
      const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(
        handle.db,
      );
      expect(rows[0]!.wal_autocheckpoint).toBe(0);
      // 2 MB: half of what would make the writing connection checkpoint by itself (1,000 pages).
      await write(handle, 2);
      await eventually(() => fs.statSync(file).size > 2 * 1024 * 1024, 'the database file holds the 2 MB');
    } finally {
      await handle.db.destroy();
    }
  });

  it('end quietly when the database is closed and its folder removed before the thread starts', async () => {
    const { file, handle } = open();
    await sql`select 1`.execute(handle.db); // (Kysely closes only a connection it has opened)
    await handle.db.destroy();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    // The thread, starting now, finds no database: that must neither surface nor create one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fs.existsSync(file)).toBe(false);
  });

  it('fall back to the writing connection checkpointing itself when the thread fails', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-checkpoint-'));
    dirs.push(dir);
    const sqlite = new SQLite(path.join(dir, 'mailroom.sqlite'));
    sqlite.pragma('journal_mode = WAL');
    try {
      // The thread's connection cannot open a file in a folder that does not exist.
      checkpointInBackground(sqlite, path.join(dir, 'missing', 'mailroom.sqlite'));
      expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      await eventually(
        () => sqlite.pragma('wal_autocheckpoint', { simple: true }) === 1000,
        'the writing connection checkpoints by itself again',
      );
    } finally {
      sqlite.close();
    }
  });
});
