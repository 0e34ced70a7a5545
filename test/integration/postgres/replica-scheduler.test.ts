// Scheduled tasks with replicas on one PostgreSQL database: a tick fired by every replica is one pg-boss job, run once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startReplicaScheduler } from '../../../src/adapters/jobs/replica-scheduler.js';
import type { Scheduler } from '../../../src/adapters/scheduler/scheduler.js';
import type { Catalog } from '../../../src/catalog/load-catalog.js';
import { createIncidentService, type IncidentService } from '../../../src/core/incidents/incident-service.js';
import { createReminderService } from '../../../src/core/incidents/reminder-service.js';
import type { Policy } from '../../../src/core/policy/policy.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import { createRunService, type RunService } from '../../../src/core/runs/run-service.js';
import { createLogger } from '../../../src/log.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { PostgresIncidentStore } from '../../../src/storage/postgres/postgres-incident-store.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresOutbox } from '../../../src/storage/postgres/postgres-outbox.js';
import { PostgresRunStore } from '../../../src/storage/postgres/postgres-run-store.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { PostgresJobs, jobId } from '../../../src/storage/postgres/postgres-jobs.js';
import { manualClock } from '../../support/in-memory/core-services.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const KEY = 'k'.repeat(64);
const MIN = 60_000;
const SRE = { actor: { id: 'U0SRE0001', groups: [] }, source: 'slack' as const };

const NIGHTLY = ProcedureSchema.parse({
  name: 'nightly-check',
  description: 'Checks every service',
  owner: '@test',
  environments: ['prod'],
  steps: [{ name: 'check', run: ['/usr/bin/check'] }],
  schedule: [{ cron: '0 3 * * *', channel: 'C0OPS' }],
});
const POLICY: Policy = {
  roles: { sre: { users: [SRE.actor.id] }, robots: { scheduler: true } },
  rules: [
    { roles: ['sre'], allow: ['incident.declare'], source: { file: 'p.yaml', index: 0 } },
    { roles: ['robots'], allow: ['run'], procedures: ['nightly-check'], source: { file: 'p.yaml', index: 1 } },
  ],
};
const CATALOG: Catalog = {
  policy: POLICY,
  policyHash: 'policy-hash',
  commandsHash: 'commands-hash',
  procedures: new Map([[NIGHTLY.name, NIGHTLY]]),
  files: { policies: [], commands: [] },
  policiesDir: '/nonexistent/policies',
  commandsDir: '/nonexistent/commands',
  warnings: [],
};

let db: TestDatabase;
let pools: Pool[] = [];
let schedulers: Scheduler[] = [];
let queues: PostgresJobs[] = [];
/** Both replicas read the same clock, as replicas read one wall clock. */
let clock: ReturnType<typeof manualClock>;

beforeEach(async () => {
  db = await testDatabase('ticks');
  const pool = createPool(db, { max: 2 });
  await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
  await pool.end();
  clock = manualClock(Date.parse('2026-05-01T02:59:30Z'));
});
afterEach(async () => {
  await Promise.all(schedulers.map((s) => s.stop()));
  await Promise.all(queues.map((q) => q.stop()));
  await Promise.all(pools.map((p) => p.end()));
  [schedulers, pools, queues] = [[], [], []];
  await db.drop();
});

interface Replica {
  id: string;
  incidents: IncidentService;
  runs: RunService;
  scheduler: Scheduler;
  steps: string[][];
}

/** One replica: its own pool and repositories, the services the scheduler calls, and its scheduler with ticks queued on pg-boss. */
async function replica(name: string, options: { beforeRemind?: () => Promise<void> } = {}): Promise<Replica> {
  const pool = createPool(db, { max: 4 });
  pools.push(pool);
  const session = new PostgresUnitOfWork(pool);
  const jobs = new PostgresJobs(pool, session);
  queues.push(jobs);
  await jobs.install();
  const id = `replica-${name}`;
  const audit = new PostgresAuditLog(session, KEY, clock);
  const outbox = new PostgresOutbox(session, clock.now);
  const incidents = createIncidentService({ uow: session, audit, incidents: new PostgresIncidentStore(session), outbox, clock });
  const steps: string[][] = [];
  const runs = createRunService({
    uow: session,
    audit,
    runs: new PostgresRunStore(session, id),
    outbox,
    clock,
    catalog: () => CATALOG,
    findIncident: (incidentId) => incidents.find(incidentId),
    secretEnv: {},
    programs: { digest: () => null },
    steps: {
      process: async (request) => {
        steps.push(request.argv);
        return { outcome: 'succeeded', exitCode: 0, signal: null, output: 'ok\n', chunks: [], truncatedBytes: 0, durationMs: 1, pid: 4242 };
      },
      http: () => Promise.reject(new Error('no HTTP steps here')),
    },
    pid: 1,
    isAlive: () => true,
    killGroup: () => undefined,
  });
  const remindVia: IncidentService = {
    ...incidents,
    remind: async (...args) => {
      await options.beforeRemind?.();
      return incidents.remind(...args);
    },
  };
  const reminders = createReminderService({ audit, incidents: remindVia, clock, policy: () => POLICY });
  // Only the ticks the test drives fire (node-cron's timers, on the wall clock, are not started); each replica's worker runs.
  const scheduler = await startReplicaScheduler({
    app: {
      runs,
      reminders,
      auditAnchor: undefined,
      catalog: () => CATALOG,
      notifyMessages: () => undefined,
      clock,
      config: { auditAnchorChannel: undefined },
    },
    logger: createLogger({ level: 'silent' }),
    ticks: jobs.ticks,
    timers: false,
  });
  schedulers.push(scheduler);
  return { id, incidents, runs, scheduler, steps };
}

const rows = async <T extends object>(text: string, params: unknown[] = []): Promise<T[]> => (await pools[0]!.query<T>(text, params)).rows;
const kinds = async (kind: string) => rows<{ seq: number }>('SELECT seq FROM audit_log WHERE kind = $1', [kind]);

const TICKS = 'edgeops.scheduled-ticks';
/** The tick jobs on pg-boss's queue: task, slot and state, in task order. */
const tickJobs = async (): Promise<Array<{ id: string; task: string; slot: number; state: string }>> =>
  rows(
    "SELECT id::text AS id, data->>'task' AS task, (data->>'slot')::bigint AS slot, state::text AS state FROM pgboss.job WHERE name = $1 ORDER BY data->>'task', (data->>'slot')::bigint",
    [TICKS],
  );
/** Until every tick job queued has run to its end. */
const ticksDone = (count: number): Promise<void> =>
  vi.waitFor(
    async () => {
      const jobs = await tickJobs();
      expect(jobs).toHaveLength(count);
      expect(jobs.every((j) => j.state === 'completed')).toBe(true);
    },
    { timeout: 10_000, interval: 20 },
  );

describe('scheduled ticks with several replicas', () => {
  it('post each due reminder once when every replica fires the reminder tick at the same moment: one job, run by one replica', async () => {
    // The replica running the tick holds before posting until the test has counted the jobs: had
    // each replica queued a job of its own, every one of them would be at the same place by then.
    let atRemind = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const beforeRemind = async (): Promise<void> => {
      atRemind += 1;
      await released;
    };
    const replicas = [await replica('a', { beforeRemind }), await replica('b', { beforeRemind }), await replica('c', { beforeRemind })];
    for (const n of [1, 2]) await replicas[0]!.incidents.declare(SRE, { title: `Checkout down ${n}`, severity: 1 });
    clock.advance(15 * MIN);

    await Promise.all(replicas.map((r) => r.scheduler.run('reminders')));
    const slot = Date.parse('2026-05-01T03:14:00Z');
    await vi.waitFor(() => expect(atRemind).toBeGreaterThan(0), { timeout: 10_000, interval: 10 });
    const queued = await tickJobs();
    expect(queued).toEqual([{ id: jobId(TICKS, `reminders@${slot}`), task: 'reminders', slot, state: 'active' }]);
    expect(atRemind).toBe(1);
    release();
    await ticksDone(1);

    const reminded = await rows<{ incident_id: string }>("SELECT incident_id FROM audit_log WHERE kind = 'incident.reminder' ORDER BY incident_id");
    expect(reminded.map((r) => r.incident_id)).toEqual(['INC-1', 'INC-2']);
    expect(await rows("SELECT channel FROM outbox WHERE body LIKE '%incident.reminder%'")).toHaveLength(2);
    // One replica ran the tick: it reached the post once per incident.
    expect(atRemind).toBe(2);
  });

  it('start a scheduled procedure once per tick, whichever replicas fire it and however late, and again at the next tick', async () => {
    const [a, b] = [await replica('a'), await replica('b')];
    clock.advance(30_000); // 03:00:00, when the entry is due
    const task = 'procedure:nightly-check#0';

    await Promise.all([a.scheduler.run(task), b.scheduler.run(task)]);
    await ticksDone(1);
    await Promise.all([a.runs.idle(), b.runs.idle()]);
    // The same tick fired again later in its minute, after the first run ended and freed its lease.
    clock.advance(40_000);
    await b.scheduler.run(task);
    await ticksDone(1);
    await b.runs.idle();

    expect(await rows('SELECT id, state, requested_by FROM runs')).toEqual([{ id: 'R-1', state: 'succeeded', requested_by: 'scheduler' }]);
    expect([...a.steps, ...b.steps]).toEqual([['/usr/bin/check']]);
    expect(await kinds('run.requested')).toHaveLength(1);

    // The next tick is another slot: it fires (here the test drives it a minute on).
    clock.advance(MIN);
    await Promise.all([a.scheduler.run(task), b.scheduler.run(task)]);
    await ticksDone(2);
    await vi.waitFor(async () => expect(await rows('SELECT id FROM runs ORDER BY number')).toEqual([{ id: 'R-1' }, { id: 'R-2' }]), { timeout: 10_000 });
    await Promise.all([a.runs.idle(), b.runs.idle()]);
  });

  it('still run every tick on one replica alone, each as a job of its own', async () => {
    const a = await replica('a');
    await a.incidents.declare(SRE, { title: 'Checkout down', severity: 1 });
    clock.advance(15 * MIN);
    await a.scheduler.run('reminders');
    clock.advance(MIN);
    await a.scheduler.run('approval-expiry');
    await ticksDone(2);
    expect(await kinds('incident.reminder')).toHaveLength(1);
    expect((await tickJobs()).map((j) => j.task)).toEqual(['approval-expiry', 'reminders']);
  });

  it('skip a tick of a procedure the replica that takes it does not have, and still run the next job', async () => {
    const a = await replica('a');
    await a.scheduler.runTick('procedure:removed-check#0', Date.parse('2026-05-01T03:00:00Z'));
    await a.incidents.declare(SRE, { title: 'Checkout down', severity: 1 });
    clock.advance(15 * MIN);
    await a.scheduler.run('reminders');
    await ticksDone(1);
    expect(await rows('SELECT id FROM runs')).toEqual([]);
    expect(await kinds('incident.reminder')).toHaveLength(1);
  });
});
