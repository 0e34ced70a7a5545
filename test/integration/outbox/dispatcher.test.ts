// The outbox dispatcher over real SQLite and PostgreSQL with a scripted receiver: parallel channels, strict order, backoff, restart.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  backoffDelay,
  startOutboxDispatcher,
  type DeliveryResult,
  type OutboxDispatcher,
  type OutboxDispatcherOptions,
} from '../../../src/adapters/outbox/outbox-dispatcher.js';
import type { OutboxItem } from '../../../src/core/outbox/outbox.js';
import { createLogger } from '../../../src/log.js';
import type { Backend } from '../../../src/app.js';
import { BACKEND_KINDS, openTestBackend, type TestBackend } from '../../helpers/backends.js';
import { FakeTime } from '../../fixtures/slack-delivery/fake-time.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'k'.repeat(64);
const T0 = Date.parse('2026-05-01T09:00:00.000Z');

let time: FakeTime;
let backend: TestBackend;
let store: Backend;
const running: OutboxDispatcher[] = [];

/** Lets the dispatcher's work settle (on PostgreSQL, until no query is in flight). */
const settle = (): Promise<void> => backend.quiet();

function openOn(kind: TestBackend['kind']): void {
  beforeEach(async () => {
    time = new FakeTime({ value: T0 }, () => backend.quiet());
    backend = await openTestBackend(kind, { file: path.join(makeTempDir('outbox'), 'edgeops.db'), auditKey: KEY, clock: time.clock, label: 'outbox' });
    store = backend.store;
  });

  afterEach(async () => {
    for (const d of running.splice(0)) await d.stop();
    await backend.close();
    removeTempDirs();
  });
}

function queue(channel: string, text: string, s: Backend = store): Promise<number> {
  return s.transaction(async () => {
    const event = await s.audit.append({ actor: 'system', source: 'system', kind: 'test.queued', payload: { text } });
    return await s.outbox.enqueue({ causeSeq: event.seq, target: 'slack', channel, body: { kind: 'test.message', text } });
  });
}

function start(
  deliver: (item: OutboxItem) => Promise<DeliveryResult>,
  options: Partial<OutboxDispatcherOptions> = {},
  s: Backend = store,
): OutboxDispatcher {
  const d = startOutboxDispatcher({
    target: 'slack',
    outbox: s.outbox,
    audit: s.audit,
    uow: s,
    deliver,
    logger: createLogger({ level: 'silent' }),
    clock: time.clock,
    sleep: time.sleep,
    random: () => 0.5,
    ...options,
  });
  running.push(d);
  return d;
}

interface Deferred {
  item: OutboxItem;
  resolve: (r: DeliveryResult) => void;
}

/** A receiver whose answers the test gives by hand, to see what is in flight at once. */
function manualReceiver() {
  const pending: Deferred[] = [];
  const seen: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const deliver = (item: OutboxItem): Promise<DeliveryResult> => {
    seen.push(`${item.channel}:${String(item.body.text)}`);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<DeliveryResult>((resolve) => {
      pending.push({
        item,
        resolve: (r) => {
          inFlight -= 1;
          resolve(r);
        },
      });
    });
  };
  return { deliver, pending, seen, max: () => maxInFlight };
}

describe('backoffDelay', () => {
  it('doubles from one second to a five-minute cap, with half of each step jittered', () => {
    const full = (attempts: number) => backoffDelay(attempts, () => 1);
    expect([0, 1, 2, 3, 4, 8, 9, 20].map(full)).toEqual([1000, 2000, 4000, 8000, 16000, 256000, 300000, 300000]);
    expect(backoffDelay(3, () => 0)).toBe(4000);
    expect(backoffDelay(100, () => 0)).toBe(150000);
  });
});

describe.each(BACKEND_KINDS)('the dispatcher on %s', (kind) => {
  openOn(kind);

  it('delivers channels in parallel, one message per channel at a time, within the concurrency cap', async () => {
    const r = manualReceiver();
    for (const ch of ['C1', 'C2', 'C3']) for (let i = 1; i <= 2; i += 1) await queue(ch, `${ch}-${i}`);
    const d = start(r.deliver, { concurrency: 2, perChannelIntervalMs: 0 });
    await settle();
    // Two channels at once (the cap), never two messages of one channel.
    expect(r.seen).toEqual(['C1:C1-1', 'C2:C2-1']);
    r.pending.shift()!.resolve({ kind: 'sent' });
    await settle();
    // Heads go out oldest first: C1's next message was queued before C3's first, so it takes the free slot.
    expect(r.seen).toEqual(['C1:C1-1', 'C2:C2-1', 'C1:C1-2']);
    const drained = d.drain();
    while (r.pending.length > 0) {
      r.pending.shift()!.resolve({ kind: 'sent' });
      await settle();
    }
    await drained;
    expect(r.max()).toBe(2);
    expect(await store.outbox.depth()).toBe(0);
    const perChannel = (ch: string) => r.seen.filter((s) => s.startsWith(`${ch}:`));
    expect(perChannel('C3')).toEqual(['C3:C3-1', 'C3:C3-2']);
  });

  it('never lets a later message of a channel overtake one being retried', async () => {
    const attempts: string[] = [];
    let failuresLeft = 3;
    const d = start(async (item) => {
      attempts.push(String(item.body.text));
      if (item.body.text === 'first' && failuresLeft-- > 0) return { kind: 'transient', error: 'HTTP 502' };
      return { kind: 'sent' };
    });
    await queue('C1', 'first');
    await queue('C1', 'second');
    for (let i = 0; i < 200 && (await store.outbox.depth()) > 0; i += 1) {
      await d.drain();
      await time.advanceToNextDeadline();
    }
    expect(attempts).toEqual(['first', 'first', 'first', 'first', 'second']);
  });

  it('treats a receiver that throws as a transient failure', async () => {
    let calls = 0;
    const d = start(async () => {
      calls += 1;
      if (calls === 1) throw new Error('boom');
      return { kind: 'sent' };
    });
    await queue('C1', 'm');
    await d.drain();
    expect(await store.outbox.depth()).toBe(1);
    await time.advance(1_000);
    await d.drain();
    expect(calls).toBe(2);
    expect(await store.outbox.depth()).toBe(0);
  });

  it('wakes on kick with a real clock, without waiting for its idle poll', async () => {
    store = await backend.reopen({ now: () => Date.now() });
    let delivered!: () => void;
    const got = new Promise<void>((resolve) => (delivered = resolve));
    const d = startOutboxDispatcher({
      target: 'slack',
      outbox: store.outbox,
      audit: store.audit,
      uow: store,
      deliver: async () => {
        delivered();
        return { kind: 'sent' };
      },
      logger: createLogger({ level: 'silent' }),
      clock: { now: () => Date.now() },
      idlePollMs: 60_000,
    });
    running.push(d);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await queue('C1', 'now');
    d.kick();
    await got;
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('stop() lets the delivery in flight finish and records it', async () => {
    const r = manualReceiver();
    await queue('C1', 'in flight');
    await queue('C1', 'later');
    const d = start(r.deliver);
    await settle();
    expect(r.seen).toEqual(['C1:in flight']);
    const stopped = d.stop();
    r.pending.shift()!.resolve({ kind: 'sent' });
    await stopped;
    expect(await store.outbox.depth()).toBe(1);
    await time.advance(10_000);
    expect(r.seen).toEqual(['C1:in flight']);
  });

  it('resumes after a restart: the retry deadline is in the database, and nothing is lost', async () => {
    const first = start(async () => ({ kind: 'retry', afterMs: 30_000, error: 'HTTP 429' }));
    await queue('C1', 'a');
    await queue('C1', 'b');
    await first.drain();
    await first.stop();
    running.splice(0);

    // A new process: new store, new dispatcher, same database.
    store = await backend.reopen(time.clock);
    const seen: Array<[string, number]> = [];
    const second = start(async (item) => {
      seen.push([String(item.body.text), time.now.value - T0]);
      return { kind: 'sent' };
    });
    await second.drain();
    expect(seen).toEqual([]);
    await time.advanceTo(T0 + 29_999);
    await second.drain();
    expect(seen).toEqual([]);
    await time.advanceTo(T0 + 30_000);
    await second.drain();
    await time.advance(1_000);
    await second.drain();
    expect(seen).toEqual([
      ['a', 30_000],
      ['b', 31_000],
    ]);
  });

  it('gives up on a permanent failure once, records it, and moves on', async () => {
    const seen: string[] = [];
    const d = start(
      async (item) => {
        seen.push(String(item.body.text));
        return item.body.text === 'bad' ? { kind: 'permanent', error: 'invalid_blocks' } : { kind: 'sent' };
      },
      { perChannelIntervalMs: 0 },
    );
    await queue('incident:INC-3', 'bad');
    await queue('incident:INC-3', 'good');
    await d.drain();
    await time.advance(600_000);
    await d.drain();
    expect(seen).toEqual(['bad', 'good']);
    const failed = await backend.query<{ actor: string; source: string; incident_id: string | null; payload: string }>(
      "SELECT actor, source, incident_id, payload FROM audit_log WHERE kind = 'delivery.failed'",
    );
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ actor: 'system', source: 'system', incident_id: 'INC-3' });
    expect(JSON.parse(failed[0]!.payload)).toMatchObject({ error: 'invalid_blocks', outbox_id: 1, attempts: 1 });
  });

  it('sends nothing it read before the outbox says those rows are on disk', async () => {
    let onDisk!: () => void;
    const synced = new Promise<void>((resolve) => (onDisk = resolve));
    // The store's outbox, except that its rows reach the disk only when the test says so.
    const outbox = Object.assign(Object.create(store.outbox) as typeof store.outbox, { durable: () => synced });
    const r = manualReceiver();
    await queue('C1', 'committed, sync still owed');
    start(r.deliver, { outbox });
    await settle();
    await settle();
    expect(r.seen).toEqual([]);
    onDisk();
    await settle();
    expect(r.seen).toEqual(['C1:committed, sync still owed']);
    r.pending.shift()!.resolve({ kind: 'sent' });
  });
});
