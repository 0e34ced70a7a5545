// The asynchronous SQLite unit of work: transactions that await between writes never interleave, and a throw takes back every row.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../src/storage/database.js';
import { SqliteAuditLog } from '../../../src/storage/sqlite-audit-log.js';
import { SqliteUnitOfWork } from '../../../src/storage/sqlite-unit-of-work.js';
import { WalSync, type FileSyncer } from '../../../src/storage/wal-sync.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'k'.repeat(64);
const clock = { now: () => Date.parse('2026-05-01T09:00:00Z') };
const FULL = 2;
const NORMAL = 1;

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
  removeTempDirs();
});

function open(): Db {
  const db = openDatabase(path.join(makeTempDir('uow'), 'edgeops.db'));
  db.exec('CREATE TABLE scratch (id INTEGER PRIMARY KEY, tx TEXT NOT NULL, step INTEGER NOT NULL)');
  db.exec('CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)');
  db.exec('INSERT INTO counter (id, n) VALUES (1, 0)');
  dbs.push(db);
  return db;
}

/** Lets everything else that is ready run: timers, I/O callbacks and other transactions' continuations. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const scratch = (db: Db): Array<{ tx: string; step: number }> =>
  db.prepare('SELECT tx, step FROM scratch ORDER BY id').all() as Array<{ tx: string; step: number }>;
const count = (db: Db): number => (db.prepare('SELECT n FROM counter').get() as { n: number }).n;

describe('the asynchronous SQLite unit of work', () => {
  it('runs two transactions that await between their writes one after the other, never interleaved', async () => {
    const db = open();
    const uow = new SqliteUnitOfWork(db, undefined);
    const write = (tx: string) =>
      uow.transaction(async () => {
        for (let step = 0; step < 4; step += 1) {
          db.prepare('INSERT INTO scratch (tx, step) VALUES (?, ?)').run(tx, step);
          await turn();
        }
      });
    await Promise.all([write('a'), write('b')]);
    const rows = scratch(db).map((r) => `${r.tx}${r.step}`);
    const serial = [
      ['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3'],
      ['b0', 'b1', 'b2', 'b3', 'a0', 'a1', 'a2', 'a3'],
    ];
    expect(serial).toContainEqual(rows);
  });

  it('loses no update when 20 transactions each read a counter, await, and write it back', async () => {
    const db = open();
    const uow = new SqliteUnitOfWork(db, undefined);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        uow.transaction(async () => {
          const n = count(db);
          await turn();
          db.prepare('UPDATE counter SET n = ?').run(n + 1);
        }),
      ),
    );
    expect(count(db)).toBe(20);
  });

  it("keeps the audit chain gapless and each transaction's rows together under 50 concurrent transactions", async () => {
    const db = open();
    const uow = new SqliteUnitOfWork(db, undefined);
    const audit = new SqliteAuditLog(db, KEY, clock);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        uow.transaction(async () => {
          await turn();
          await audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.first', payload: { tx: i } });
          await turn();
          await audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.second', payload: { tx: i } });
        }),
      ),
    );
    const rows = db.prepare('SELECT seq, kind, payload FROM audit_log ORDER BY seq').all() as Array<{ seq: number; kind: string; payload: string }>;
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    for (let i = 0; i < rows.length; i += 2) {
      expect([rows[i]!.kind, rows[i + 1]!.kind]).toEqual(['test.first', 'test.second']);
      expect(rows[i]!.payload).toBe(rows[i + 1]!.payload);
    }
    expect(await audit.verify()).toMatchObject({ ok: true, count: 100, lastSeq: 100 });
  });

  it('rolls back every row when the transaction throws after an await, and lets the next one in', async () => {
    const db = open();
    const uow = new SqliteUnitOfWork(db, undefined);
    const audit = new SqliteAuditLog(db, KEY, clock);
    const failing = uow.transaction(async () => {
      await audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.lost', payload: {} });
      db.prepare("INSERT INTO scratch (tx, step) VALUES ('lost', 0)").run();
      await turn();
      db.prepare("INSERT INTO scratch (tx, step) VALUES ('lost', 1)").run();
      throw new Error('step two failed');
    });
    await expect(failing).rejects.toThrow('step two failed');
    expect(scratch(db)).toEqual([]);
    expect(await audit.head()).toEqual({ seq: 0, hash: expect.any(String) });
    expect(db.inTransaction).toBe(false);
    await uow.transaction(async () => {
      await audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.kept', payload: {} });
    });
    expect((await audit.head()).seq).toBe(1);
    expect(await audit.verify()).toMatchObject({ ok: true, count: 1 });
  });

  it('joins a nested call to the outer transaction as a savepoint: its throw undoes only its own rows', async () => {
    const db = open();
    const uow = new SqliteUnitOfWork(db, undefined);
    await uow.transaction(async () => {
      db.prepare("INSERT INTO scratch (tx, step) VALUES ('outer', 0)").run();
      await turn();
      await expect(
        uow.transaction(async () => {
          db.prepare("INSERT INTO scratch (tx, step) VALUES ('inner', 0)").run();
          await turn();
          throw new Error('inner failed');
        }),
      ).rejects.toThrow('inner failed');
      await uow.transaction(async () => {
        db.prepare("INSERT INTO scratch (tx, step) VALUES ('inner', 1)").run();
      });
    });
    expect(scratch(db)).toEqual([
      { tx: 'outer', step: 0 },
      { tx: 'inner', step: 1 },
    ]);
  });

  it('makes a repository call from outside wait for the open transaction instead of landing in it', async () => {
    const db = open();
    const uow = new SqliteUnitOfWork(db, undefined);
    const repo = uow.guard(
      {
        add: async (tx: string): Promise<void> => void db.prepare('INSERT INTO scratch (tx, step) VALUES (?, 0)').run(tx),
        rows: async (): Promise<number> => scratch(db).length,
      },
      ['add', 'rows'],
    );
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const doomed = uow.transaction(async () => {
      await repo.add('doomed');
      await held;
      throw new Error('taken back');
    });
    await turn();
    const outside = repo.add('outside');
    const seen = repo.rows();
    release();
    await expect(doomed).rejects.toThrow('taken back');
    await outside;
    // The read waited for the rollback: it never saw the row that was taken back.
    expect(await seen).toBe(1);
    expect(scratch(db).map((r) => r.tx)).toEqual(['outside']);
  });

  it('runs a repository call that waited for another transaction on its own, not inside a transaction of its own making', async () => {
    const db = open();
    const uow = new SqliteUnitOfWork(db, undefined);
    const inTransaction: boolean[] = [];
    const repo = uow.guard(
      {
        mark: async (): Promise<void> => {
          inTransaction.push(db.inTransaction);
          db.prepare("INSERT INTO scratch (tx, step) VALUES ('mark', 0)").run();
        },
      },
      ['mark'],
    );
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holding = uow.transaction(async () => {
      db.prepare("INSERT INTO scratch (tx, step) VALUES ('open', 0)").run();
      await held;
    });
    await turn();
    const waited = repo.mark();
    await turn();
    expect(inTransaction).toEqual([]);
    release();
    await holding;
    await waited;
    // Its statement committed as it would alone (the store's own commit policy applies, e.g. an
    // outbox mark without a sync of its own), after the transaction it waited for.
    expect(inTransaction).toEqual([false]);
    expect(scratch(db).map((r) => r.tx)).toEqual(['open', 'mark']);
  });

  it('defers the syncs of commits made inside deferSync until one shared flush, and syncs the others as they commit', async () => {
    const db = open();
    let syncs = 0;
    const syncer: FileSyncer = {
      sync: async () => void (syncs += 1),
      syncNow: () => undefined,
      close: () => undefined,
    };
    const wal = new WalSync(db, syncer);
    const uow = new SqliteUnitOfWork(db, wal);
    const level = (): number => db.pragma('synchronous', { simple: true }) as number;
    const levels = await uow.deferSync(async () => {
      const seen: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        await uow.transaction(async () => {
          db.prepare("INSERT INTO scratch (tx, step) VALUES ('deferred', 0)").run();
          await turn();
        });
        seen.push(level());
      }
      return seen;
    });
    // Between transactions the connection is back at FULL; each deferred one committed under NORMAL.
    expect(levels).toEqual([FULL, FULL, FULL]);
    await wal.flush();
    expect(syncs).toBe(1);
    let during = 0;
    await uow.transaction(async () => {
      during = level();
    });
    expect(during).toBe(FULL);
    await wal.flush();
    expect(syncs).toBe(1);
    await uow.deferSync(async () => {
      await uow.transaction(async () => {
        during = level();
      });
    });
    expect(during).toBe(NORMAL);
    // Work a deferred caller leaves running (a run it started) syncs as usual once the caller has its answer.
    let go!: () => void;
    const later = new Promise<void>((resolve) => (go = resolve));
    let background: Promise<void> | undefined;
    await uow.deferSync(async () => {
      background = later.then(() =>
        uow.transaction(async () => {
          during = level();
        }),
      );
    });
    go();
    await background;
    expect(during).toBe(FULL);
    wal.close();
  });
});
