// Deferred disk syncs of the write-ahead log: commits that skip their own fsync, then one shared sync.
import { close, fdatasync, fdatasyncSync, open, openSync } from 'node:fs';
import type { Db } from './database.js';

/** Syncs a file's data to stable storage; tests pass a fake one. */
export interface FileSyncer {
  /** On libuv's thread pool. */
  sync(): Promise<void>;
  /** On the calling thread, for closing time. */
  syncNow(): void;
  /** Gives the file up once a sync still running is done. */
  close(): void;
}

/**
 * fdatasync of the log through one descriptor opened on first use and kept: the log stays the same
 * file while a connection has the database open (SQLite removes it only when the last one closes,
 * after checkpointing and syncing it), and SQLite takes no locks on it that closing ours could drop.
 */
export function logFileSyncer(file: string): FileSyncer {
  let fd: number | undefined;
  let closed = false;
  let running: Promise<void> = Promise.resolve();

  /** The descriptor; undefined when there is no log file, so nothing was ever written through one. */
  const descriptor = (): Promise<number | undefined> =>
    new Promise((resolve, reject) => {
      if (fd !== undefined || closed) {
        resolve(fd);
        return;
      }
      open(file, 'r+', (err, opened) => {
        if (err) {
          if (err.code === 'ENOENT') resolve(undefined);
          else reject(err);
          return;
        }
        // Another open finished first, or the syncer was closed meanwhile: keep one descriptor at most.
        if (fd !== undefined || closed) close(opened, () => undefined);
        else fd = opened;
        resolve(fd);
      });
    });

  const datasync = (handle: number | undefined): Promise<void> =>
    new Promise((resolve, reject) => (handle === undefined ? resolve() : fdatasync(handle, (err) => (err ? reject(err) : resolve()))));

  return {
    sync() {
      const done = descriptor().then(datasync);
      running = done.catch(() => undefined);
      return done;
    },
    syncNow() {
      if (closed) return;
      if (fd === undefined) {
        try {
          fd = openSync(file, 'r+');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw err;
        }
      }
      fdatasyncSync(fd);
    },
    close() {
      closed = true;
      // A sync still running keeps the descriptor until it is done.
      void running.then(() => {
        if (fd !== undefined) close(fd, () => undefined);
        fd = undefined;
      });
    },
  };
}

const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * In WAL mode, `synchronous = FULL` makes every commit fsync the log before it returns, holding the
 * event loop for the whole sync. A commit made with `synchronous = NORMAL` is written to the log and
 * visible at once but not yet synced; syncing the log afterwards makes it exactly as durable as FULL
 * would have (NORMAL still syncs around checkpoints and when the log is reused). Callers that only
 * answer once `flush()` resolves get FULL's guarantee, and all commits made while one sync runs share
 * the next one, which runs on libuv's thread pool instead of the event loop.
 */
export class WalSync {
  /** The connection's own level, restored after each deferred commit. */
  private readonly level: number;
  /** Deferred commits made so far, and how many of them are known to be on stable storage. */
  private made = 0;
  private synced = 0;
  private running: { upTo: number; done: Promise<void> } | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: FileSyncer,
  ) {
    this.level = db.pragma('synchronous', { simple: true }) as number;
  }

  /** Runs one outermost transaction whose commit skips its own sync; `flush()` owes it one. */
  commit<T>(transaction: () => T): T {
    // `exec`, not a kept statement: SQLite applies this pragma when it compiles it, not when it runs it.
    this.db.exec('PRAGMA synchronous = NORMAL');
    try {
      return transaction();
    } finally {
      this.db.exec(`PRAGMA synchronous = ${this.level}`);
      // Counted even when the transaction rolled back: one sync too many costs nothing that matters.
      this.made += 1;
    }
  }

  /** Resolves once every deferred commit made before the call is on stable storage. */
  flush(): Promise<void> {
    const target = this.made;
    if (this.synced >= target) return Promise.resolve();
    if (this.running && this.running.upTo >= target) return this.running.done;
    // A sync already running may have started before these commits: wait for it, then sync again.
    // The next sync starts at the end of an event-loop turn, so it covers every command that turn
    // handled, not only the first; everyone who asks meanwhile shares it.
    this.next ??= (this.running?.done.catch(() => undefined) ?? Promise.resolve()).then(endOfTurn).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<void> {
    const upTo = this.made;
    const done = this.log.sync().then(() => {
      this.synced = Math.max(this.synced, upTo);
    });
    const running = { upTo, done };
    this.running = running;
    const clear = (): void => {
      if (this.running === running) this.running = undefined;
    };
    done.then(clear, clear);
    return done;
  }

  /** Before the database is closed: syncs what is still owed (another connection may keep the log), lets the file go. */
  close(): void {
    if (this.synced < this.made) {
      this.log.syncNow();
      this.synced = this.made;
    }
    this.log.close();
  }
}
