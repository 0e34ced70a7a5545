// Checkpoints the write-ahead log from a worker thread, so copying it into the database never holds the event loop.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './database.js';

/** How often the worker copies committed pages from the log into the database file. */
export const CHECKPOINT_EVERY_MS = 500;
/** SQLite's own default: the committing connection checkpoints once the log holds this many pages. */
export const AUTOCHECKPOINT_PAGES = 1000;
/** On close, how long to wait for a checkpoint in progress before closing anyway. */
const STOP_WAIT_MS = 10_000;

/**
 * The worker: its own connection to the same file, a PASSIVE checkpoint on a timer (it never blocks
 * writers or readers, and does nothing when the log has nothing new), and a synchronous goodbye: the
 * main thread waits on a shared flag until this connection is closed, so the database closes after it.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const done = new Int32Array(workerData.done);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
// FULL: the log is synced before its pages are copied, and the database file after.
db.pragma('synchronous = FULL');
let failed = false;
const checkpoint = () => {
  if (failed) return;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    failed = true;
    parentPort.postMessage({ error: String(err && err.message ? err.message : err) });
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  try {
    db.close();
  } finally {
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
    parentPort.close();
  }
});
`;

export interface WalCheckpointer {
  /** Stops the worker and closes its connection (waits, bounded, for a checkpoint in progress). */
  stop(): void;
}

export interface WalCheckpointerOptions {
  everyMs?: number;
  /** Told once when the worker fails; the connection then checkpoints by itself again, as SQLite does by default. */
  onError: (err: Error) => void;
}

/**
 * Moves checkpoints off `db`'s thread. With SQLite's default, the commit that takes the log past
 * 1,000 pages copies them into the database file and syncs both files before it returns: on a
 * shared disk, a stall of every request in flight, every ~150 `/incident note`s. Here that commit
 * only appends; the worker does the copy and the syncs. The log's own sync (what makes a commit
 * durable) is unchanged. Should the worker fail, `db` goes back to checkpointing by itself.
 */
export function startWalCheckpointer(db: Db, options: WalCheckpointerOptions): WalCheckpointer {
  const done = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { file: db.name, driver: createRequire(import.meta.url).resolve('better-sqlite3'), everyMs: options.everyMs ?? CHECKPOINT_EVERY_MS, done },
  });
  // The worker alone never keeps the process alive: the server's own handles do.
  worker.unref();
  db.pragma('wal_autocheckpoint = 0');
  let active = true;
  const fallBack = (err: Error): void => {
    if (!active) return;
    active = false;
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    void worker.terminate();
    options.onError(err);
  };
  worker.on('message', (message: { error?: string }) => {
    if (message.error !== undefined) fallBack(new Error(`background checkpoint failed: ${message.error}`));
  });
  worker.on('error', (err) => fallBack(err));
  worker.on('exit', (code) => fallBack(new Error(`background checkpoint worker exited (${code})`)));
  return {
    stop() {
      if (!active) return;
      active = false;
      worker.postMessage('stop');
      Atomics.wait(new Int32Array(done), 0, 0, STOP_WAIT_MS);
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    },
  };
}
