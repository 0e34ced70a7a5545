// The SQLite store: one database, one unit of work, and the repositories the services use.
import path from 'node:path';
import type { AuditLog } from '../core/audit/audit-log.js';
import type { IncidentStore } from '../core/incidents/incident-store.js';
import type { Outbox } from '../core/outbox/outbox.js';
import type { PagerdutyEventStore } from '../core/pagerduty/pagerduty-event-store.js';
import type { RunStore } from '../core/runs/run-store.js';
import type { Clock } from '../core/ports.js';
import type { StorageBackend } from './backend.js';
import { openDatabase, type Db, type OpenOptions } from './database.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';
import { SqliteIncidentStore } from './sqlite-incident-store.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { SqlitePagerdutyEvents } from './sqlite-pagerduty-events.js';
import { SqliteRunStore } from './sqlite-run-store.js';
import { SqliteUnitOfWork } from './sqlite-unit-of-work.js';
import { startWalCheckpointer, type WalCheckpointer, type WalCheckpointerOptions } from './wal-checkpointer.js';
import { WalSync, logFileSyncer, type FileSyncer } from './wal-sync.js';

export class Store implements StorageBackend {
  readonly kind = 'sqlite' as const;
  readonly audit: AuditLog;
  readonly incidents: IncidentStore;
  readonly outbox: Outbox;
  readonly pagerdutyEvents: PagerdutyEventStore;
  /** Serialises the transactions of callers that await inside them (see SqliteUnitOfWork). */
  private readonly uow: SqliteUnitOfWork;
  /** Only a database file in WAL mode can defer its syncs; in memory there is nothing to sync. */
  private readonly walSync: WalSync | undefined;
  private checkpointer: WalCheckpointer | undefined;
  private runStore: RunStore | undefined;

  private constructor(
    readonly db: Db,
    auditKey: string,
    clock: Clock,
    syncer: (logFile: string) => FileSyncer = logFileSyncer,
  ) {
    const wal = !db.memory && db.pragma('journal_mode', { simple: true }) === 'wal';
    this.walSync = wal ? new WalSync(db, syncer(`${path.resolve(db.name)}-wal`)) : undefined;
    this.uow = new SqliteUnitOfWork(db, this.walSync);
    // Every repository call made outside a transaction waits for another caller's open one.
    this.audit = guarded(this.uow, new SqliteAuditLog(db, auditKey, clock));
    this.incidents = guarded(this.uow, new SqliteIncidentStore(db));
    this.outbox = guarded(
      this.uow,
      new SqliteOutbox(
        db,
        () => clock.now(),
        () => this.durable(),
        (write) => this.withoutOwnSync(write),
      ),
    );
    this.pagerdutyEvents = guarded(this.uow, new SqlitePagerdutyEvents(db));
  }

  /** Opens (and migrates) the database file; `syncer` is how the log reaches the disk (tests slow it down). */
  static create(options: { file: string; auditKey: string; clock: Clock; syncer?: (logFile: string) => FileSyncer } & OpenOptions): Store {
    return new Store(openDatabase(options.file, options), options.auditKey, options.clock, options.syncer);
  }

  /**
   * `repo` (made on this store's connection outside it: the portal's sessions and reads, the metrics
   * source) with each of its methods made to wait for another caller's open transaction, so that
   * its statements neither land inside that transaction (and are rolled back with it) nor read what
   * it has not committed.
   */
  guard<R extends object>(repo: R): R {
    return guarded(this.uow, repo);
  }

  /** Made on first use: its statements need the runs tables, which a database opened at an older version lacks. */
  get runs(): RunStore {
    return (this.runStore ??= guarded(this.uow, new SqliteRunStore(this.db)));
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.uow.transaction(fn);
  }

  /**
   * Runs `work`; the transactions it commits before it settles skip their own disk sync, and
   * `durable()` then makes them all durable with one sync off the event loop. Only for callers that
   * tell nobody about the result until `durable()` has resolved, such as a slash command whose
   * answer waits for it: commands arriving together then share one sync instead of each holding the
   * event loop for its own. Every other transaction syncs as it commits, as before.
   */
  deferSync<T>(work: () => Promise<T>): Promise<T> {
    return this.uow.deferSync(work);
  }

  /**
   * Commits `write` (one statement or an outermost transaction) without a disk sync of its own and
   * without owing one: on stable storage with the next sync of the log that anything else asks for
   * (`durable()`, a checkpoint, or closing), never before the commits that preceded it. Only for
   * writes whose loss in a power cut means doing them again, such as the outbox sender's marks.
   * Inside a transaction, the outer commit decides.
   */
  private withoutOwnSync<T>(write: () => T): T {
    return this.walSync && !this.db.inTransaction ? this.walSync.commit(write, false) : write();
  }

  /** Resolves once every commit made so far is on stable storage (at once when none was deferred). */
  durable(): Promise<void> {
    return this.walSync?.flush() ?? Promise.resolve();
  }

  /**
   * For long-running servers: checkpoints run on a worker thread instead of inside whichever commit
   * fills the log (see `startWalCheckpointer`). Nothing to do for a database in memory.
   */
  checkpointInBackground(options: WalCheckpointerOptions): void {
    if (!this.walSync || this.checkpointer) return;
    this.checkpointer = startWalCheckpointer(this.db, options);
  }

  /** True when a write can be committed (used by /healthz). */
  writable(): Promise<boolean> {
    return Promise.resolve(this.writableNow());
  }

  private writableNow(): boolean {
    // Another caller's transaction is open: the database took its write lock, so it takes writes.
    if (!this.uow.free()) return true;
    try {
      this.db.prepare('BEGIN IMMEDIATE').run();
      this.db.prepare('ROLLBACK').run();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (!this.db.open) return;
    // The worker's connection closes first, so this one, the last, checkpoints and removes the log as usual.
    this.checkpointer?.stop();
    this.walSync?.close();
    this.db.close();
  }
}

/** `repo` with every public method run through `uow` when another caller's transaction is open. */
function guarded<R extends object>(uow: SqliteUnitOfWork, repo: R): R {
  const prototype = Object.getPrototypeOf(repo) as object | null;
  // A class's methods live on its prototype; an object of functions (a reader made by a factory) holds its own.
  const source = prototype === Object.prototype || prototype === null ? repo : prototype;
  // Methods only: a getter (a statement compiled on first use) is not read here.
  const methods = Object.getOwnPropertyNames(source).filter(
    (name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(source, name)?.value === 'function',
  ) as Array<keyof R>;
  return uow.guard(repo, methods);
}
