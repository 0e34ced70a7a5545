// The run store on PostgreSQL answers as the SQLite store does, and a lease is held by one run across replicas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../../src/core/runs/run.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresRunStore } from '../../../src/storage/postgres/postgres-run-store.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { SqliteRunStore } from '../../../src/storage/sqlite-run-store.js';
import { Store } from '../../../src/storage/store.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const T0 = 1_760_000_000_000;

const run = (n: number, over: Partial<Run> = {}): Run => ({
  id: `R-${n}`,
  number: n,
  procedure: 'restart',
  environment: 'prod',
  incidentId: null,
  channel: 'C0OPS',
  requestedBy: 'U1',
  requestedGroups: ['S1'],
  source: 'slack',
  params: { service: 'checkout', count: 2 },
  binding: 'b'.repeat(64),
  state: 'queued',
  approval: null,
  approvalExpiresAt: null,
  concurrencyKey: 'restart:prod',
  createdAt: T0 + n,
  startedAt: null,
  finishedAt: null,
  pgid: null,
  ownerPid: null,
  error: null,
  ...over,
});

describe('PostgresRunStore', () => {
  let db: TestDatabase;
  let pool: Pool;
  let pg: PostgresRunStore;
  let sqlite: Store;
  let lite: SqliteRunStore;
  beforeAll(async () => {
    db = await testDatabase('runs');
    pool = createPool(db, { max: 4 });
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    pg = new PostgresRunStore(new PostgresUnitOfWork(pool));
    sqlite = Store.create({ file: ':memory:', auditKey: 'r'.repeat(40), clock: { now: () => T0 } });
    lite = new SqliteRunStore(sqlite.db);
  });
  afterAll(async () => {
    sqlite.close();
    await pool.end();
    await db.drop();
  });

  it('stores runs, steps, approvals and leases and reads them back as the SQLite store does', async () => {
    const both = async <T>(onPg: () => Promise<T>, onSqlite: () => T | Promise<T>): Promise<T> => {
      const [a, b] = [await onPg(), await onSqlite()];
      expect(a).toEqual(b);
      return a;
    };
    for (const r of [run(1), run(2, { state: 'pending_approval', approvalExpiresAt: T0 + 900_000 }), run(3, { state: 'succeeded', finishedAt: T0 + 9 })]) {
      await both(
        () => pg.insert(r),
        () => lite.insert(r),
      );
    }
    const started = run(1, { state: 'running', startedAt: T0 + 5, pgid: 4242, ownerPid: 99 });
    await both(
      () => pg.save(started),
      () => lite.save(started),
    );
    expect(
      await both(
        () => pg.get('R-1'),
        () => lite.get('R-1'),
      ),
    ).toEqual(started);
    expect(
      (
        await both(
          () => pg.active(),
          () => lite.active(),
        )
      ).map((r) => r.id),
    ).toEqual(['R-1']);
    expect(
      (
        await both(
          () => pg.pendingApproval(),
          () => lite.pendingApproval(),
        )
      ).map((r) => r.id),
    ).toEqual(['R-2']);
    expect(
      await both(
        () => pg.nextNumber(),
        () => lite.nextNumber(),
      ),
    ).toBe(4);

    const step = {
      runId: 'R-1',
      index: 0,
      name: 'restart',
      kind: 'run' as const,
      outcome: 'running',
      exitCode: null,
      httpStatus: null,
      startedAt: T0,
      finishedAt: T0,
      output: '',
      truncatedBytes: 0,
      error: null,
    };
    await both(
      () => pg.saveStep(step),
      () => lite.saveStep(step),
    );
    const done = { ...step, outcome: 'ok', exitCode: 0, finishedAt: T0 + 3, output: 'restarted\n', truncatedBytes: 12 };
    await both(
      () => pg.saveStep(done),
      () => lite.saveStep(done),
    );
    expect(
      await both(
        () => pg.steps('R-1'),
        () => lite.steps('R-1'),
      ),
    ).toEqual([done]);

    for (const approver of ['U9', 'U10']) {
      const a = { runId: 'R-2', approver, decision: 'approve' as const, at: T0 + 7, binding: 'b'.repeat(64), reason: null };
      await both(
        () => pg.addApproval(a),
        () => lite.addApproval(a),
      );
    }
    expect(
      (
        await both(
          () => pg.approvals('R-2'),
          () => lite.approvals('R-2'),
        )
      ).map((a) => a.approver),
    ).toEqual(['U10', 'U9']);

    await both(
      () => pg.acquireLease('restart:prod', 'R-1', T0),
      () => lite.acquireLease('restart:prod', 'R-1', T0),
    );
    expect(
      await both(
        () => pg.leaseHolder('restart:prod'),
        () => lite.leaseHolder('restart:prod'),
      ),
    ).toBe('R-1');
    await both(
      () => pg.releaseLease('restart:prod', 'R-3'),
      () => lite.releaseLease('restart:prod', 'R-3'),
    );
    expect(
      await both(
        () => pg.leaseHolder('restart:prod'),
        () => lite.leaseHolder('restart:prod'),
      ),
    ).toBe('R-1');
    await both(
      () => pg.releaseLease('restart:prod', 'R-1'),
      () => lite.releaseLease('restart:prod', 'R-1'),
    );
    expect(
      await both(
        () => pg.leaseHolder('restart:prod'),
        () => lite.leaseHolder('restart:prod'),
      ),
    ).toBeUndefined();
  });

  it('lets exactly one of two replicas take a lease both try for at once', async () => {
    const other = new PostgresRunStore(new PostgresUnitOfWork(pool));
    const results = await Promise.allSettled([pg.acquireLease('deploy:prod', 'R-1', T0), other.acquireLease('deploy:prod', 'R-2', T0)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason)).toMatch(
      /duplicate key value violates unique constraint "leases_pkey"/,
    );
    expect(['R-1', 'R-2']).toContain(await pg.leaseHolder('deploy:prod'));
  });
});
