// The SQLite repositories on their hot paths: audit appends, incident saves and the outbox's channel heads.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chainHash } from '../../../src/core/audit/audit-chain.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import type { OutboxTarget } from '../../../src/core/outbox/outbox.js';
import { IntegrityError } from '../../../src/errors.js';
import { Store } from '../../../src/storage/store.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'k'.repeat(64);
const T0 = Date.parse('2026-05-01T09:00:00Z');

let now: number;
let store: Store;

beforeEach(() => {
  now = T0;
  store = Store.create({ file: path.join(makeTempDir('repositories'), 'edgeops.db'), auditKey: KEY, clock: { now: () => now } });
});

afterEach(() => {
  store.close();
  removeTempDirs();
});

const append = async (text: string) =>
  await store.transaction(
    async () =>
      await store.audit.append({ actor: 'U0ONCALL1', source: 'slack', kind: 'incident.note', incidentId: 'INC-1', payload: { text, skipped: undefined } }),
  );

describe('SqliteAuditLog.append', () => {
  it('links each row to the one before with the hash the reference encoding gives, and the chain verifies', async () => {
    const first = await append('one');
    const second = await append('two');
    expect(first).toMatchObject({ seq: 1, time: T0, payload: { text: 'one' } });
    expect(first.payload).not.toHaveProperty('skipped');
    expect(second.prevHash).toBe(first.hash);
    for (const event of [first, second]) expect(event.hash).toBe(chainHash(KEY, event.prevHash, event));
    expect(await store.audit.bySeq(2)).toEqual(second);
    expect(await store.audit.verify()).toMatchObject({ ok: true, count: 2, lastSeq: 2 });
  });

  it('never lets time run backwards along the chain, whatever the clock does', async () => {
    await append('at T0');
    now = T0 - 60_000;
    expect((await append('clock went back')).time).toBe(T0);
    now = T0 + 5;
    expect((await append('clock caught up')).time).toBe(T0 + 5);
  });

  it('refuses to append after a head that names a row the log does not have', async () => {
    await append('one');
    store.db.prepare('UPDATE audit_head SET seq = 7 WHERE id = 1').run();
    await expect(append('two')).rejects.toThrow(IntegrityError);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n).toBe(1);
  });
});

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'INC-1',
    number: 1,
    title: 'Checkout is down',
    severity: 2,
    status: 'investigating',
    service: 'checkout',
    private: false,
    channelName: 'inc-1-checkout-is-down',
    channelId: null,
    roles: { commander: 'U0ONCALL1', comms: null, scribe: null },
    declaredBy: 'U0ONCALL1',
    declaredAt: T0,
    acknowledgedAt: null,
    resolvedAt: null,
    summary: null,
    pagerdutyId: null,
    pagerdutyUrl: null,
    lastUpdateAt: T0,
    ...over,
  };
}

const totalChanges = (): number => (store.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;

describe('SqliteIncidentStore', () => {
  it('reads back what it wrote, by id, channel, PagerDuty id and among the open incidents', async () => {
    await store.incidents.insert(
      incident({ channelId: 'C0INC0001', pagerdutyId: 'PD1', private: true, roles: { commander: null, comms: 'U2', scribe: 'U3' } }),
    );
    await store.incidents.insert(incident({ id: 'INC-2', number: 2, status: 'resolved', resolvedAt: T0 + 1 }));
    const one = await store.incidents.get('INC-1');
    expect(one).toEqual(incident({ channelId: 'C0INC0001', pagerdutyId: 'PD1', private: true, roles: { commander: null, comms: 'U2', scribe: 'U3' } }));
    expect(await store.incidents.byChannelId('C0INC0001')).toEqual(one);
    expect(await store.incidents.byPagerdutyId('PD1')).toEqual(one);
    expect(await store.incidents.byChannelId('C0NOPE')).toBeUndefined();
    expect((await store.incidents.listOpen()).map((i) => i.id)).toEqual(['INC-1']);
    expect(await store.incidents.nextNumber()).toBe(3);
  });

  it('saves only the columns changed since the incident was read, and nothing when none changed', async () => {
    await store.incidents.insert(incident());
    const read = (await store.incidents.get('INC-1'))!;
    // Changed behind this object's back: a save of other columns leaves it as it is.
    store.db.prepare("UPDATE incidents SET summary = 'written elsewhere' WHERE id = 'INC-1'").run();
    read.lastUpdateAt = T0 + 1_000;
    read.severity = 1;
    await store.incidents.save(read);
    expect(await store.incidents.get('INC-1')).toMatchObject({ lastUpdateAt: T0 + 1_000, severity: 1, summary: 'written elsewhere' });

    const changes = totalChanges();
    await store.incidents.save(read);
    expect(totalChanges()).toBe(changes);
  });

  it('saves every column of an incident it did not read', async () => {
    await store.incidents.insert(incident());
    await store.incidents.save(incident({ summary: 'whole row', severity: 4 }));
    expect(await store.incidents.get('INC-1')).toEqual(incident({ summary: 'whole row', severity: 4 }));
  });
});

describe('SqliteOutbox heads', () => {
  interface Pending {
    id: number;
    target: OutboxTarget;
    channel: string;
    state: string;
    nextAttemptAt: number;
    priority: number;
  }

  /** What due() and nextAttemptAfter() mean, computed the plain way over every row. */
  function reference(rows: Pending[], target: OutboxTarget, at: number, limit: number): { due: number[]; next: number | null } {
    const heads = new Map<string, Pending>();
    for (const r of [...rows].sort((a, b) => a.priority - b.priority || a.id - b.id)) {
      if (r.state === 'pending' && r.target === target && !heads.has(r.channel)) heads.set(r.channel, r);
    }
    const all = [...heads.values()];
    const later = all.filter((h) => h.nextAttemptAt > at).map((h) => h.nextAttemptAt);
    return {
      due: all
        .filter((h) => h.nextAttemptAt <= at)
        .map((h) => h.id)
        .sort((a, b) => a - b)
        .slice(0, limit),
      next: later.length > 0 ? Math.min(...later) : null,
    };
  }

  it('finds the most urgent, then oldest, pending message of each channel whose turn has come, as a scan of every row would', async () => {
    const seq = (await append('cause')).seq;
    const insert = store.db.prepare(
      'INSERT INTO outbox (cause_seq, target, channel, body, state, next_attempt_at, priority, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0)',
    );
    const channels = ['incident:INC-1', 'incident:INC-10', 'incident:INC-2', 'C0GENERAL1', 'D0DIRECT1', 'C0GENERAL'];
    let random = 7;
    const next = (n: number): number => {
      random = (random * 1_103_515_245 + 12_345) % 2 ** 31;
      return random % n;
    };
    for (let round = 0; round < 40; round += 1) {
      store.db.prepare('DELETE FROM outbox').run();
      const rows: Pending[] = [];
      for (let i = 0, n = next(40); i < n; i += 1) {
        const target: OutboxTarget = next(2) ? 'slack' : 'pagerduty';
        const row = {
          target,
          channel: channels[next(channels.length)]!,
          state: ['pending', 'pending', 'sent', 'failed'][next(4)]!,
          nextAttemptAt: next(20),
          priority: next(3),
        };
        const id = Number(insert.run(seq, row.target, row.channel, '{"text":"m"}', row.state, row.nextAttemptAt, row.priority).lastInsertRowid);
        rows.push({ id, ...row });
      }
      for (const target of ['slack', 'pagerduty'] as const) {
        for (const at of [0, 7, 19, 25]) {
          for (const limit of [1, 3, 50]) {
            const expected = reference(rows, target, at, limit);
            expect((await store.outbox.due(target, at, limit)).map((item) => item.id)).toEqual(expected.due);
            expect(await store.outbox.nextAttemptAfter(target, at)).toBe(expected.next);
          }
        }
      }
    }
  });

  it('seeks channel by channel along the pending index instead of reading every waiting message', () => {
    const plan = (sql: string): string =>
      (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ target: 'slack', now: 0, limit: 1 }) as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join('\n');
    for (const sql of [
      (store.outbox as unknown as { dueStmt: { source: string } }).dueStmt.source,
      (store.outbox as unknown as { nextStmt: { source: string } }).nextStmt.source,
    ]) {
      const detail = plan(sql);
      expect(detail).not.toMatch(/SCAN outbox/);
      expect(detail).toMatch(/SEARCH outbox USING COVERING INDEX outbox_pending \(state=\? AND target=\? AND channel>\?\)/);
    }
  });
});
