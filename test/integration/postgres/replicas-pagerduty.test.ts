// Two replicas on one PostgreSQL database: each PagerDuty event is processed once, whichever replica stored it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEventWorker } from '../../../src/adapters/pagerduty/event-worker.js';
import { createIncidentService } from '../../../src/core/incidents/incident-service.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { parsePagerdutyEvent } from '../../../src/core/pagerduty/pagerduty-event.js';
import { createPagerdutyInbox, type ReceiveResult } from '../../../src/core/pagerduty/pagerduty-inbox.js';
import { createPagerdutyProcessor, REPLICA_CLAIM_MS, type PagerdutyProcessor } from '../../../src/core/pagerduty/pagerduty-processor.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import type { Run } from '../../../src/core/runs/run.js';
import type { RunService } from '../../../src/core/runs/run-service.js';
import { createLogger } from '../../../src/log.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { PostgresIncidentStore } from '../../../src/storage/postgres/postgres-incident-store.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresOutbox } from '../../../src/storage/postgres/postgres-outbox.js';
import { PostgresPagerdutyEvents } from '../../../src/storage/postgres/postgres-pagerduty-events.js';
import { PostgresRunStore } from '../../../src/storage/postgres/postgres-run-store.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { triggeredBody } from '../pagerduty/pd-harness.js';

const KEY = 'r'.repeat(40);
const T0 = 1_760_000_000_000;

/** A diagnostic every triggered event starts once: the fake run service below records each request. */
const DIAG = ProcedureSchema.parse({
  name: 'diag-echo',
  description: 'Looks at the service',
  owner: '@test',
  environments: ['prod'],
  steps: [{ name: 'look', run: ['/bin/true'] }],
  triggers: [{ pagerduty: { event: 'incident.triggered' } }],
});
const catalog = () => ({ procedures: new Map([[DIAG.name, DIAG]]) });

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

interface Hooks {
  /** Awaited inside the processing transaction, when the processor looks the incident up. */
  onLookup?: (replica: string, pdIncidentId: string) => Promise<void>;
  /** Awaited when the processor asks for a triggered run, before anything is recorded. */
  onRequest?: (replica: string) => Promise<void>;
}

interface Replica {
  name: string;
  pool: Pool;
  receive: (body: string) => Promise<ReceiveResult>;
  processor: PagerdutyProcessor;
  /** Runs this replica's processor asked for. */
  requests: string[];
  /** Errors its processor reported for single events. */
  errors: unknown[];
}

describe('PagerDuty processing across two replicas on PostgreSQL', () => {
  let db: TestDatabase;
  let a: Replica;
  let b: Replica;
  let now = T0;
  const clock = { now: () => now };
  const hooks: Hooks = {};
  let runNumber = 0;

  function replica(name: string): Replica {
    const pool = createPool(db, { max: 4, applicationName: `edgeops-${name}` });
    const uow = new PostgresUnitOfWork(pool);
    const audit = new PostgresAuditLog(uow, KEY, clock);
    const incidentStore = new PostgresIncidentStore(uow);
    const events = new PostgresPagerdutyEvents(uow);
    const runStore = new PostgresRunStore(uow);
    const incidents = createIncidentService({ uow, audit, incidents: incidentStore, outbox: new PostgresOutbox(uow, clock.now), clock });
    const findByPagerdutyId = async (id: string): Promise<Incident | undefined> => {
      await hooks.onLookup?.(name, id);
      return incidentStore.byPagerdutyId(id);
    };
    const requests: string[] = [];
    const errors: unknown[] = [];
    // The run service's part that matters here: the run and its trigger record commit together.
    const runs: Pick<RunService, 'request'> = {
      async request(by, input) {
        await hooks.onRequest?.(name);
        runNumber += 1;
        const run: Run = {
          id: `R-${runNumber}`,
          number: runNumber,
          procedure: input.procedure,
          environment: input.environment ?? 'prod',
          incidentId: input.incidentId ?? null,
          channel: null,
          requestedBy: by.actor.id,
          requestedGroups: [],
          source: by.source,
          params: {},
          binding: 'b'.repeat(64),
          state: 'queued',
          approval: null,
          approvalExpiresAt: null,
          concurrencyKey: `diag:${runNumber}`,
          createdAt: clock.now(),
          startedAt: null,
          finishedAt: null,
          pgid: null,
          ownerPid: null,
          error: null,
        };
        await uow.transaction(async () => {
          await runStore.insert(run);
          await input.onCreated?.(run);
        });
        requests.push(`${input.procedure} for ${input.incidentId ?? '-'}`);
        return { kind: 'run', run, done: null };
      },
    };
    const inbox = createPagerdutyInbox({ uow, audit, events, findByPagerdutyId });
    const processor = createPagerdutyProcessor({
      uow,
      audit,
      events,
      incidents,
      findByPagerdutyId,
      runs,
      catalog,
      clock,
      claimMs: REPLICA_CLAIM_MS,
      onError: (err) => errors.push(err),
    });
    const receive = async (body: string): Promise<ReceiveResult> => {
      const parsed = parsePagerdutyEvent(JSON.parse(body) as unknown);
      if (!parsed.ok) throw new Error(parsed.problem);
      const [result] = await inbox.receive([{ event: parsed.event, body, webhookId: `W-${parsed.event.id}` }]);
      return result!;
    };
    return { name, pool, receive, processor, requests, errors };
  }

  beforeAll(async () => {
    db = await testDatabase('replicas_pd');
    const pool = createPool(db, { max: 1 });
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    await pool.end();
    a = replica('a');
    b = replica('b');
  });
  beforeEach(() => {
    a.errors.length = 0;
    b.errors.length = 0;
  });
  afterAll(async () => {
    await a.pool.end();
    await b.pool.end();
    await db.drop();
  });

  const one = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => (await a.pool.query(sql, params)).rows as T[];

  it('stores each event once from ten deliveries spread over both replicas, and both workers running process it once: one incident, one run', async () => {
    const logger = createLogger({ level: 'silent' });
    const workers = [a, b].map((r) => ({ replica: r, worker: startEventWorker({ processor: r.processor, logger, clock, idlePollMs: 5 }) }));
    const pdIds = ['PLOOP1', 'PLOOP2', 'PLOOP3', 'PLOOP4'];
    const bodies = pdIds.map((id) => triggeredBody(id, { id: `EV-${id}` }));
    const results: ReceiveResult[] = [];
    try {
      for (let delivery = 0; delivery < 10; delivery += 1) {
        for (const [i, body] of bodies.entries()) {
          const { replica, worker } = workers[(delivery + i) % 2]!;
          results.push(await replica.receive(body));
          worker.wake();
        }
      }
      for (;;) {
        await Promise.all(workers.map((w) => w.worker.idle()));
        const [left] = await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM pagerduty_events WHERE state IN ('pending', 'applied')");
        if (left!.n === 0) break;
      }
    } finally {
      await Promise.all(workers.map((w) => w.worker.stop()));
    }
    expect(results.filter((r) => r.kind === 'stored')).toHaveLength(4);
    expect(results.filter((r) => r.kind === 'duplicate')).toHaveLength(36);
    expect(await one('SELECT pagerduty_id FROM incidents ORDER BY pagerduty_id')).toEqual(pdIds.map((id) => ({ pagerduty_id: id })));
    expect([...a.requests, ...b.requests].sort()).toEqual(['diag-echo for INC-1', 'diag-echo for INC-2', 'diag-echo for INC-3', 'diag-echo for INC-4']);
    expect(await one("SELECT COUNT(*)::int AS n FROM pagerduty_trigger_runs WHERE outcome = 'started'")).toEqual([{ n: 4 }]);
    expect(await one('SELECT COUNT(*)::int AS n FROM runs')).toEqual([{ n: 4 }]);
    expect(await one("SELECT event_id, state, outcome, attempts FROM pagerduty_events WHERE event_id LIKE 'EV-PLOOP%' ORDER BY event_id")).toEqual(
      pdIds.map((id) => ({ event_id: `EV-${id}`, state: 'processed', outcome: 'declared', attempts: 0 })),
    );
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('leaves an event alone while the other replica holds it mid-processing: declared once, by the replica that took it', async () => {
    const body = triggeredBody('PHELD', { id: 'EV-HELD' });
    expect((await a.receive(body)).kind).toBe('stored');
    expect((await b.receive(body)).kind).toBe('duplicate');
    const inside = deferred();
    const release = deferred();
    hooks.onLookup = async (replica, pdId) => {
      if (replica !== 'a' || pdId !== 'PHELD') return;
      inside.resolve();
      await release.promise;
    };
    try {
      const passA = a.processor.processDue();
      await inside.promise;
      // Replica a is inside its processing transaction now. Changes are serialised across replicas,
      // so b's pass waits for a's commit (seen waiting on the database-wide lock), then finds the
      // event taken and leaves it.
      const passB = b.processor.processDue();
      await expect
        .poll(async () => (await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))[0]!.n)
        .toBe(1);
      expect(b.requests).not.toContain('diag-echo for INC-5');
      release.resolve();
      expect(await passA).toMatchObject({ processed: 1 });
      expect(await passB).toMatchObject({ processed: 0 });
    } finally {
      hooks.onLookup = undefined;
      release.resolve();
    }
    expect(await one("SELECT id, declared_by FROM incidents WHERE pagerduty_id = 'PHELD'")).toEqual([
      { id: 'INC-5', declared_by: 'pagerduty:Checkout API' },
    ]);
    expect(a.requests).toContain('diag-echo for INC-5');
    expect(b.requests).not.toContain('diag-echo for INC-5');
    expect(await one("SELECT state, attempts FROM pagerduty_events WHERE event_id = 'EV-HELD'")).toEqual([{ state: 'processed', attempts: 0 }]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it("starts no trigger of an event the other replica has applied, until its claim runs out; then takes it up once, as after that replica's death", async () => {
    const body = triggeredBody('PDIED', { id: 'EV-DIED' });
    expect((await b.receive(body)).kind).toBe('stored');
    const requested = deferred();
    // Replica a applies the event, then dies before its trigger's run is recorded: its request never returns.
    hooks.onRequest = async (replica) => {
      if (replica !== 'a') return;
      requested.resolve();
      await new Promise<never>(() => undefined);
    };
    try {
      void a.processor.processDue();
      await requested.promise;
      expect(await one("SELECT state FROM pagerduty_events WHERE event_id = 'EV-DIED'")).toEqual([{ state: 'applied' }]);
      const early = await b.processor.processDue();
      expect(early).toEqual({ processed: 0, more: false, nextAttemptAt: now + REPLICA_CLAIM_MS });
      expect(b.requests).not.toContain('diag-echo for INC-6');

      now += REPLICA_CLAIM_MS;
      expect(await b.processor.processDue()).toMatchObject({ processed: 1 });
    } finally {
      hooks.onRequest = undefined;
    }
    expect(b.requests).toContain('diag-echo for INC-6');
    expect(await one("SELECT COUNT(*)::int AS n FROM incidents WHERE pagerduty_id = 'PDIED'")).toEqual([{ n: 1 }]);
    expect(await one("SELECT outcome, run_id IS NOT NULL AS has_run FROM pagerduty_trigger_runs WHERE event_id = 'EV-DIED'")).toEqual([
      { outcome: 'started', has_run: true },
    ]);
    expect(await one("SELECT state, attempts FROM pagerduty_events WHERE event_id = 'EV-DIED'")).toEqual([{ state: 'processed', attempts: 0 }]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });
});
