// /metrics figures read from PostgreSQL: the same runs, outbox, incident and duration figures as from SQLite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/adapters/metrics/metrics.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import type { MetricsSource } from '../../../src/core/metrics/metrics-source.js';
import type { Run } from '../../../src/core/runs/run.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { PostgresIncidentStore } from '../../../src/storage/postgres/postgres-incident-store.js';
import { postgresMetricsSource } from '../../../src/storage/postgres/postgres-metrics-source.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresOutbox } from '../../../src/storage/postgres/postgres-outbox.js';
import { PostgresRunStore } from '../../../src/storage/postgres/postgres-run-store.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { sqliteMetricsSource } from '../../../src/storage/sqlite-metrics-source.js';
import { Store } from '../../../src/storage/store.js';
import { parsePrometheus } from '../../helpers/prometheus.js';
import { numberedIncident } from '../../helpers/numbered-incident.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const T0 = 1_760_000_000_000;
const KEY = 'm'.repeat(40);

const incident = (n: number, over: Partial<Incident> = {}): Incident => numberedIncident(n, T0, over);

const run = (n: number, procedure: string, state: Run['state']): Run => ({
  id: `R-${n}`,
  number: n,
  procedure,
  environment: 'prod',
  incidentId: null,
  channel: 'C0OPS',
  requestedBy: 'U1',
  requestedGroups: [],
  source: 'slack',
  params: {},
  binding: 'b'.repeat(64),
  state,
  approval: null,
  approvalExpiresAt: null,
  concurrencyKey: `${procedure}:prod`,
  createdAt: T0 + n,
  startedAt: null,
  finishedAt: null,
  pgid: null,
  ownerPid: null,
  error: null,
});

/** Rows in a fixed order: the port promises figures, not an order. */
const sorted = <T>(rows: T[]): T[] => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('postgresMetricsSource', () => {
  let db: TestDatabase;
  let pool: Pool;
  let sqlite: Store;
  let pg: MetricsSource;
  let lite: MetricsSource;
  beforeAll(async () => {
    db = await testDatabase('metrics_source');
    pool = createPool(db, { max: 4 });
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    const session = new PostgresUnitOfWork(pool);
    const clock = { now: () => T0 };
    sqlite = Store.create({ file: ':memory:', auditKey: KEY, clock });

    const incidents = [
      incident(1, { severity: 1, acknowledgedAt: T0 + 90_000 }),
      incident(2, { acknowledgedAt: T0 + 30_000, resolvedAt: T0 + 3_600_000, status: 'resolved' }),
      incident(3, { service: null, resolvedAt: T0 + 7_200_000, status: 'resolved' }),
      incident(4, { private: true, service: 'acquisition-talks', acknowledgedAt: T0 + 60_000, severity: 3 }),
      incident(5, { severity: 3, status: 'monitoring' }),
      incident(6, { service: 'payments', severity: 4 }),
    ];
    const pgIncidents = new PostgresIncidentStore(session);
    for (const i of incidents) {
      await pgIncidents.insert(i);
      await sqlite.incidents.insert({ ...i, roles: { ...i.roles } });
    }

    const runs = [run(1, 'restart', 'succeeded'), run(2, 'restart', 'succeeded'), run(3, 'restart', 'failed'), run(4, 'flush-cache', 'timed_out')];
    const pgRuns = new PostgresRunStore(session);
    for (const r of runs) {
      await pgRuns.insert(r);
      await sqlite.runs.insert(r);
    }

    const cause = { actor: 'system', source: 'system', kind: 'note.added', payload: {} };
    const seq = (await new PostgresAuditLog(session, KEY, clock).append(cause)).seq;
    expect((await sqlite.audit.append(cause)).seq).toBe(seq);
    const pgOutbox = new PostgresOutbox(session, () => T0);
    for (const outbox of [pgOutbox, sqlite.outbox]) {
      const post = (target: 'slack' | 'pagerduty', channel: string) => outbox.enqueue({ causeSeq: seq, target, channel, body: { text: 'x' } });
      await post('slack', 'C1');
      await post('slack', 'C2');
      await post('pagerduty', 'P1');
      await outbox.markSent(await post('slack', 'C1'), T0);
      await outbox.markFailed(await post('slack', 'C3'), 'channel_not_found');
      await outbox.markFailed(await post('pagerduty', 'P2'), 'invalid key');
      await outbox.markFailed(await post('pagerduty', 'P2'), 'invalid key');
    }

    pg = postgresMetricsSource(session);
    lite = sqliteMetricsSource(sqlite.db);
  });
  afterAll(async () => {
    sqlite.close();
    await pool.end();
    await db.drop();
  });

  it('counts runs by procedure and outcome as SQLite does', async () => {
    const onPg = sorted(await pg.runsByOutcome());
    expect(onPg).toEqual(sorted(await lite.runsByOutcome()));
    expect(onPg).toEqual([
      { procedure: 'flush-cache', state: 'timed_out', count: 1 },
      { procedure: 'restart', state: 'failed', count: 1 },
      { procedure: 'restart', state: 'succeeded', count: 2 },
    ]);
  });

  it('counts pending and failed outbox messages by target as SQLite does', async () => {
    const depth = sorted(await pg.outboxDepth());
    expect(depth).toEqual(sorted(await lite.outboxDepth()));
    expect(depth).toEqual([
      { target: 'pagerduty', count: 1 },
      { target: 'slack', count: 2 },
    ]);
    const failed = sorted(await pg.outboxFailed());
    expect(failed).toEqual(sorted(await lite.outboxFailed()));
    expect(failed).toEqual([
      { target: 'pagerduty', count: 2 },
      { target: 'slack', count: 1 },
    ]);
  });

  it('gives open incidents by severity and durations by service, naming no private service, as SQLite does', async () => {
    const open = sorted(await pg.openIncidents());
    expect(open).toEqual(sorted(await lite.openIncidents()));
    expect(open).toEqual([
      { severity: 1, count: 1 },
      { severity: 3, count: 2 },
      { severity: 4, count: 1 },
    ]);
    const durations = sorted(await pg.incidentDurations());
    expect(durations).toEqual(sorted(await lite.incidentDurations()));
    expect(durations).toEqual(
      sorted([
        { service: 'checkout', ttaMs: 90_000, ttrMs: null },
        { service: 'checkout', ttaMs: 30_000, ttrMs: 3_600_000 },
        { service: 'none', ttaMs: null, ttrMs: 7_200_000 },
        { service: 'private', ttaMs: 60_000, ttrMs: null },
      ]),
    );
  });

  it('renders the same /metrics figures from either database', async () => {
    const scrape = async (source: MetricsSource) => parsePrometheus((await createMetrics(source, { defaultMetrics: false }).render()).body);
    const [onPg, onLite] = [await scrape(pg), await scrape(lite)];
    expect(new Map([...onPg].sort())).toEqual(new Map([...onLite].sort()));
    expect(onPg.get('edgeops_procedure_runs_total{procedure="restart",state="succeeded"}')).toBe(2);
    expect(onPg.get('edgeops_time_to_resolve_seconds_sum{service="checkout"}')).toBe(3600);
    expect([...onPg.keys()].some((k) => k.includes('acquisition-talks'))).toBe(false);
  });
});
