// PagerDuty events as pg-boss jobs: one job per stored event, committed with it, taken by one replica, retried while unfinished.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startEventJobs } from '../../../src/adapters/pagerduty/event-jobs.js';
import type { EventWorker } from '../../../src/adapters/pagerduty/event-worker.js';
import type { PagerdutyEventJob } from '../../../src/core/jobs.js';
import type { PagerdutyEventState } from '../../../src/core/pagerduty/pagerduty-event-store.js';
import { parsePagerdutyEvent } from '../../../src/core/pagerduty/pagerduty-event.js';
import type { ProcessPass } from '../../../src/core/pagerduty/pagerduty-processor.js';
import { createLogger } from '../../../src/log.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { jobId, PostgresJobs } from '../../../src/storage/postgres/postgres-jobs.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import type { Backend } from '../../../src/app.js';
import { startHarness, triggeredBody, type Harness } from '../pagerduty/pd-harness.js';

const QUEUE = 'edgeops.pagerduty-events';
const silent = createLogger({ level: 'silent' });
const clock = { now: () => Date.now() };
/** No backlog to sweep. */
const none = (): Promise<string[]> => Promise.resolve([]);

interface JobRow {
  id: string;
  event_id: string;
  state: string;
  retry_count: number;
}

describe('PagerDuty events as jobs on PostgreSQL', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function harness(): Promise<Harness<Backend>> {
    const h = await startHarness({ backend: 'postgres' });
    cleanups.push(() => h.close());
    return h;
  }
  const jobsOf = async (query: (sql: string, ...params: unknown[]) => Promise<JobRow[]>): Promise<JobRow[]> =>
    query(
      "SELECT id::text AS id, data->>'eventId' AS event_id, state::text AS state, retry_count FROM pgboss.job WHERE name = ? ORDER BY created_on",
      QUEUE,
    );

  it('processes a stored event through its job, taken by the worker at once; a redelivery adds no job', async () => {
    const h = await harness();
    const body = triggeredBody('PJOB001', { id: 'EV-JOB-1' });
    expect((await h.deliver(body)).status).toBe(202);
    // A redelivery is answered as a duplicate.
    expect((await h.deliver(body)).status).toBe(200);

    // Nobody drives processing here: the worker took the job.
    await vi.waitFor(() => expect(h.ran()).toEqual(['PJOB001 triggered']), { timeout: 15_000, interval: 20 });
    const query = <T>(sql: string, ...params: unknown[]): Promise<T[]> => h.query<T>(sql, ...params);
    await vi.waitFor(async () => expect((await jobsOf(query)).map((j) => j.state)).toEqual(['completed']), { timeout: 10_000, interval: 20 });
    expect(await jobsOf(query)).toEqual([{ id: jobId(QUEUE, 'EV-JOB-1'), event_id: 'EV-JOB-1', state: 'completed', retry_count: 0 }]);
    expect(await h.query('SELECT event_id, state FROM pagerduty_events')).toEqual([{ event_id: 'EV-JOB-1', state: 'processed' }]);
  });

  it('commits an event and its job together: a batch that rolls back leaves neither', async () => {
    const h = await harness();
    const parsed = parsePagerdutyEvent(JSON.parse(triggeredBody('PJOB002', { id: 'EV-JOB-2' })));
    if (!parsed.ok) throw new Error('the test event does not parse');
    const { event } = parsed;
    await expect(
      h.app.store.transaction(async () => {
        await h.app.pagerduty.inbox.receive([{ event, body: '{}', webhookId: null }]);
        throw new Error('the batch failed after the events were stored');
      }),
    ).rejects.toThrow('the batch failed');
    expect(await h.query('SELECT event_id FROM pagerduty_events')).toEqual([]);
    expect(await h.query('SELECT id FROM pgboss.job WHERE name = ?', QUEUE)).toEqual([]);

    await h.app.pagerduty.inbox.receive([{ event, body: '{}', webhookId: null }]);
    expect(await h.query("SELECT data->>'eventId' AS event_id FROM pgboss.job WHERE name = ?", QUEUE)).toEqual([{ event_id: 'EV-JOB-2' }]);
  });

  it('queues again at start the events left unfinished without a job, and processes them', async () => {
    const h = await startHarness({ backend: 'postgres', start: false });
    cleanups.push(() => h.close());
    expect((await h.deliver(triggeredBody('PJOB003', { id: 'EV-JOB-3' }))).status).toBe(202);
    // As if stored by a version without jobs, or its job gave up during an outage.
    await h.query('DELETE FROM pgboss.job WHERE name = ?', QUEUE);

    h.pd.start();
    await vi.waitFor(() => expect(h.ran()).toEqual(['PJOB003 triggered']), { timeout: 15_000, interval: 20 });
    expect(await h.query('SELECT event_id, state FROM pagerduty_events')).toEqual([{ event_id: 'EV-JOB-3', state: 'processed' }]);
  });

  describe('across replicas', () => {
    let db: TestDatabase;
    const pools: Pool[] = [];

    /** One replica's job queue on the shared database. */
    async function replicaJobs(): Promise<PostgresJobs> {
      const pool = createPool(db, { max: 4 });
      pools.push(pool);
      const jobs = new PostgresJobs(pool, new PostgresUnitOfWork(pool));
      await jobs.install();
      cleanups.push(async () => {
        await jobs.stop();
        await pool.end();
      });
      return jobs;
    }

    /** A processor whose passes finish the events `finishOnPass` says, counting the passes. */
    function fakeProcessing(finishOnPass: (pass: number) => string[]): {
      processor: { processDue(): Promise<ProcessPass> };
      stateOf(id: string): Promise<PagerdutyEventState | undefined>;
      passes: () => number;
      states: Map<string, PagerdutyEventState>;
    } {
      const states = new Map<string, PagerdutyEventState>();
      let passes = 0;
      return {
        states,
        passes: () => passes,
        stateOf: (id) => Promise.resolve(states.get(id)),
        processor: {
          processDue() {
            passes += 1;
            const done = finishOnPass(passes);
            for (const id of done) states.set(id, 'processed');
            return Promise.resolve({ processed: done.length, more: false, nextAttemptAt: null });
          },
        },
      };
    }

    const started = (worker: EventWorker): EventWorker => {
      cleanups.push(() => worker.stop());
      return worker;
    };

    async function setup(): Promise<void> {
      pools.length = 0;
      db = await testDatabase('pdjobs');
      const pool = createPool(db, { max: 2 });
      await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
      await pool.end();
      cleanups.push(() => db.drop());
    }

    const jobRows = async (): Promise<JobRow[]> =>
      (
        await pools[0]!.query<JobRow>(
          "SELECT id::text AS id, data->>'eventId' AS event_id, state::text AS state, retry_count FROM pgboss.job WHERE name = $1 ORDER BY created_on",
          [QUEUE],
        )
      ).rows;

    it('has the job of an event stored by a replica that stopped taken by another replica', async () => {
      await setup();
      const [a, b] = [await replicaJobs(), await replicaJobs()];
      const processing = fakeProcessing((pass) => (pass === 1 ? ['EV-A'] : []));
      processing.states.set('EV-A', 'pending');
      // Replica A stores the event and its job, and stops before its worker takes it.
      await a.pagerdutyEvents.enqueue([{ key: 'EV-A', data: { eventId: 'EV-A' } satisfies PagerdutyEventJob }]);
      await a.stop();

      started(startEventJobs({ ...processing, queue: b.pagerdutyEvents, unfinished: none, clock, logger: silent }));
      await vi.waitFor(async () => expect((await jobRows()).map((j) => j.state)).toEqual(['completed']), { timeout: 15_000, interval: 50 });
      expect(processing.states.get('EV-A')).toBe('processed');
      expect(processing.passes()).toBe(1);
    });

    it('reports a job it cannot complete because the database went away, and never leaves a rejection unhandled', async () => {
      await setup();
      const pool = createPool(db, { max: 2 });
      const errors: string[] = [];
      const jobs = new PostgresJobs(pool, new PostgresUnitOfWork(pool), (err) => errors.push(err.message));
      await jobs.install();
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        let handled!: () => void;
        const done = new Promise<void>((resolve) => (handled = resolve));
        const worker = await jobs.pagerdutyEvents.work(async () => {
          // The database goes away while the job is in hand: completing it must fail, loudly but safely.
          await pool.end();
          handled();
        });
        await jobs.pagerdutyEvents.enqueue([{ key: 'EV-GONE', data: { eventId: 'EV-GONE' } }]);
        worker.nudge();
        await done;
        await vi.waitFor(() => expect(errors.some((m) => m.includes('Cannot use a pool after calling end'))).toBe(true), { timeout: 5_000 });
        await worker.stop();
        await jobs.stop();
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('gives a job back while its event is unfinished, and takes it up again until the event is done', async () => {
      await setup();
      const jobs = await replicaJobs();
      // The first passes find nothing to do (the event waits for a retry, or another replica holds it).
      const processing = fakeProcessing((pass) => (pass >= 2 ? ['EV-R'] : []));
      processing.states.set('EV-R', 'pending');
      const worker = started(startEventJobs({ ...processing, queue: jobs.pagerdutyEvents, unfinished: none, clock, logger: silent }));
      await jobs.pagerdutyEvents.enqueue([{ key: 'EV-R', data: { eventId: 'EV-R' } }]);
      worker.wake();

      await vi.waitFor(async () => expect((await jobRows()).map((j) => j.state)).toEqual(['completed']), { timeout: 15_000, interval: 50 });
      expect(processing.states.get('EV-R')).toBe('processed');
      const [job] = await jobRows();
      expect(job).toMatchObject({ event_id: 'EV-R', retry_count: 1 });
    });
  });
});
