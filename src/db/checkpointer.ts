import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** How often the thread copies what the write-ahead log holds into the database file. */
const CHECKPOINT_INTERVAL_MS = 200;
/** SQLite's own default, for when the thread is gone: the writing connection checkpoints itself. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * The thread: a connection of its own that only checkpoints, PASSIVE so it never waits for or
 * holds up the writer. Plain JavaScript with the driver's resolved path, so it needs no loader. It
 * never creates the file: one removed meanwhile is not made again, empty.
 */
const threadSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Moves SQLite's checkpoints off the thread that writes. By default the connection whose commit
 * pushes the write-ahead log past 1,000 pages copies them into the database file there and then,
 * inside that commit, on the event loop: the outbox's commits took 228–313 µs with that, 144–156
 * without (ADR 006). Here a thread checkpoints every 200 ms instead; if it fails, the writing
 * connection checkpoints itself again as before. Closing the database stops the thread.
 */
export function checkpointInBackground(sqlite: SQLite.Database, file: string): void {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(threadSource, {
    eval: true,
    workerData: { driver, file, intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  worker.unref();
  sqlite.pragma('wal_autocheckpoint = 0');
  const checkpointHere = () => {
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  };
  worker.once('error', checkpointHere);
  worker.once('exit', checkpointHere);
  const close = sqlite.close.bind(sqlite);
  sqlite.close = () => {
    worker.off('error', checkpointHere);
    worker.off('exit', checkpointHere);
    // A thread that fails now (its database gone with the folder it was in) is of no concern.
    worker.on('error', () => undefined);
    worker.postMessage('stop');
    return close();
  };
}
