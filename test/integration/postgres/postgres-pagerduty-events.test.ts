// The PagerDuty event store on PostgreSQL answers exactly as the SQLite store does after the same steps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewPagerdutyEvent } from '../../../src/core/pagerduty/pagerduty-event-store.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresPagerdutyEvents } from '../../../src/storage/postgres/postgres-pagerduty-events.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { Store } from '../../../src/storage/store.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const KEY = 'p'.repeat(40);
const T0 = 1_760_000_000_000;

const event = (seq: number, over: Partial<NewPagerdutyEvent> = {}): NewPagerdutyEvent => ({
  receivedSeq: seq,
  eventId: `E${seq}`,
  webhookId: `W${seq}`,
  eventType: 'incident.triggered',
  pdIncidentId: 'PD1',
  serviceId: 'S1',
  serviceName: 'checkout',
  agent: 'P1',
  occurredAt: '2026-01-01T00:00:00Z',
  body: `{"event":${seq}}`,
  receivedAt: T0 + seq,
  state: 'pending',
  outcome: null,
  ...over,
});

describe('PostgresPagerdutyEvents', () => {
  let db: TestDatabase;
  let pool: Pool;
  let pg: PostgresPagerdutyEvents;
  let pgAudit: PostgresAuditLog;
  let sqlite: Store;
  beforeAll(async () => {
    db = await testDatabase('pd_events');
    pool = createPool(db, { max: 2 });
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    const session = new PostgresUnitOfWork(pool);
    pg = new PostgresPagerdutyEvents(session);
    pgAudit = new PostgresAuditLog(session, KEY, { now: () => T0 });
    sqlite = Store.create({ file: ':memory:', auditKey: KEY, clock: { now: () => T0 } });
  });
  afterAll(async () => {
    sqlite.close();
    await pool.end();
    await db.drop();
  });

  it('stores events, finds redeliveries, tracks state, attempts and triggers as on SQLite', async () => {
    const both = async <T>(onPg: () => Promise<T>, onSqlite: () => T | Promise<T>): Promise<T> => {
      const [a, b] = [await onPg(), await onSqlite()];
      expect(a).toEqual(b);
      return a;
    };
    for (let i = 0; i < 3; i += 1) {
      await pgAudit.append({ actor: 'pagerduty:S1', source: 'pagerduty', kind: 'pagerduty.received', payload: { i } });
      await sqlite.audit.append({ actor: 'pagerduty:S1', source: 'pagerduty', kind: 'pagerduty.received', payload: { i } });
    }
    await both(
      () => pg.insert(event(1)),
      () => sqlite.pagerdutyEvents.insert(event(1)),
    );
    await both(
      () => pg.insert(event(2, { webhookId: null, state: 'ignored', outcome: 'not ours' })),
      () => sqlite.pagerdutyEvents.insert(event(2, { webhookId: null, state: 'ignored', outcome: 'not ours' })),
    );
    await both(
      () => pg.insert(event(3, { state: 'applied' })),
      () => sqlite.pagerdutyEvents.insert(event(3, { state: 'applied' })),
    );

    expect(
      await both(
        () => pg.findDuplicate('E9', 'W1'),
        () => sqlite.pagerdutyEvents.findDuplicate('E9', 'W1'),
      ),
    ).toEqual({ eventId: 'E1', receivedSeq: 1 });
    expect(
      await both(
        () => pg.findDuplicate('E2', null),
        () => sqlite.pagerdutyEvents.findDuplicate('E2', null),
      ),
    ).toEqual({ eventId: 'E2', receivedSeq: 2 });
    expect(
      await both(
        () => pg.findDuplicate('E9', null),
        () => sqlite.pagerdutyEvents.findDuplicate('E9', null),
      ),
    ).toBeUndefined();
    expect(
      (
        await both(
          () => pg.unfinished(10),
          () => sqlite.pagerdutyEvents.unfinished(10),
        )
      ).map((e) => e.eventId),
    ).toEqual(['E1', 'E3']);

    await both(
      () => pg.recordAttempt('E1', T0 + 60_000, 'PagerDuty 503'),
      () => sqlite.pagerdutyEvents.recordAttempt('E1', T0 + 60_000, 'PagerDuty 503'),
    );
    await both(
      () => pg.setState('E3', 'processed', { outcome: 'ran', processedAt: T0 + 9 }),
      () => sqlite.pagerdutyEvents.setState('E3', 'processed', { outcome: 'ran', processedAt: T0 + 9 }),
    );
    for (const id of ['E1', 'E2', 'E3', 'E404'])
      await both(
        () => pg.get(id),
        () => sqlite.pagerdutyEvents.get(id),
      );

    const triggers = [
      { eventId: 'E3', triggerKey: 'restart#b', procedure: 'restart', runId: null, outcome: 'refused' as const, detail: 'denied', at: T0 },
      { eventId: 'E3', triggerKey: 'restart#a', procedure: 'restart', runId: null, outcome: 'failed' as const, detail: null, at: T0 },
    ];
    for (const t of triggers)
      await both(
        () => pg.insertTriggerRun(t),
        () => sqlite.pagerdutyEvents.insertTriggerRun(t),
      );
    expect(
      (
        await both(
          () => pg.triggerRuns('E3'),
          () => sqlite.pagerdutyEvents.triggerRuns('E3'),
        )
      ).map((t) => t.triggerKey),
    ).toEqual(['restart#a', 'restart#b']);
    await both(
      () => pg.triggerRun('E3', 'restart#b'),
      () => sqlite.pagerdutyEvents.triggerRun('E3', 'restart#b'),
    );
    await expect(pg.insertTriggerRun(triggers[0]!)).rejects.toThrow(/duplicate key value violates unique constraint "pagerduty_trigger_runs_pkey"/);
    expect(
      await both(
        () => pg.countByState(),
        () => sqlite.pagerdutyEvents.countByState(),
      ),
    ).toEqual({ pending: 1, applied: 0, processed: 1, ignored: 1, failed: 0 });
  });
});
