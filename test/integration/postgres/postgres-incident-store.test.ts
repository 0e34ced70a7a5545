// The incident store on PostgreSQL: the same reads and writes as on SQLite, and numbers unique across replicas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresIncidentStore } from '../../../src/storage/postgres/postgres-incident-store.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const T0 = 1_760_000_000_000;

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

describe('PostgresIncidentStore', () => {
  const dbs: TestDatabase[] = [];
  const pools: Pool[] = [];
  const migrated = async (label: string): Promise<Pool> => {
    const db = await testDatabase(label);
    dbs.push(db);
    const p = createPool(db, { max: 4 });
    pools.push(p);
    await migratePostgres(p, readMigrations(postgresMigrationsDir()));
    return p;
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(dbs.map((d) => d.drop()));
  });

  let pool: Pool;
  let store: PostgresIncidentStore;
  beforeAll(async () => {
    pool = await migrated('incidents');
    store = new PostgresIncidentStore(new PostgresUnitOfWork(pool));
  });

  it('reads back what it wrote, by id, channel, PagerDuty id and among the open incidents', async () => {
    await store.insert(incident({ channelId: 'C0INC0001', pagerdutyId: 'PD1', private: true, roles: { commander: null, comms: 'U2', scribe: 'U3' } }));
    await store.insert(incident({ id: 'INC-2', number: 2, channelName: 'inc-2', status: 'resolved', resolvedAt: T0 + 1 }));
    const one = await store.get('INC-1');
    expect(one).toEqual(incident({ channelId: 'C0INC0001', pagerdutyId: 'PD1', private: true, roles: { commander: null, comms: 'U2', scribe: 'U3' } }));
    expect(await store.byChannelId('C0INC0001')).toEqual(one);
    expect(await store.byPagerdutyId('PD1')).toEqual(one);
    expect(await store.byChannelId('C0NOPE')).toBeUndefined();
    expect((await store.listOpen()).map((i) => i.id)).toEqual(['INC-1']);
    expect(await store.nextNumber()).toBe(3);
  });

  it('saves only the columns changed since the incident was read', async () => {
    const read = (await store.get('INC-1'))!;
    await pool.query("UPDATE incidents SET summary = 'written elsewhere' WHERE id = 'INC-1'");
    read.severity = 1;
    await store.save(read);
    expect(await store.get('INC-1')).toMatchObject({ severity: 1, summary: 'written elsewhere' });
  });

  it('gives incidents declared at once on two replicas different numbers, each insert in the transaction that chose it', async () => {
    const p = await migrated('incident_numbers');
    const replicas = [0, 1].map(() => {
      const session = new PostgresUnitOfWork(createPool({ url: dbs.at(-1)!.url }, { max: 4 }));
      pools.push(session.pool);
      return { session, store: new PostgresIncidentStore(session) };
    });
    const declare = ({ session, store: s }: (typeof replicas)[number], k: number) =>
      session.transaction(async () => {
        const n = await s.nextNumber();
        await s.insert(incident({ id: `INC-${n}`, number: n, channelName: `inc-${n}-${k}` }));
        return n;
      });
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, k) => declare(replicas[k % 2]!, k)));
    expect(results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))).toEqual([]);
    const numbers = (await p.query<{ number: number }>('SELECT number FROM incidents ORDER BY number')).rows.map((r) => r.number);
    expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });
});
