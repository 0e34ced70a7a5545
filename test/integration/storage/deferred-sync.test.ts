// Deferred log syncs: commits that skip their own fsync are visible at once, and durable() pays what they owe.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/storage/store.js';
import type { FileSyncer } from '../../../src/storage/wal-sync.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'k'.repeat(64);
const clock = { now: () => Date.parse('2026-05-01T09:00:00Z') };
const FULL = 2;
const NORMAL = 1;

/** A log syncer whose syncs the test finishes by hand. */
function manualSyncer() {
  const pending: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  let now = 0;
  const syncer: FileSyncer = {
    sync: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
    syncNow: () => {
      now += 1;
    },
    close: () => undefined,
  };
  return { syncer, pending, started: () => pending.length, syncedNow: () => now };
}

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  removeTempDirs();
});

function open(syncer?: FileSyncer): { store: Store; file: string } {
  const file = path.join(makeTempDir('deferred-sync'), 'edgeops.db');
  const store = Store.create({ file, auditKey: KEY, clock, ...(syncer ? { syncer: () => syncer } : {}) });
  stores.push(store);
  return { store, file };
}

/** One audit row in its own transaction; returns the synchronous level the commit ran under. */
async function note(store: Store, text: string): Promise<number> {
  return await store.transaction(async () => {
    await store.audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.note', payload: { text } });
    return store.db.pragma('synchronous', { simple: true }) as number;
  });
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether a promise has settled once the event loop has gone round twice (a sync starts at the end of a turn). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await turn();
  await turn();
  return done;
}

describe('Store.deferSync and durable()', () => {
  it('commits inside deferSync without their own sync, visible to other connections at once; all others as before', async () => {
    const m = manualSyncer();
    const { store, file } = open(m.syncer);
    expect(await note(store, 'plain')).toBe(FULL);
    expect(await store.deferSync(() => note(store, 'deferred'))).toBe(NORMAL);
    // The connection is back to its own setting for whatever comes next.
    expect(store.db.pragma('synchronous', { simple: true })).toBe(FULL);
    expect(await note(store, 'after')).toBe(FULL);

    const other = new Database(file, { readonly: true });
    try {
      const texts = (other.prepare('SELECT payload FROM audit_log ORDER BY seq').all() as Array<{ payload: string }>).map(
        (r) => (JSON.parse(r.payload) as { text: string }).text,
      );
      expect(texts).toEqual(['plain', 'deferred', 'after']);
    } finally {
      other.close();
    }
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('defers every commit the work makes until it settles, across its awaits, and none made after', async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    const levels: number[] = [];
    await store.deferSync(async () => {
      levels.push(await note(store, 'before the await'));
      await turn();
      levels.push(await note(store, 'after the await'));
    });
    levels.push(await note(store, 'after the work settled'));
    expect(levels).toEqual([NORMAL, NORMAL, FULL]);
  });

  it('resolves at once, with no sync, when nothing was deferred', async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    await note(store, 'synced as it committed');
    await store.durable();
    expect(m.started()).toBe(0);
  });

  it('shares one sync among everyone waiting for it, and makes later commits wait for the next one', async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    await store.deferSync(() => note(store, 'a'));
    await store.deferSync(() => note(store, 'b'));
    const first = store.durable();
    const second = store.durable();
    await settled(first);
    expect(m.started()).toBe(1);

    // Committed while that sync runs: it may have started too early to cover this one.
    await store.deferSync(() => note(store, 'c'));
    const third = store.durable();
    const fourth = store.durable();
    m.pending[0]!.resolve();
    expect(await settled(first)).toBe(true);
    expect(await settled(second)).toBe(true);
    expect(await settled(third)).toBe(false);
    expect(m.started()).toBe(2);
    m.pending[1]!.resolve();
    expect(await settled(third)).toBe(true);
    expect(await settled(fourth)).toBe(true);
    // Everything is paid for: no further sync.
    await store.durable();
    expect(m.started()).toBe(2);
  });

  it('starts the sync of later commits without waiting for the one in flight, two at most', async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    await store.deferSync(() => note(store, 'a'));
    const first = store.durable();
    await settled(first);
    expect(m.started()).toBe(1);

    // Committed while the first sync runs, which started too early to cover it: its own sync starts at once.
    await store.deferSync(() => note(store, 'b'));
    const second = store.durable();
    expect(await settled(second)).toBe(false);
    expect(m.started()).toBe(2);
    // Answered as soon as a sync begun after its commit is done, whatever the older one is doing.
    m.pending[1]!.resolve();
    expect(await settled(second)).toBe(true);
    expect(await settled(first)).toBe(false);

    // Two syncs at once at most: a third waits for a slot, then covers everything committed by then.
    await store.deferSync(() => note(store, 'c'));
    const third = store.durable();
    await settled(third);
    expect(m.started()).toBe(3);
    await store.deferSync(() => note(store, 'd'));
    const fourth = store.durable();
    expect(await settled(fourth)).toBe(false);
    expect(m.started()).toBe(3);
    m.pending[0]!.resolve();
    expect(await settled(first)).toBe(true);
    expect(m.started()).toBe(4);
    expect(await settled(fourth)).toBe(false);
    m.pending[3]!.resolve();
    expect(await settled(fourth)).toBe(true);
    // The third's own sync is still running: it is not answered before it is done.
    expect(await settled(third)).toBe(false);
    m.pending[2]!.resolve();
    expect(await settled(third)).toBe(true);
  });

  it('rejects the waiters of a failed sync, and tries again for the next caller', async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    await store.deferSync(() => note(store, 'a'));
    const failed = store.durable();
    await settled(failed);
    m.pending[0]!.reject(new Error('EIO: i/o error, fdatasync'));
    await expect(failed).rejects.toThrow('EIO');
    const retried = store.durable();
    await settled(retried);
    expect(m.started()).toBe(2);
    m.pending[1]!.resolve();
    await expect(retried).resolves.toBeUndefined();
  });

  it("commits the outbox sender's marks without a sync of their own or owed, visible at once, covered by the next sync and at close", async () => {
    const m = manualSyncer();
    const { store, file } = open(m.syncer);
    const queued = await store.transaction(async () => {
      const seq = (await store.audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.note', payload: { text: 'a' } })).seq;
      const ids: number[] = [];
      for (let i = 0; i < 2; i += 1) {
        ids.push(await store.outbox.enqueue({ causeSeq: seq, target: 'slack', channel: 'incident:INC-1', body: { kind: 'test.note', text: 'a' } }));
      }
      return ids;
    });

    await store.outbox.markSent(queued[0]!, clock.now(), '1700000000.000100');
    await store.outbox.markRetry(queued[1]!, clock.now() + 1_000, 'slack is down');
    // The connection is back to its own setting for whatever comes next.
    expect(store.db.pragma('synchronous', { simple: true })).toBe(FULL);
    const other = new Database(file, { readonly: true });
    try {
      expect(other.prepare('SELECT state, attempts FROM outbox ORDER BY id').all()).toEqual([
        { state: 'sent', attempts: 1 },
        { state: 'pending', attempts: 1 },
      ]);
    } finally {
      other.close();
    }
    // Nobody waits for a mark: the next delivery does not wait for a sync of it.
    await store.durable();
    expect(m.started()).toBe(0);
    // A power cut before any sync would lose the marks (the messages go out again); closing never does.
    store.close();
    expect(m.syncedNow()).toBe(1);
  });

  it('counts a mark as covered by a sync that started after it, and syncs nothing more at close', async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    const id = await store.transaction(async () => {
      const seq = (await store.audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.note', payload: { text: 'a' } })).seq;
      return await store.outbox.enqueue({ causeSeq: seq, target: 'slack', channel: 'incident:INC-1', body: { kind: 'test.note', text: 'a' } });
    });
    await store.outbox.markSent(id, clock.now());
    await store.deferSync(() => note(store, 'deferred after the mark'));
    const paid = store.durable();
    await settled(paid);
    expect(m.started()).toBe(1);
    m.pending[0]!.resolve();
    await paid;
    store.close();
    expect(m.syncedNow()).toBe(0);
  });

  it("leaves a mark made inside a transaction to that transaction's own commit", async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    const id = await store.transaction(async () => {
      const seq = (await store.audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'test.note', payload: { text: 'a' } })).seq;
      const queued = await store.outbox.enqueue({ causeSeq: seq, target: 'slack', channel: 'incident:INC-1', body: { kind: 'test.note', text: 'a' } });
      await store.outbox.markSent(queued, clock.now());
      return queued;
    });
    expect(id).toBeGreaterThan(0);
    await store.durable();
    expect(m.started()).toBe(0);
  });

  it('syncs what is still owed before it closes the database', async () => {
    const m = manualSyncer();
    const { store } = open(m.syncer);
    await store.deferSync(() => note(store, 'owed'));
    store.close();
    expect(m.syncedNow()).toBe(1);
  });

  it('syncs the real log file and keeps every deferred commit across a reopen', async () => {
    const { store, file } = open();
    for (let i = 0; i < 5; i += 1) await store.deferSync(() => note(store, `n${i}`));
    await store.durable();
    store.close();
    const reopened = Store.create({ file, auditKey: KEY, clock });
    stores.push(reopened);
    expect((await reopened.audit.head()).seq).toBe(5);
    expect((await reopened.audit.verify()).ok).toBe(true);
  });

  it('has nothing to defer in memory', async () => {
    const store = Store.create({ file: ':memory:', auditKey: KEY, clock });
    stores.push(store);
    expect(await store.deferSync(() => note(store, 'in memory'))).not.toBe(NORMAL);
    await expect(store.durable()).resolves.toBeUndefined();
  });
});
