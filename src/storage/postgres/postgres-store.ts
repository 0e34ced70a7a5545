// The PostgreSQL store: a pool, its migrations, the unit of work serialised across replicas, and the repositories.
import type { Clock } from '../../core/ports.js';
import { postgresMigrationsDir } from '../../paths.js';
import type { StorageBackend } from '../backend.js';
import { readMigrations } from '../migrate.js';
import type { PostgresTarget } from './database-url.js';
import { connectOrExplain, createPool, type Pool } from './pool.js';
import { PostgresAuditLog } from './postgres-audit-log.js';
import { PostgresIncidentStore } from './postgres-incident-store.js';
import { PostgresJobs } from './postgres-jobs.js';
import { migratePostgres } from './postgres-migrate.js';
import { PostgresOutbox } from './postgres-outbox.js';
import { PostgresPagerdutyEvents } from './postgres-pagerduty-events.js';
import { PostgresRunStore } from './postgres-run-store.js';
import type { ReplicaIdentity } from './replica-heartbeat.js';
import { PostgresUnitOfWork } from './postgres-unit-of-work.js';

export interface PostgresStoreOptions {
  target: PostgresTarget;
  auditKey: string;
  clock: Clock;
  /** Connections of the pool (10 by default). */
  poolMax?: number;
  /** How the connections name themselves in pg_stat_activity. */
  applicationName?: string;
  /** How long /healthz waits for the database's answer before calling it not writable. */
  healthTimeoutMs?: number;
  /**
   * This process as a replica (src/storage/postgres/replica-heartbeat.ts): the runs it queues and
   * executes are written as its own. A process that executes runs beside replicas must have one.
   */
  replica?: ReplicaIdentity;
  /** Told of pg-boss's errors (a failed poll or maintenance pass); they are retried on their own. */
  onJobError?: (err: Error) => void;
  /** False for readers that queue and take no jobs (`edgeops export`): pg-boss is not installed or started. */
  jobs?: boolean;
}

export class PostgresStore implements StorageBackend {
  readonly kind = 'postgres' as const;
  /** The unit of work every repository finds its transaction's connection through. */
  readonly session: PostgresUnitOfWork;
  readonly audit: PostgresAuditLog;
  readonly incidents: PostgresIncidentStore;
  readonly outbox: PostgresOutbox;
  readonly pagerdutyEvents: PostgresPagerdutyEvents;
  readonly runs: PostgresRunStore;
  /** Background work across replicas (pg-boss, in this database): PagerDuty events and scheduled ticks. */
  readonly jobs: PostgresJobs;
  private ended: Promise<void> | undefined;

  private constructor(
    readonly pool: Pool,
    /** Where it is, the password masked in `display`. */
    readonly target: PostgresTarget,
    auditKey: string,
    clock: Clock,
    private readonly healthTimeoutMs: number,
    readonly replica: ReplicaIdentity | undefined,
    onJobError: ((err: Error) => void) | undefined,
  ) {
    this.session = new PostgresUnitOfWork(pool);
    this.jobs = new PostgresJobs(pool, this.session, onJobError);
    this.audit = new PostgresAuditLog(this.session, auditKey, clock);
    this.incidents = new PostgresIncidentStore(this.session);
    this.outbox = new PostgresOutbox(this.session, () => clock.now());
    this.pagerdutyEvents = new PostgresPagerdutyEvents(this.session);
    this.runs = new PostgresRunStore(this.session, replica?.id ?? null);
  }

  /**
   * Connects (a failure names the server, never the password) and applies pending migrations under
   * the migration lock, so replicas starting together migrate once; then installs pg-boss's tables
   * and edgeops' job queues (pg-boss's own lock).
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = createPool(options.target, {
      ...(options.poolMax === undefined ? {} : { max: options.poolMax }),
      applicationName: options.applicationName ?? 'edgeops',
    });
    try {
      await connectOrExplain(pool, options.target);
      await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    const store = new PostgresStore(
      pool,
      options.target,
      options.auditKey,
      options.clock,
      options.healthTimeoutMs ?? 5_000,
      options.replica,
      options.onJobError,
    );
    try {
      if (options.jobs !== false) await store.jobs.install();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.session.transaction(fn);
  }

  /** Commits inside `work` return before they are flushed to disk; `durable()` flushes them (see PostgresUnitOfWork). */
  deferSync<T>(work: () => Promise<T>): Promise<T> {
    return this.session.deferSync(work);
  }

  durable(): Promise<void> {
    return this.session.durable();
  }

  /**
   * True when the server answers, is not a standby in recovery and does not open transactions read
   * only; false when it says otherwise, fails, or does not answer within the health timeout.
   */
  async writable(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.healthTimeoutMs);
    });
    const asked = this.pool
      .query<{ recovery: boolean; read_only: string }>("SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS read_only")
      .then(
        ({ rows }) => rows[0]?.recovery === false && rows[0].read_only === 'off',
        () => false,
      );
    try {
      return await Promise.race([asked, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the job workers and maintenance, then ends the pool (once): waits for the connections in use to be released. */
  close(): Promise<void> {
    return (this.ended ??= this.jobs
      .stop()
      .catch(() => undefined)
      .then(() => this.pool.end()));
  }
}
