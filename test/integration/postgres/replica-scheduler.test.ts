// Scheduled tasks with two replicas on one PostgreSQL database: a reminder tick and a `schedule:` tick run by both fire once.
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
import { postgresTickClaim } from '../../../src/storage/postgres/schedule-claims.js';
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
  await Promise.all(pools.map((p) => p.end()));
  [schedulers, pools] = [[], []];
  await db.drop();
});

interface Replica {
  id: string;
  incidents: IncidentService;
  runs: RunService;
  scheduler: Scheduler;
  steps: string[][];
}

/** One replica: its own pool and repositories, the services the scheduler calls, and its scheduler with ticks claimed on the database. */
async function replica(name: string, options: { beforeRemind?: () => Promise<void> } = {}): Promise<Replica> {
  const pool = createPool(db, { max: 4 });
  pools.push(pool);
  const session = new PostgresUnitOfWork(pool);
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
  const scheduler = startReplicaScheduler({
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
    claim: postgresTickClaim(pool, id),
  });
  // Only the ticks the test drives run: node-cron's own timers, on the wall clock, are stopped.
  await scheduler.stop();
  schedulers.push(scheduler);
  return { id, incidents, runs, scheduler, steps };
}

const rows = async <T extends object>(text: string, params: unknown[] = []): Promise<T[]> => (await pools[0]!.query<T>(text, params)).rows;
const kinds = async (kind: string) => rows<{ seq: number }>('SELECT seq FROM audit_log WHERE kind = $1', [kind]);

describe('scheduled ticks with two replicas', () => {
  it('post each due reminder once when the replicas run the reminder tick at the same moment', async () => {
    // Every replica that decides to post holds there until each replica has either decided to post or
    // finished its tick: without a claim all of them would post, with one only the claimant gets there.
    let atRemind = 0;
    let finished = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const beforeRemind = async (): Promise<void> => {
      atRemind += 1;
      await released;
    };
    const replicas = [await replica('a', { beforeRemind }), await replica('b', { beforeRemind }), await replica('c', { beforeRemind })];
    for (const n of [1, 2]) await replicas[0]!.incidents.declare(SRE, { title: `Checkout down ${n}`, severity: 1 });
    clock.advance(15 * MIN);

    const ticks = replicas.map((r) => r.scheduler.run('reminders').finally(() => (finished += 1)));
    await vi.waitFor(() => expect(atRemind + finished).toBe(replicas.length), { timeout: 10_000, interval: 10 });
    release();
    await Promise.all(ticks);

    const reminded = await rows<{ incident_id: string }>("SELECT incident_id FROM audit_log WHERE kind = 'incident.reminder' ORDER BY incident_id");
    expect(reminded.map((r) => r.incident_id)).toEqual(['INC-1', 'INC-2']);
    expect(await rows("SELECT channel FROM outbox WHERE body LIKE '%incident.reminder%'")).toHaveLength(2);
    const claims = await rows<{ task: string; slot: number; replica_id: string }>('SELECT task, slot, replica_id FROM schedule_claims');
    expect(claims).toHaveLength(1);
    expect(claims[0]).toMatchObject({ task: 'reminders', slot: Date.parse('2026-05-01T03:14:00Z') });
    expect(replicas.map((r) => r.id)).toContain(claims[0]!.replica_id);
  });

  it('start a scheduled procedure once per tick, whichever replicas run it and however late, and again at the next tick', async () => {
    const [a, b] = [await replica('a'), await replica('b')];
    clock.advance(30_000); // 03:00:00, when the entry is due
    const task = 'procedure:nightly-check#0';

    await Promise.all([a.scheduler.run(task), b.scheduler.run(task)]);
    await Promise.all([a.runs.idle(), b.runs.idle()]);
    // The same tick run again later in its minute, after the first run ended and freed its lease.
    clock.advance(40_000);
    await b.scheduler.run(task);
    await b.runs.idle();

    expect(await rows('SELECT id, state, requested_by FROM runs')).toEqual([{ id: 'R-1', state: 'succeeded', requested_by: 'scheduler' }]);
    expect([...a.steps, ...b.steps]).toEqual([['/usr/bin/check']]);
    expect(await kinds('run.requested')).toHaveLength(1);

    // The next tick is another slot: it fires (here the test drives it a minute on).
    clock.advance(MIN);
    await Promise.all([a.scheduler.run(task), b.scheduler.run(task)]);
    await Promise.all([a.runs.idle(), b.runs.idle()]);
    expect(await rows('SELECT id FROM runs ORDER BY number')).toEqual([{ id: 'R-1' }, { id: 'R-2' }]);
  });

  it('still run every tick on one replica alone', async () => {
    const a = await replica('a');
    await a.incidents.declare(SRE, { title: 'Checkout down', severity: 1 });
    clock.advance(15 * MIN);
    await a.scheduler.run('reminders');
    clock.advance(MIN);
    await a.scheduler.run('approval-expiry');
    expect(await kinds('incident.reminder')).toHaveLength(1);
    expect((await rows<{ task: string }>('SELECT task FROM schedule_claims ORDER BY task')).map((c) => c.task)).toEqual(['approval-expiry', 'reminders']);
  });
});
