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
  /** Syncs not yet done: the descriptor is given up only once none is left (several may run at once). */
  let inFlight = 0;
  const release = (): void => {
    if (fd !== undefined) close(fd, () => undefined);
    fd = undefined;
  };

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
      inFlight += 1;
      return descriptor()
        .then(datasync)
        .finally(() => {
          inFlight -= 1;
          if (closed && inFlight === 0) release();
        });
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
      if (inFlight === 0) release();
    },
  };
}

const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Log syncs running at once at most; libuv's thread pool has 4 threads by default, shared with all file I/O. */
export const MAX_SYNCS_IN_FLIGHT = 2;

/**
 * In WAL mode, `synchronous = FULL` makes every commit fsync the log before it returns, holding the
 * event loop for the whole sync. A commit made with `synchronous = NORMAL` is written to the log and
 * visible at once but not yet synced; syncing the log afterwards makes it exactly as durable as FULL
 * would have (NORMAL still syncs around checkpoints and when the log is reused). Callers that only
 * answer once `flush()` resolves get FULL's guarantee, and all commits of one event-loop turn share
 * one sync, which runs on libuv's thread pool instead of the event loop.
 */
export class WalSync {
  /** The connection's own level, restored after each deferred commit. */
  private readonly level: number;
  /** Deferred commits made so far, and how many of them are known to be on stable storage. */
  private made = 0;
  private synced = 0;
  /** A commit nobody waits for (see `commit`) that no sync started since has covered. */
  private uncovered = false;
  /** Syncs on the thread pool, oldest first; each covers the commits made before it started (`upTo`). */
  private readonly inFlight: Array<{ upTo: number; done: Promise<void> }> = [];
  private next: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: FileSyncer,
  ) {
    this.level = db.pragma('synchronous', { simple: true }) as number;
  }

  /**
   * Runs one outermost transaction (or one statement outside any) whose commit skips its own sync;
   * `flush()` owes it one. With `owed` false nobody waits for it: `flush()` starts no sync for it
   * (so a delivery never waits for the sync of the previous one's bookkeeping), but any later sync
   * covers it, the log being synced in order, and `close()` syncs it if none did.
   */
  commit<T>(transaction: () => T, owed = true): T {
    this.skipSyncs();
    try {
      return transaction();
    } finally {
      this.resumeSyncs(owed);
    }
  }

  /**
   * Before an outermost transaction begins (SQLite refuses to change the level inside one): its
   * commit skips its own sync, and `flush()` owes it one. For transactions that await between
   * BEGIN and COMMIT, which `commit` cannot wrap.
   */
  skipSyncs(): void {
    // `exec`, not a kept statement: SQLite applies this pragma when it compiles it, not when it runs it.
    this.db.exec('PRAGMA synchronous = NORMAL');
  }

  /** After that transaction committed or rolled back: the connection syncs its commits again. */
  resumeSyncs(owed = true): void {
    this.db.exec(`PRAGMA synchronous = ${this.level}`);
    // Counted even when the transaction rolled back: one sync too many costs nothing that matters.
    if (owed) this.made += 1;
    else this.uncovered = true;
  }

  /** Resolves once every deferred commit made before the call is on stable storage. */
  flush(): Promise<void> {
    const target = this.made;
    if (this.synced >= target) return Promise.resolve();
    const newest = this.inFlight.at(-1);
    if (newest && newest.upTo >= target) return newest.done;
    // A sync in flight started before these commits and may not cover them: another one starts now,
    // without waiting for it (waiting would add what is left of it to every answer), unless
    // MAX_SYNCS_IN_FLIGHT already run, so a slow disk cannot fill libuv's thread pool with syncs.
    // It starts at the end of an event-loop turn, so it covers every command that turn handled,
    // not only the first; everyone who asks meanwhile shares it.
    this.next ??= this.slot()
      .then(endOfTurn)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  /** Resolves once fewer than MAX_SYNCS_IN_FLIGHT syncs run. */
  private slot(): Promise<void> {
    const oldest = this.inFlight[0];
    return this.inFlight.length < MAX_SYNCS_IN_FLIGHT || !oldest ? Promise.resolve() : oldest.done.catch(() => undefined);
  }

  private start(): Promise<void> {
    const upTo = this.made;
    const covers = this.uncovered;
    this.uncovered = false;
    const done = this.log.sync().then(
      () => {
        // Syncs may finish out of order: each one covers everything committed before it started.
        this.synced = Math.max(this.synced, upTo);
      },
      (err: unknown) => {
        if (covers) this.uncovered = true;
        throw err;
      },
    );
    const entry = { upTo, done };
    this.inFlight.push(entry);
    const clear = (): void => {
      const at = this.inFlight.indexOf(entry);
      if (at >= 0) this.inFlight.splice(at, 1);
    };
    done.then(clear, clear);
    return done;
  }

  /** Before the database is closed: syncs what is still owed (another connection may keep the log), lets the file go. */
  close(): void {
    if (this.synced < this.made || this.uncovered) {
      this.log.syncNow();
      this.synced = this.made;
      this.uncovered = false;
    }
    this.log.close();
  }
}
