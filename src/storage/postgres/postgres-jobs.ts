// Background jobs on PostgreSQL with pg-boss, in the same database: PagerDuty events to process and scheduled ticks, each taken by one replica.
import { createHash } from 'node:crypto';
import PgBoss from 'pg-boss';
import type { JobQueue, JobWorker, NewJob, PagerdutyEventJob, TickJob } from '../../core/jobs.js';
import type { Pool, PoolClient } from './pool.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

/**
 * The queues and what each promises. Retries only where doing the work twice is harmless:
 * - PagerDuty events: the processor claims each event (its state says what is left), so a retry
 *   after a crash or an error finishes it without repeating what committed. About four minutes of
 *   retries in all, beyond the processor's own five attempts a minute apart at most.
 * - Ticks: never retried. Reminders, approval expiry and the anchor read the state and catch up at
 *   the next tick; a procedure's schedule must not fire twice for one minute.
 * `expireInSeconds`: a job still active this long after it was taken is held by a replica that
 *   died; pg-boss's maintenance (every few seconds, on one replica) fails it and, where allowed,
 *   it is retried on another.
 */
const QUEUES = {
  pagerduty: { name: 'edgeops.pagerduty-events', retryLimit: 8, retryDelay: 1, retryBackoff: true, expireInSeconds: 60 },
  ticks: { name: 'edgeops.scheduled-ticks', retryLimit: 0, expireInSeconds: 300 },
} as const;

/** How often a worker looks for jobs queued by other replicas, or due again after a retry delay. */
const POLL_SECONDS = 2;
/** How often one of the replicas fails jobs held too long by a dead one and tidies finished jobs away. */
const MAINTENANCE_SECONDS = 10;

/**
 * Held (on a connection of its own) while pg-boss installs its tables and edgeops its queues: pg-boss
 * takes a lock of its own for that, but replicas creating its schema or the same queue at the same
 * moment still collide in PostgreSQL's catalogs. (A number of our own choosing: "jobs" in ASCII.)
 */
export const JOBS_INSTALL_LOCK = 0x6a6f_6273;

/** pg-boss's own tables, beside edgeops' in the same database. */
export const JOBS_SCHEMA = 'pgboss';

/**
 * A job's id from its queue and key: the same key sent twice (a redelivery, two replicas firing one
 * tick) is the same row, and pg-boss inserts it once.
 */
export function jobId(queue: string, key: string): string {
  const hex = createHash('sha256').update(`${queue}\n${key}`).digest('hex');
  // Shaped as a version-5-style UUID (pg-boss ids are uuid): version and variant bits set.
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export class PostgresJobs {
  private readonly boss: PgBoss;
  private started: Promise<void> | undefined;
  /** Workers running in this process: stopped before pg-boss and the pool. */
  private readonly workers = new Set<JobWorker>();
  /** While installing: the connection holding the install lock, which pg-boss's statements then use too. */
  private installing: PoolClient | undefined;
  private stopped: Promise<void> | undefined;
  readonly pagerdutyEvents: JobQueue<PagerdutyEventJob>;
  readonly ticks: JobQueue<TickJob>;

  constructor(
    private readonly pool: Pool,
    private readonly session: PostgresUnitOfWork,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.boss = new PgBoss({
      // pg-boss's own statements (fetching, completing, maintenance) go through edgeops' pool, never a
      // caller's transaction; `enqueue` joins one explicitly.
      db: { executeSql: (text, values) => (this.installing ?? pool).query(text, values) },
      schema: JOBS_SCHEMA,
      supervise: true,
      maintenanceIntervalSeconds: MAINTENANCE_SECONDS,
      // edgeops keeps its own timetable (node-cron on every replica) and queues each tick itself.
      schedule: false,
      migrate: true,
    });
    // Without a listener an 'error' event would end the process.
    this.boss.on('error', onError);
    this.pagerdutyEvents = this.queue(QUEUES.pagerduty.name);
    this.ticks = this.queue(QUEUES.ticks.name);
  }

  /**
   * Creates or upgrades pg-boss's tables and edgeops' queues, one replica at a time (replicas
   * starting together install once), and starts maintenance. Once per process. The lock and pg-boss's
   * statements share one connection meanwhile, so a pool of one connection is enough.
   */
  install(): Promise<void> {
    return (this.started ??= (async () => {
      const client = await this.pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [JOBS_INSTALL_LOCK]);
        this.installing = client;
        try {
          await this.boss.start();
          for (const queue of Object.values(QUEUES)) {
            if (!(await this.boss.getQueue(queue.name))) await this.boss.createQueue(queue.name, queue);
          }
        } finally {
          this.installing = undefined;
          await client.query('SELECT pg_advisory_unlock($1)', [JOBS_INSTALL_LOCK]);
        }
      } finally {
        client.release();
      }
    })());
  }

  /** Stops the workers (each finishes the job in hand) and maintenance. */
  stop(): Promise<void> {
    if (!this.started) return Promise.resolve();
    return (this.stopped ??= this.started.then(
      async () => {
        await Promise.all([...this.workers].map((w) => w.stop()));
        await this.boss.stop({ graceful: true, wait: true, close: false, timeout: 5_000 });
      },
      () => undefined,
    ));
  }

  /**
   * This process's worker of one queue: takes one job at a time (`fetch`, pg-boss's
   * `FOR UPDATE SKIP LOCKED`), completes it when `handle` resolves and fails it (to be retried where
   * the queue allows) when it throws; looks again at once after a job, else after a poll or a nudge.
   * Its own loop rather than pg-boss's `work`, which completes and fails jobs without awaiting
   * them: a database that went away at that moment would end the process with an unhandled rejection.
   */
  private startWorker<D extends object>(name: string, handle: (job: PgBoss.Job<D>) => Promise<void>): JobWorker {
    // Fields, not locals: the loop reads what nudge() and stop() set meanwhile.
    const state = { stopping: false, nudged: false };
    let wake: (() => void) | undefined;
    const rest = (): Promise<void> =>
      new Promise((resolve) => {
        if (state.nudged || state.stopping) {
          resolve();
          return;
        }
        const timer = setTimeout(done, POLL_SECONDS * 1000);
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    const loop = (async () => {
      while (!state.stopping) {
        state.nudged = false;
        let job: PgBoss.Job<D> | undefined;
        try {
          [job] = await this.boss.fetch<D>(name, { batchSize: 1 });
        } catch (err) {
          this.onError(err as Error);
        }
        if (!job) {
          await rest();
          continue;
        }
        try {
          await handle(job);
        } catch (err) {
          await this.boss.fail(name, job.id, { message: (err as Error).message }).catch((e: unknown) => this.onError(e as Error));
          continue;
        }
        await this.boss.complete(name, job.id).catch((e: unknown) => this.onError(e as Error));
      }
    })();
    const worker: JobWorker = {
      nudge: () => {
        state.nudged = true;
        wake?.();
      },
      stop: async () => {
        state.stopping = true;
        wake?.();
        await loop;
        this.workers.delete(worker);
      },
    };
    this.workers.add(worker);
    return worker;
  }

  private queue<D extends object>(name: string): JobQueue<D> {
    return {
      enqueue: async (jobs: ReadonlyArray<NewJob<D>>) => {
        if (jobs.length === 0) return;
        // One statement for the whole batch (a burst of webhooks, a sweep); inside a transaction, on
        // its connection, so the jobs commit or roll back with it.
        const db = { executeSql: (text: string, values: unknown[]) => this.session.current().query(text, values) };
        await this.boss.insert(
          jobs.map((job) => ({
            id: jobId(name, job.key),
            name,
            data: job.data,
            ...(job.startAfterMs === undefined ? {} : { startAfter: new Date(job.startAfterMs).toISOString() }),
          })),
          { db },
        );
      },
      work: async (handle: (data: D) => Promise<void>): Promise<JobWorker> => {
        await this.install();
        return this.startWorker<D>(name, (job) => handle(job.data));
      },
    };
  }
}
