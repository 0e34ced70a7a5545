// Two replicas on one PostgreSQL database: one delivers a channel at a time, in order, paced; a dead one's channels are taken over.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOutboxDispatcher, type DeliveryResult, type OutboxDispatcher } from '../../../src/adapters/outbox/outbox-dispatcher.js';
import type { ChatMessage, OutboxItem } from '../../../src/core/outbox/outbox.js';
import { createLogger } from '../../../src/log.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { listenForOutbox, type OutboxNotifications } from '../../../src/storage/postgres/outbox-notifications.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { PostgresChannelLeases } from '../../../src/storage/postgres/postgres-channel-leases.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresOutbox } from '../../../src/storage/postgres/postgres-outbox.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const KEY = 'q'.repeat(40);
const T0 = 1_760_000_000_000;
const LEASE_MS = 30_000;
const logger = createLogger({ level: 'silent' });

interface Delivery {
  replica: string;
  channel: string;
  text: string;
  at: number;
}

let db: TestDatabase;
let now = T0;
const clock = { now: () => now };
/** Every delivery of every replica, in the order they happened. */
let deliveries: Delivery[] = [];
/** Deliveries of one channel in flight at once, across replicas: never more than one. */
let overlaps = 0;
const active = new Map<string, number>();
let watchers: Array<() => void> = [];
/** Holds a delivery forever (a replica that died while sending it); returns a promise that never resolves while `hold` holds. */
let hold: ((replica: string, item: OutboxItem) => Promise<void> | undefined) | undefined;

interface Replica {
  name: string;
  pool: Pool;
  outbox: PostgresOutbox;
  dispatcher: OutboxDispatcher;
  notifications: OutboxNotifications;
  /** Queues one message, as a command's transaction does (its audit row and the message together). */
  queue(channel: string, text: string): Promise<void>;
  /** A clean shutdown: the dispatcher gives its leases up, the connections close. */
  stop(): Promise<void>;
}
const replicas: Replica[] = [];

function replica(name: string, options: { intervalMs?: number } = {}): Replica {
  const pool = createPool(db, { max: 4, applicationName: `edgeops-${name}` });
  const uow = new PostgresUnitOfWork(pool);
  const audit = new PostgresAuditLog(uow, KEY, clock);
  const outbox = new PostgresOutbox(uow, clock.now);
  const leases = new PostgresChannelLeases(uow, name);
  const deliver = async (item: OutboxItem): Promise<DeliveryResult> => {
    const text = (item.body as ChatMessage).text as string;
    const inFlight = (active.get(item.channel) ?? 0) + 1;
    active.set(item.channel, inFlight);
    if (inFlight > 1) overlaps += 1;
    const held = hold?.(name, item);
    if (held) {
      await held;
      return { kind: 'transient', error: 'this replica is gone' };
    }
    // A turn of the event loop, as a real send takes: room for another replica to overlap, were it allowed to.
    await new Promise<void>((resolve) => setImmediate(resolve));
    deliveries.push({ replica: name, channel: item.channel, text, at: clock.now() });
    active.set(item.channel, (active.get(item.channel) ?? 1) - 1);
    for (const w of watchers) w();
    return { kind: 'sent' };
  };
  const dispatcher = startOutboxDispatcher({
    target: 'slack',
    outbox,
    audit,
    uow,
    deliver,
    logger,
    clock,
    perChannelIntervalMs: options.intervalMs ?? 0,
    leases,
    leaseMs: LEASE_MS,
    // No idle poll: a dispatcher wakes only when kicked, by its own replica or by the notification of another's commit.
    sleep: () => new Promise<void>(() => undefined),
  });
  const notifications = listenForOutbox(pool, () => dispatcher.kick(), { logger });
  const r: Replica = {
    name,
    pool,
    outbox,
    dispatcher,
    notifications,
    async queue(channel, text) {
      await uow.transaction(async () => {
        const event = await audit.append({ actor: 'system', source: 'system', kind: 'test.queued', payload: { text } });
        await outbox.enqueue({ causeSeq: event.seq, target: 'slack', channel, body: { kind: 'test.message', text } });
      });
    },
    async stop() {
      await notifications.stop();
      await dispatcher.stop();
      await pool.end();
    },
  };
  replicas.push(r);
  return r;
}

/** Resolves once `channel` has had `count` deliveries. */
function delivered(channel: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (deliveries.filter((d) => d.channel === channel).length < count) return;
      watchers = watchers.filter((w) => w !== check);
      resolve();
    };
    watchers.push(check);
    check();
  });
}

const of = (channel: string): Delivery[] => deliveries.filter((d) => d.channel === channel);

beforeAll(async () => {
  db = await testDatabase('replicas_outbox');
  const pool = createPool(db, { max: 1 });
  await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
  await pool.end();
});
afterEach(async () => {
  hold = undefined;
  for (const r of replicas.splice(0)) await r.stop().catch(() => undefined);
  deliveries = [];
  overlaps = 0;
  active.clear();
  watchers = [];
});
afterAll(async () => {
  await db.drop();
});

describe('outbox delivery across two replicas on PostgreSQL', () => {
  it('delivers 2,000 notes queued alternately through both replicas in exactly queue order, each once, never two of the channel in flight', async () => {
    const a = replica('a');
    const b = replica('b');
    const count = 2_000;
    for (let i = 0; i < count; i += 1) {
      const via = i % 2 === 0 ? a : b;
      await via.queue('C0ORDER', `note ${i}`);
      via.dispatcher.kick();
    }
    await delivered('C0ORDER', count);
    await a.dispatcher.drain();
    await b.dispatcher.drain();
    expect(of('C0ORDER').map((d) => d.text)).toEqual(Array.from({ length: count }, (_, i) => `note ${i}`));
    expect(overlaps).toBe(0);
    const { rows } = await a.pool.query<{ state: string; attempts: number; n: number }>(
      "SELECT state, attempts, COUNT(*)::int AS n FROM outbox WHERE channel = 'C0ORDER' GROUP BY state, attempts",
    );
    expect(rows).toEqual([{ state: 'sent', attempts: 1, n: count }]);
  }, 240_000);

  it('sends a message queued through the other replica at once, by the replica that holds the channel, woken by the notification', async () => {
    const a = replica('a');
    await a.queue('C0WAKE', 'first');
    await a.dispatcher.drain();
    const b = replica('b');
    expect(of('C0WAKE')).toEqual([{ replica: 'a', channel: 'C0WAKE', text: 'first', at: now }]);
    // Nobody kicks a, and it does not poll: only the notification of b's commit can wake it.
    await b.queue('C0WAKE', 'second');
    await delivered('C0WAKE', 2);
    expect(of('C0WAKE').map((d) => `${d.replica}: ${d.text}`)).toEqual(['a: first', 'a: second']);
  }, 8_000);

  it('leaves a dead replica its channel until its lease runs out, then the other delivers the rest in order', async () => {
    const a = replica('a');
    const b = replica('b');
    let died: (name: string) => void = () => undefined;
    const dead = new Promise<string>((resolve) => (died = resolve));
    let revive: () => void = () => undefined;
    const never = new Promise<void>((resolve) => (revive = resolve));
    let holding = true;
    hold = (name, item) => {
      if (!holding || (item.body as ChatMessage).text !== 'crash 5') return undefined;
      holding = false;
      died(name);
      return never;
    };
    try {
      for (let i = 0; i < 10; i += 1) {
        const via = i % 2 === 0 ? a : b;
        await via.queue('C0CRASH', `crash ${i}`);
        via.dispatcher.kick();
      }
      const gone = (await dead) === 'a' ? a : b;
      const other = gone === a ? b : a;
      // The holder dies while sending `crash 5`: its connections close and it renews nothing any more.
      await gone.notifications.stop();
      await gone.pool.end();
      active.set('C0CRASH', 0);
      expect(of('C0CRASH').map((d) => d.text)).toEqual(['crash 0', 'crash 1', 'crash 2', 'crash 3', 'crash 4']);

      now += LEASE_MS - 1;
      other.dispatcher.kick();
      await other.dispatcher.drain();
      expect(of('C0CRASH')).toHaveLength(5);

      now += 1;
      other.dispatcher.kick();
      await delivered('C0CRASH', 10);
      expect(of('C0CRASH').map((d) => d.text)).toEqual(Array.from({ length: 10 }, (_, i) => `crash ${i}`));
      expect(
        of('C0CRASH')
          .slice(5)
          .map((d) => d.replica),
      ).toEqual(Array.from({ length: 5 }, () => other.name));
      expect(overlaps).toBe(0);
    } finally {
      revive();
    }
  }, 60_000);

  it("keeps a channel's pacing when its replica stops: the other sends the next message only once the interval has passed", async () => {
    const a = replica('a', { intervalMs: 1_000 });
    await a.queue('C0PACE', 'paced 0');
    await a.dispatcher.drain();
    const b = replica('b', { intervalMs: 1_000 });
    const sentAt = now;
    await b.queue('C0PACE', 'paced 1');
    await a.stop();

    now = sentAt + 999;
    await b.dispatcher.drain();
    expect(of('C0PACE').map((d) => d.text)).toEqual(['paced 0']);

    now = sentAt + 1_000;
    await b.dispatcher.drain();
    expect(of('C0PACE')).toEqual([
      { replica: 'a', channel: 'C0PACE', text: 'paced 0', at: sentAt },
      { replica: 'b', channel: 'C0PACE', text: 'paced 1', at: sentAt + 1_000 },
    ]);
  });

  it('gives a free channel to one of two replicas taking it at once, and to another only once the lease has run out or been given up', async () => {
    const pools = [createPool(db, { max: 2 }), createPool(db, { max: 2 })];
    try {
      const [x, y] = pools.map((p, i) => new PostgresChannelLeases(new PostgresUnitOfWork(p), `holder-${i}`));
      for (let round = 0; round < 20; round += 1) {
        const channels = [`C0R${round}A`, `C0R${round}B`, `C0R${round}C`];
        const [gotX, gotY] = await Promise.all([
          x!.take('slack', channels, now, now + 1_000),
          y!.take('slack', [...channels].reverse(), now, now + 1_000),
        ]);
        expect([...gotX, ...gotY].sort()).toEqual(channels);
      }
      expect(await x!.take('slack', ['C0LEASE'], now, now + 1_000)).toEqual(['C0LEASE']);
      expect(await y!.take('slack', ['C0LEASE'], now + 999, now + 2_000)).toEqual([]);
      expect(await x!.take('pagerduty', ['C0LEASE'], now, now + 1_000)).toEqual(['C0LEASE']);
      expect(await y!.take('slack', ['C0LEASE'], now + 1_000, now + 2_000)).toEqual(['C0LEASE']);
      // x's lease ran out and y took the channel: x cannot renew it back.
      expect(await x!.renew('slack', ['C0LEASE'], now + 3_000)).toEqual([]);
      await y!.release('slack', ['C0LEASE'], now + 1_500);
      expect(await x!.take('slack', ['C0LEASE'], now + 1_499, now + 3_000)).toEqual([]);
      expect(await x!.take('slack', ['C0LEASE'], now + 1_500, now + 3_000)).toEqual(['C0LEASE']);
    } finally {
      for (const p of pools) await p.end();
    }
  });
});
