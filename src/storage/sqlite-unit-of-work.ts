// The SQLite unit of work: one transaction at a time on the one connection, though callers await inside it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Deferral } from './deferral.js';
import type { UnitOfWork } from '../core/ports.js';
import type { Db } from './database.js';
import { statementCache } from './statements.js';
import type { WalSync } from './wal-sync.js';

/** One outermost transaction; nested calls made from inside it open savepoints on it. */
interface Tx {
  depth: number;
}

/**
 * better-sqlite3 runs transactions synchronously, but the ports are asynchronous: a transaction's
 * function may await between its writes, and any other work may run at each await. On one
 * connection, whatever runs in that gap would land inside the open transaction. So:
 * - transactions are serialised by a mutex and opened and closed by hand (BEGIN IMMEDIATE, COMMIT,
 *   ROLLBACK); a throw anywhere in the function rolls back every row it wrote;
 * - a call made from inside a transaction (the same async context) joins it as a savepoint, as
 *   better-sqlite3's nested transactions did, instead of waiting for itself;
 * - repository calls made outside any transaction while one is open wait for it (see `guard`), so
 *   they neither land inside it nor read what it has not committed.
 * It is the only way a transaction is opened on the connection (`Store.transaction` delegates here).
 */
export class SqliteUnitOfWork implements UnitOfWork {
  private readonly context = new AsyncLocalStorage<Tx>();
  private readonly deferral = new Deferral();
  private readonly stmt;
  private locked = false;
  private readonly waiters: Array<() => void> = [];
  private open: Tx | undefined;

  constructor(
    private readonly db: Db,
    /** Only a database file in WAL mode can defer its syncs. */
    private readonly walSync: WalSync | undefined,
  ) {
    this.stmt = statementCache(db);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    const joined = this.context.getStore();
    if (joined !== undefined && joined === this.open) return this.savepoint(joined, fn);
    await this.acquire();
    const tx: Tx = { depth: 0 };
    try {
      return await this.context.run(tx, () => this.outermost(tx, fn));
    } finally {
      this.release();
    }
  }

  /**
   * Runs `fn` once no other caller's transaction is open, and keeps the next one out until it
   * settles, without opening a transaction of its own: its statements commit as they would alone
   * (an outbox mark without a sync of its own, a repository's own transaction with its own sync).
   */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.locked) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.locked = true;
  }

  /** The lock passes straight to the next waiter, so nothing can slip in between. */
  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.locked = false;
  }

  /** True when a repository call may run now: no transaction is open, or the caller is inside it. */
  free(): boolean {
    return !this.locked || (this.open !== undefined && this.context.getStore() === this.open);
  }

  /**
   * `repo` with every method in `methods` made to wait for another caller's open transaction (then
   * run on its own, not inside a transaction of ours), and run directly (no extra cost) otherwise.
   */
  guard<R extends object>(repo: R, methods: ReadonlyArray<keyof R>): R {
    const guarded = Object.create(repo) as R;
    for (const name of methods) {
      const method = repo[name] as unknown as (...args: unknown[]) => unknown;
      (guarded as Record<keyof R, unknown>)[name] = isAsyncGenerator(method)
        ? this.guardRows(repo, method as (...args: unknown[]) => AsyncIterable<unknown>)
        : (...args: unknown[]) => (this.free() ? method.apply(repo, args) : this.exclusive(async () => method.apply(repo, args)));
    }
    return guarded;
  }

  /**
   * A row reader (an async generator reading a page per step) whose every step waits for another
   * caller's open transaction: a page is read on its own, never inside it; nothing is held between pages.
   */
  private guardRows(repo: object, method: (...args: unknown[]) => AsyncIterable<unknown>) {
    const free = (): boolean => this.free();
    const exclusive = <T>(fn: () => Promise<T>): Promise<T> => this.exclusive(fn);
    return async function* (...args: unknown[]): AsyncGenerator {
      const rows = method.apply(repo, args)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const step = free() ? await rows.next() : await exclusive(() => rows.next());
          if (step.done === true) return;
          yield step.value;
        }
      } finally {
        await rows.return?.();
      }
    };
  }

  /**
   * Runs `work`; the transactions it commits before it settles skip their own disk sync, and
   * `WalSync.flush()` then makes them durable with one sync shared by every commit of that turn.
   * Work it leaves running in the background syncs as usual once `work` has settled.
   */
  async deferSync<T>(work: () => Promise<T>): Promise<T> {
    return this.deferral.run(work);
  }

  private async outermost<T>(tx: Tx, fn: () => Promise<T>): Promise<T> {
    const deferred = this.walSync !== undefined && this.deferral.active();
    if (deferred) this.walSync.skipSyncs();
    try {
      this.stmt('BEGIN IMMEDIATE').run();
      this.open = tx;
      try {
        const result = await fn();
        this.stmt('COMMIT').run();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.stmt('ROLLBACK').run();
        throw err;
      } finally {
        this.open = undefined;
      }
    } finally {
      if (deferred) this.walSync.resumeSyncs();
    }
  }

  private async savepoint<T>(tx: Tx, fn: () => Promise<T>): Promise<T> {
    tx.depth += 1;
    const name = `uow_${tx.depth}`;
    this.stmt(`SAVEPOINT ${name}`).run();
    try {
      const result = await fn();
      this.stmt(`RELEASE ${name}`).run();
      return result;
    } catch (err) {
      if (this.db.inTransaction) {
        this.stmt(`ROLLBACK TO ${name}`).run();
        this.stmt(`RELEASE ${name}`).run();
      }
      throw err;
    } finally {
      tx.depth -= 1;
    }
  }
}

const isAsyncGenerator = (fn: unknown): boolean => Object.prototype.toString.call(fn) === '[object AsyncGeneratorFunction]';
