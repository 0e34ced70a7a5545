// The portal's incident lists and timelines on PostgreSQL: the same pages as on SQLite, on indexes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../../src/core/incidents/incident.js';
import type { IncidentFilter, IncidentScope, PortalReadModel } from '../../../src/core/portal/portal-read-model.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { PostgresIncidentStore } from '../../../src/storage/postgres/postgres-incident-store.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { postgresPortalQueries } from '../../../src/storage/postgres/postgres-portal-queries.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { sqlitePortalQueries } from '../../../src/storage/sqlite-portal-queries.js';
import { Store } from '../../../src/storage/store.js';
import { numberedIncident } from '../../helpers/numbered-incident.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const T0 = 1_760_000_000_000;
const HOUR = 3_600_000;
const KEY = 'q'.repeat(40);

/** Severities, states and services vary with n, so the filters have something to tell apart. */
const incident = (n: number, over: Partial<Incident> = {}): Incident =>
  numberedIncident(n, T0 + n * HOUR, {
    severity: (n % 4) + 1,
    status: n % 3 === 0 ? 'resolved' : 'investigating',
    service: ['checkout', 'payments', null, 'search'][n % 4] ?? null,
    resolvedAt: n % 3 === 0 ? T0 + n * HOUR + 600_000 : null,
    ...over,
  });

/** Titles that exercise the search (wildcards, escapes, case), and private incidents of every kind of member. */
const SPECIAL: Record<number, Partial<Incident>> = {
  2: { title: 'Checkout DOWN in eu-west' },
  4: { title: 'checkout down again' },
  5: { title: 'Error rate 50% on payments', status: 'identified' },
  6: { title: 'Queue 5x slower', private: true, declaredBy: 'U0PRIV' },
  7: { title: 'snake_case_field missing', service: 'Zebra' },
  8: { title: 'Path C:\\temp full', service: 'apple' },
  9: { title: 'Ärger mit dem Cache', private: true, declaredBy: 'U0PRIV', roles: { commander: 'U0CMD', comms: null, scribe: null } },
  10: { title: 'Slow search', private: true, declaredBy: 'U0PRIV', roles: { commander: null, comms: 'U0COMMS', scribe: 'U0SCRIBE' } },
  11: { title: 'Secret merger', private: true, declaredBy: 'U0PRIV', service: 'acquisition-talks' },
  12: { title: 'Invited-only', private: true, declaredBy: 'U0PRIV' },
};
const COUNT = 30;

describe('postgresPortalQueries', () => {
  const dbs: TestDatabase[] = [];
  const pools: Pool[] = [];
  const migrated = async (label: string, options: { icuLocale?: string } = {}): Promise<PostgresUnitOfWork> => {
    const db = await testDatabase(label, options);
    dbs.push(db);
    const pool = createPool(db, { max: 4 });
    pools.push(pool);
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    return new PostgresUnitOfWork(pool);
  };
  let pg: PortalReadModel;
  let sqlite: Store;
  let lite: PortalReadModel;
  beforeAll(async () => {
    // A language's collation, as production databases often have: SQLite's byte order and ASCII-only
    // case folding must hold there too, not only on the test cluster's C locale.
    const session = await migrated('portal_queries', { icuLocale: 'en-US' });
    let t = T0;
    const clock = { now: () => (t += 1000) };
    let u = T0;
    sqlite = Store.create({ file: ':memory:', auditKey: KEY, clock: { now: () => (u += 1000) } });
    const pgIncidents = new PostgresIncidentStore(session);
    const pgAudit = new PostgresAuditLog(session, KEY, clock);
    for (let n = 1; n <= COUNT; n++) {
      const i = incident(n, SPECIAL[n]);
      await pgIncidents.insert(i);
      await sqlite.incidents.insert(incident(n, SPECIAL[n]));
    }
    // Timelines interleaved across incidents, invitations among them (one to a non-private incident, one with no incident).
    const rows = [
      ...Array.from({ length: 25 }, (_, i) => ({ kind: 'note.added', incidentId: 'INC-2', payload: { text: `note ${i}` } })),
      { kind: 'incident.member_invited', incidentId: 'INC-12', payload: { user: 'U0INV' } },
      { kind: 'incident.member_invited', incidentId: 'INC-1', payload: { user: 'U0INV' } },
      { kind: 'incident.member_invited', incidentId: null, payload: { user: 'U0OUT' } },
      { kind: 'note.added', incidentId: 'INC-11', payload: { user: 'U0OUT' } },
    ];
    for (const [i, row] of rows.entries()) {
      const input = { actor: 'U0DECL', source: 'slack', ...row };
      await pgAudit.append(input);
      await sqlite.audit.append(input);
      if (i % 3 === 0) {
        const other = { actor: 'U0X', source: 'portal', kind: 'note.added', incidentId: 'INC-4', payload: { i } };
        await pgAudit.append(other);
        await sqlite.audit.append(other);
      }
    }
    pg = postgresPortalQueries(session);
    lite = sqlitePortalQueries(sqlite.db);
  });
  afterAll(async () => {
    sqlite.close();
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(dbs.map((d) => d.drop()));
  });

  /** Every page of one list on both backends, compared page by page; returns the numbers listed. */
  const allPages = async (scope: IncidentScope, filter: IncidentFilter, limit: number): Promise<number[]> => {
    const numbers: number[] = [];
    let before: number | undefined;
    for (let pages = 0; pages <= COUNT; pages++) {
      const page = { limit, ...(before === undefined ? {} : { before }) };
      const onPg = await pg.incidents(scope, filter, page);
      expect(onPg, JSON.stringify({ scope, filter, page })).toEqual(await lite.incidents(scope, filter, page));
      numbers.push(...onPg.incidents.map((i) => i.number));
      if (onPg.next === null) return numbers;
      before = onPg.next;
    }
    throw new Error('paging did not end');
  };

  const admin: IncidentScope = { userId: 'U0ADMIN', allPrivate: true };
  const outsider: IncidentScope = { userId: 'U0OUT', allPrivate: false };
  const filters: IncidentFilter[] = [
    {},
    { status: 'open' },
    { status: 'resolved' },
    { status: 'identified' },
    { severity: 1 },
    { service: 'checkout' },
    { from: T0 + 5 * HOUR, to: T0 + 20 * HOUR },
    { from: T0 + 29 * HOUR },
    { q: 'down' },
    { q: 'DOWN' },
    { q: '50%' },
    { q: '%' },
    { q: 'e_c' },
    { q: '_' },
    { q: 'C:\\temp' },
    { q: '\\' },
    { q: 'ärger' },
    { q: 'Ärger' },
    { status: 'open', severity: 2, service: 'payments', q: 'rate' },
    { service: 'nothing-here' },
  ];

  it('lists the same incidents, in the same pages, under every filter and page size', async () => {
    for (const filter of filters) {
      const whole = await allPages(admin, filter, 100);
      for (const limit of [1, 3, 7]) expect(await allPages(admin, filter, limit)).toEqual(whole);
    }
    // Not vacuous: the filters select what they say.
    expect(await allPages(admin, { q: 'down' }, 100)).toEqual([4, 2]);
    expect(await allPages(admin, { q: '50%' }, 100)).toEqual([5]);
    expect(await allPages(admin, { q: 'e_c' }, 100)).toEqual([7]);
    expect(await allPages(admin, { q: 'C:\\temp' }, 100)).toEqual([8]);
    expect(await allPages(admin, { q: 'ärger' }, 100)).toEqual([]);
    expect(await allPages(admin, { from: T0 + 5 * HOUR, to: T0 + 20 * HOUR }, 100)).toEqual(Array.from({ length: 15 }, (_, i) => 19 - i));
    expect(await allPages(admin, { status: 'open' }, 100)).toHaveLength(20);
  });

  it('shows private incidents only to their declarer, role holders and people invited, as SQLite does', async () => {
    const privateOnes = [6, 9, 10, 11, 12];
    const seen = async (userId: string): Promise<number[]> =>
      (await allPages({ userId, allPrivate: false }, {}, 4)).filter((n) => privateOnes.includes(n)).sort((a, b) => a - b);
    expect(await seen('U0PRIV')).toEqual(privateOnes);
    expect(await seen('U0CMD')).toEqual([9]);
    expect(await seen('U0COMMS')).toEqual([10]);
    expect(await seen('U0SCRIBE')).toEqual([10]);
    expect(await seen('U0INV')).toEqual([12]);
    // An invitation without an incident, or a note naming a user, makes nobody a member.
    expect(await seen('U0OUT')).toEqual([]);
    expect(await allPages(outsider, { q: 'secret' }, 2)).toEqual([]);
    expect(await allPages({ userId: 'U0INV', allPrivate: false }, { status: 'resolved', q: 'INVITED' }, 2)).toEqual([12]);
    for (const filter of filters) await allPages(outsider, filter, 3);
  });

  it('names the services of non-private incidents in byte order', async () => {
    const onPg = await pg.services();
    expect(onPg).toEqual(await lite.services());
    expect(onPg).toEqual(['Zebra', 'apple', 'checkout', 'payments', 'search']);
  });

  it('windows a timeline newest or oldest first across page boundaries, and what came after a seq', async () => {
    for (const order of ['newest', 'oldest'] as const) {
      for (const limit of [1, 4, 25, 40]) {
        const seqs: number[] = [];
        let cursor: number | undefined;
        for (;;) {
          const window = { order, limit, ...(cursor === undefined ? {} : { cursor }) };
          const onPg = await pg.timeline('INC-2', window);
          expect(onPg).toEqual(await lite.timeline('INC-2', window));
          seqs.push(...onPg.events.map((e) => e.seq));
          if (onPg.next === null) break;
          cursor = onPg.next;
        }
        expect(seqs).toHaveLength(25);
        expect(seqs).toEqual([...seqs].sort((a, b) => (order === 'newest' ? b - a : a - b)));
      }
    }
    const first = await pg.timeline('INC-2', { order: 'oldest', limit: 1 });
    expect(first.events[0]).toMatchObject({ actor: 'U0DECL', source: 'slack', kind: 'note.added', payload: { text: 'note 0' } });
    expect(await pg.timeline('INC-404', { order: 'newest', limit: 5 })).toEqual({ events: [], next: null });

    for (const [seq, limit] of [
      [0, 100],
      [0, 3],
      [10, 5],
      [first.events[0]!.seq, 2],
      [10_000, 5],
    ] as const) {
      const onPg = await pg.eventsAfter('INC-2', seq, limit);
      expect(onPg).toEqual(await lite.eventsAfter('INC-2', seq, limit));
      expect(onPg.every((e) => e.seq > seq)).toBe(true);
    }
    expect(await pg.eventsAfter('INC-2', 0, 100)).toHaveLength(25);
  });

  describe('on 50,000 incidents and 200,000 audit rows', () => {
    let pool: Pool;
    const seen: Array<{ sql: string; params: unknown[] }> = [];
    let big: PortalReadModel;
    let direct: (sql: string, params?: unknown[]) => Promise<{ rows: unknown[] }>;
    beforeAll(async () => {
      const session = await migrated('portal_plans');
      pool = session.pool;
      await pool.query(`INSERT INTO incidents (id, number, title, severity, status, service, private, channel_name, declared_by, declared_at, last_update_at)
        SELECT 'INC-' || n, n, 'Incident ' || n, 1 + n % 4, CASE WHEN n % 10 = 0 THEN 'investigating' ELSE 'resolved' END,
               (ARRAY['checkout', 'payments', 'search', NULL])[1 + n % 4], n % 50 = 0, 'inc-' || n, 'U' || (n % 100), ${T0} + n * 60000::bigint, ${T0} + n * 60000::bigint
        FROM generate_series(1, 50000) AS n`);
      await pool.query(`INSERT INTO audit_log (seq, time, actor, source, kind, incident_id, payload, prev_hash, hash)
        SELECT s, ${T0} + s, 'U1', 'slack', CASE WHEN s % 100 = 0 THEN 'incident.member_invited' ELSE 'note.added' END, 'INC-' || (1 + s % 50000),
               CASE WHEN s % 100 = 0 THEN '{"user":"U' || (s % 1000) || '"}' ELSE '{"text":"x"}' END, 'x', 'x'
        FROM generate_series(1, 200000) AS s`);
      await pool.query('ANALYZE');
      // Records each statement the read model sends, to explain it afterwards.
      direct = pool.query.bind(pool);
      pool.query = ((sql: string, params?: unknown[]) => {
        seen.push({ sql, params: params ?? [] });
        return direct(sql, params);
      }) as typeof pool.query;
      big = postgresPortalQueries(session);
    }, 120_000);

    it('pages every list and timeline on an index, never a full scan of incidents or the audit log', async () => {
      const scopes: IncidentScope[] = [admin, { userId: 'U7', allPrivate: false }];
      const bigFilters: IncidentFilter[] = [
        {},
        { status: 'open' },
        { status: 'resolved' },
        { severity: 1 },
        { service: 'checkout' },
        { from: T0 + 1_000 * 60_000, to: T0 + 2_000 * 60_000 },
        { q: 'Incident 4' },
      ];
      for (const scope of scopes) {
        for (const filter of bigFilters) {
          const first = await big.incidents(scope, filter, { limit: 25 });
          expect(first.incidents).toHaveLength(25);
          await big.incidents(scope, filter, { limit: 25, before: first.next! });
        }
      }
      const newest = await big.timeline('INC-77', { order: 'newest', limit: 2 });
      expect(newest.events).toHaveLength(2);
      await big.timeline('INC-77', { order: 'newest', limit: 2, cursor: newest.next! });
      await big.timeline('INC-77', { order: 'oldest', limit: 2, cursor: 10 });
      await big.eventsAfter('INC-77', 1_000, 50);

      const fullScans: string[] = [];
      const walk = (node: { 'Node Type': string; 'Relation Name'?: string; Plans?: unknown[] }, sql: string): void => {
        if (node['Node Type'] === 'Seq Scan') fullScans.push(`${node['Relation Name']}: ${sql}`);
        for (const child of node.Plans ?? []) walk(child as typeof node, sql);
      };
      expect(seen.length).toBe(scopes.length * bigFilters.length * 2 + 4);
      for (const { sql, params } of seen) {
        const plan = (await direct(`EXPLAIN (FORMAT JSON) ${sql}`, params)).rows[0] as { 'QUERY PLAN': Array<{ Plan: Parameters<typeof walk>[0] }> };
        walk(plan['QUERY PLAN'][0]!.Plan, `${sql} ${JSON.stringify(params)}`);
      }
      expect(fullScans).toEqual([]);
    });
  });
});
