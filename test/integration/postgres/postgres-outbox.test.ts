// The outbox on PostgreSQL answers every question exactly as the SQLite outbox does after the same steps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresOutbox } from '../../../src/storage/postgres/postgres-outbox.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { Store } from '../../../src/storage/store.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const KEY = 'o'.repeat(40);
const T0 = 1_760_000_000_000;

describe('PostgresOutbox', () => {
  let db: TestDatabase;
  let pool: Pool;
  let pgOutbox: PostgresOutbox;
  let pgAudit: PostgresAuditLog;
  let sqlite: Store;
  let now = T0;
  beforeAll(async () => {
    db = await testDatabase('outbox');
    pool = createPool(db, { max: 2 });
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    const session = new PostgresUnitOfWork(pool);
    pgOutbox = new PostgresOutbox(session, () => now);
    pgAudit = new PostgresAuditLog(session, KEY, { now: () => now });
    sqlite = Store.create({ file: ':memory:', auditKey: KEY, clock: { now: () => now } });
  });
  afterAll(async () => {
    sqlite.close();
    await pool.end();
    await db.drop();
  });

  it('keeps one head per channel, most urgent class first, with retries, receipts, failures and depth as on SQLite', async () => {
    const both = async <T>(pg: () => Promise<T>, lite: () => T | Promise<T>): Promise<T> => {
      const [a, b] = [await pg(), await lite()];
      expect(a).toEqual(b);
      return a;
    };
    const cause = await both(
      async () => (await pgAudit.append({ actor: 'U1', source: 'slack', kind: 'note.added', payload: {} })).seq,
      async () => (await sqlite.audit.append({ actor: 'U1', source: 'slack', kind: 'note.added', payload: {} })).seq,
    );
    const items = [
      { target: 'slack' as const, channel: 'C0B', body: { text: 'routine note' } },
      { target: 'slack' as const, channel: 'C0B', body: { text: 'run started', kind: 'run.started', data: { runId: 'R-1' } } },
      { target: 'slack' as const, channel: 'C0A', body: { text: 'declared', kind: 'incident.declared' } },
      { target: 'slack' as const, channel: 'C0A', body: { text: 'second' } },
      { target: 'pagerduty' as const, channel: 'incident:INC-1', body: { action: 'ack' } },
    ];
    for (const item of items) {
      now += 1;
      await both(
        () => pgOutbox.enqueue({ causeSeq: cause, ...item }),
        () => sqlite.outbox.enqueue({ causeSeq: cause, ...item }),
      );
    }
    const heads = await both(
      () => pgOutbox.due('slack', now, 10),
      () => sqlite.outbox.due('slack', now, 10),
    );
    expect(heads.map((h) => h.body)).toEqual([
      { text: 'run started', kind: 'run.started', data: { runId: 'R-1' } },
      { text: 'declared', kind: 'incident.declared' },
    ]);
    await both(
      () => pgOutbox.depth(),
      () => sqlite.outbox.depth(),
    );
    await both(
      () => pgOutbox.depth('pagerduty'),
      () => sqlite.outbox.depth('pagerduty'),
    );

    const [runStarted, declared] = heads;
    await both(
      () => pgOutbox.markSent(runStarted!.id, now, 'C0B:1.2'),
      () => sqlite.outbox.markSent(runStarted!.id, now, 'C0B:1.2'),
    );
    await both(
      () => pgOutbox.markRetry(declared!.id, now + 5_000, 'rate limited'),
      () => sqlite.outbox.markRetry(declared!.id, now + 5_000, 'rate limited'),
    );
    const after = await both(
      () => pgOutbox.due('slack', now, 10),
      () => sqlite.outbox.due('slack', now, 10),
    );
    expect(after.map((h) => h.body)).toEqual([{ text: 'routine note' }]);
    expect(
      await both(
        () => pgOutbox.nextAttemptAfter('slack', now),
        () => sqlite.outbox.nextAttemptAfter('slack', now),
      ),
    ).toBe(now + 5_000);
    expect(
      await both(
        () => pgOutbox.receipt('slack', 'run.started:R-1'),
        () => sqlite.outbox.receipt('slack', 'run.started:R-1'),
      ),
    ).toEqual({ receipt: 'C0B:1.2', sentAt: now });
    await both(
      () => pgOutbox.receipt('slack', 'run.started:R-9'),
      () => sqlite.outbox.receipt('slack', 'run.started:R-9'),
    );
    await both(
      () => pgOutbox.markFailed(after[0]!.id, 'x'.repeat(2000)),
      () => sqlite.outbox.markFailed(after[0]!.id, 'x'.repeat(2000)),
    );
    expect(
      await both(
        () => pgOutbox.due('slack', now + 5_000, 10),
        () => sqlite.outbox.due('slack', now + 5_000, 10),
      ),
    ).toHaveLength(1);
    expect(
      await both(
        () => pgOutbox.depth('slack'),
        () => sqlite.outbox.depth('slack'),
      ),
    ).toBe(2);
    expect((await pool.query("SELECT length(last_error) AS n FROM outbox WHERE state = 'failed'")).rows).toEqual([{ n: 1000 }]);
  });
});
