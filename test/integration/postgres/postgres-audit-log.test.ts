// The audit chain on PostgreSQL: gapless under concurrent writers, append-only, the same hashes as SQLite.
import { collect } from '../../helpers/collect.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { Store } from '../../../src/storage/store.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const KEY = 'k'.repeat(40);
const fixedClock = (start = 1_700_000_000_000) => {
  let t = start;
  return { now: () => (t += 7) };
};

describe('PostgresAuditLog', () => {
  const dbs: TestDatabase[] = [];
  const pools: Pool[] = [];
  const migrated = async (label: string): Promise<TestDatabase> => {
    const db = await testDatabase(label);
    dbs.push(db);
    const p = pool(db);
    await migratePostgres(p, readMigrations(postgresMigrationsDir()));
    return db;
  };
  const pool = (db: TestDatabase, max = 4): Pool => {
    const p = createPool(db, { max });
    pools.push(p);
    return p;
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(dbs.map((d) => d.drop()));
  });

  describe('with 800 appends racing from four pools', () => {
    let db: TestDatabase;
    let logs: PostgresAuditLog[];
    let settled: PromiseSettledResult<unknown>[];
    beforeAll(async () => {
      db = await migrated('concurrent');
      logs = [0, 1, 2, 3].map(() => new PostgresAuditLog(new PostgresUnitOfWork(pool(db)), KEY, { now: () => Date.now() }));
      settled = await Promise.allSettled(
        logs.flatMap((log, w) =>
          Array.from(
            { length: 200 },
            async (_, i) => await log.append({ actor: `U${w}`, source: 'slack', kind: 'note.added', incidentId: `inc-${w}`, payload: { writer: w, i } }),
          ),
        ),
      );
    }, 120_000);

    it("numbers the rows 1..800 with no gap or repeat, every writer's 200 rows among them", async () => {
      expect(settled.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))).toEqual([]);
      const p = pool(db, 1);
      const seqs = (await p.query<{ seq: number }>('SELECT seq FROM audit_log ORDER BY seq')).rows.map((r) => r.seq);
      expect(seqs).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
      const perWriter = (await p.query<{ actor: string; n: number }>('SELECT actor, COUNT(*) AS n FROM audit_log GROUP BY actor ORDER BY actor')).rows;
      expect(perWriter).toEqual([0, 1, 2, 3].map((w) => ({ actor: `U${w}`, n: 200 })));
    });

    it('links every row to the one before: the chain verifies from any pool, ending at the head', async () => {
      const verdict = await logs[3]!.verify();
      expect(verdict).toMatchObject({ ok: true, count: 800, lastSeq: 800 });
      expect(verdict.ok && verdict.lastHash).toBe((await logs[0]!.head()).hash);
    });
  });

  describe('append-only', () => {
    let db: TestDatabase;
    let p: Pool;
    let log: PostgresAuditLog;
    beforeAll(async () => {
      db = await migrated('append_only');
      p = pool(db);
      log = new PostgresAuditLog(new PostgresUnitOfWork(p), KEY, fixedClock());
      for (let i = 0; i < 5; i += 1)
        await log.append({ actor: 'U1', source: 'cli', kind: 'note.added', incidentId: 'inc-1', payload: { text: `note ${i}` } });
    });

    it('refuses UPDATE, DELETE and TRUNCATE of audit rows, leaving them as they were', async () => {
      await expect(p.query("UPDATE audit_log SET actor = 'U9' WHERE seq = 2")).rejects.toThrow(/audit_log is append-only/);
      await expect(p.query('DELETE FROM audit_log WHERE seq = 5')).rejects.toThrow(/audit_log is append-only/);
      await expect(p.query('TRUNCATE audit_log CASCADE')).rejects.toThrow(/audit_log is append-only/);
      expect((await p.query('SELECT COUNT(*) AS n FROM audit_log')).rows[0]).toEqual({ n: 5 });
      expect((await p.query('SELECT actor FROM audit_log WHERE seq = 2')).rows[0]).toEqual({ actor: 'U1' });
      expect(await log.verify()).toMatchObject({ ok: true, count: 5 });
    });

    it('names the row a superuser changed with the trigger disabled', async () => {
      await p.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
      await p.query(`UPDATE audit_log SET payload = '{"text":"rewritten"}' WHERE seq = 3`);
      expect(await log.verify()).toEqual({ ok: false, seq: 3, reason: 'hash does not match the row (altered, or another key)', count: 2 });
      await p.query(`UPDATE audit_log SET payload = '{"text":"note 2"}' WHERE seq = 3`);
      await p.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
      expect(await log.verify()).toMatchObject({ ok: true, count: 5 });
    });

    it('notices rows cut off the end with the trigger disabled', async () => {
      await p.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_delete');
      await p.query('DELETE FROM audit_log WHERE seq = 5');
      await p.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_delete');
      expect(await log.verify()).toEqual({
        ok: false,
        seq: 5,
        reason: 'the chain head records seq 5 but the log ends at 4: rows were cut off the end',
        count: 4,
      });
    });
  });

  it("writes the same rows and hashes as the SQLite audit log for the same events, so either verifies the other's chain", async () => {
    const db = await migrated('same_chain');
    const pgLog = new PostgresAuditLog(new PostgresUnitOfWork(pool(db)), KEY, fixedClock());
    const sqlite = Store.create({ file: ':memory:', auditKey: KEY, clock: fixedClock() });
    try {
      const events = [
        {
          actor: 'U1',
          source: 'slack',
          kind: 'incident.declared',
          incidentId: 'inc-1',
          payload: { title: 'DB down', sev: 1, nested: { b: 2, a: [1, 'é'] } },
        },
        { actor: 'system', source: 'system', kind: 'policy.reloaded', payload: { hash: 'abc' } },
        { actor: 'U2', source: 'slack', kind: 'note.added', incidentId: 'inc-1', payload: { text: 'quote " and \\u2028 newline\n' } },
      ];
      for (const e of events) {
        const a = await pgLog.append(e);
        const b = await sqlite.audit.append(e);
        expect(a).toEqual(b);
      }
      expect(await pgLog.head()).toEqual(await sqlite.audit.head());
      expect(await pgLog.bySeq(1)).toEqual(await sqlite.audit.bySeq(1));
      expect(await pgLog.recentForIncident('inc-1', 5)).toEqual(await sqlite.audit.recentForIncident('inc-1', 5));
      expect(await pgLog.lastWithoutIncident('policy.reloaded')).toEqual(await sqlite.audit.lastWithoutIncident('policy.reloaded'));
      expect(await pgLog.lastTime('inc-1', ['note.added'])).toBe(await sqlite.audit.lastTime('inc-1', ['note.added']));
      expect(await collect(pgLog.transcriptRows('inc-1', { kinds: ['note.added'] }))).toEqual([
        ...(await collect(sqlite.audit.transcriptRows('inc-1', { kinds: ['note.added'] }))),
      ]);
      expect(await pgLog.verify()).toEqual(await sqlite.audit.verify());
    } finally {
      sqlite.close();
    }
  });

  it('rolls an append back with the transaction it was made in, and the next one takes its seq', async () => {
    const db = await migrated('rollback');
    const session = new PostgresUnitOfWork(pool(db));
    const log = new PostgresAuditLog(session, KEY, fixedClock());
    await log.append({ actor: 'U1', source: 'cli', kind: 'a', payload: {} });
    await expect(
      session.transaction(async () => {
        await log.append({ actor: 'U1', source: 'cli', kind: 'b', payload: {} });
        throw new Error('caller failed');
      }),
    ).rejects.toThrow('caller failed');
    const next = await log.append({ actor: 'U1', source: 'cli', kind: 'c', payload: {} });
    expect(next.seq).toBe(2);
    expect(await log.verify()).toMatchObject({ ok: true, count: 2 });
  });
});
