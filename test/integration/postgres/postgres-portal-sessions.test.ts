// Portal links and sessions on PostgreSQL answer as on SQLite, and a link opens one session across replicas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPortalSignIn,
  hashSecret,
  type PortalSession,
  type PortalSessionStore,
  type SignInLinkRecord,
} from '../../../src/core/portal/portal-sessions.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { postgresPortalSessions } from '../../../src/storage/postgres/postgres-portal-sessions.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { sqlitePortalSessions } from '../../../src/storage/sqlite-portal-sessions.js';
import { Store } from '../../../src/storage/store.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const T0 = 1_760_000_000_000;

const link = (n: number, over: Partial<SignInLinkRecord> = {}): SignInLinkRecord => ({
  tokenHash: hashSecret(`token-${n}`),
  userId: `U${n}`,
  groups: ['S0SRE', `S${n}`],
  createdAt: T0,
  expiresAt: T0 + 600_000,
  ...over,
});

const session = (idHash: string, over: Partial<PortalSession> = {}): PortalSession => ({
  idHash,
  userId: 'U1',
  groups: ['S0SRE'],
  method: 'link',
  createdAt: T0,
  lastSeenAt: T0,
  ...over,
});

describe('postgresPortalSessions', () => {
  let db: TestDatabase;
  const pools: Pool[] = [];
  let pg: PortalSessionStore;
  let sqlite: Store;
  let lite: PortalSessionStore;
  const replica = (): PostgresUnitOfWork => {
    const pool = createPool(db, { max: 4 });
    pools.push(pool);
    return new PostgresUnitOfWork(pool);
  };
  beforeAll(async () => {
    db = await testDatabase('portal_sessions');
    const first = replica();
    await migratePostgres(first.pool, readMigrations(postgresMigrationsDir()));
    pg = postgresPortalSessions(first);
    sqlite = Store.create({ file: ':memory:', auditKey: 's'.repeat(40), clock: { now: () => T0 } });
    lite = sqlitePortalSessions(sqlite.db);
  });
  afterAll(async () => {
    sqlite.close();
    await Promise.all(pools.map((p) => p.end()));
    await db.drop();
  });

  /** Calls the same method on both backends and expects the same answer; returns it. */
  const both = async <T>(call: (store: PortalSessionStore) => Promise<T>): Promise<T> => {
    const onPg = await call(pg);
    expect(onPg).toEqual(await call(lite));
    return onPg;
  };
  const byHash = (sessions: PortalSession[]): PortalSession[] => [...sessions].sort((a, b) => a.idHash.localeCompare(b.idHash));

  it('redeems a link once, while unexpired, and never an unknown one, as SQLite does', async () => {
    for (const l of [link(1), link(2), link(3, { expiresAt: T0 + 100 }), link(4, { expiresAt: T0 + 100 })]) await both((s) => s.insertLink(l));

    expect(await both((s) => s.consumeLink(link(1).tokenHash, T0 + 1_000))).toEqual(link(1));
    expect(await both((s) => s.consumeLink(link(1).tokenHash, T0 + 2_000))).toBeUndefined();
    // Good up to and including its expiry time, not a millisecond after.
    expect(await both((s) => s.consumeLink(link(3).tokenHash, T0 + 100))).toEqual(link(3, { expiresAt: T0 + 100 }));
    expect(await both((s) => s.consumeLink(link(4).tokenHash, T0 + 101))).toBeUndefined();
    expect(await both((s) => s.consumeLink(hashSecret('never-issued'), T0))).toBeUndefined();
    // An expired try does not use the link up: it was never redeemed.
    expect((await pool().query<{ used_at: number | null }>('SELECT used_at FROM portal_links WHERE token_hash = $1', [link(4).tokenHash])).rows).toEqual([
      { used_at: null },
    ]);
    expect(await both((s) => s.consumeLink(link(2).tokenHash, T0 + 600_000))).toEqual(link(2));
  });

  it('keeps, touches, lists, revokes by prefix and sweeps sessions as SQLite does', async () => {
    const a = hashSecret('session-a');
    const b = hashSecret('session-b');
    const c = hashSecret('session-c');
    const twin = `${a.slice(0, 12)}${'0'.repeat(52)}`;
    await both((s) => s.insertSession(session(a)));
    await both((s) => s.insertSession(session(b, { userId: 'U2', groups: [], method: 'slack', lastSeenAt: T0 + 10 })));
    await both((s) => s.insertSession(session(c, { userId: 'U3', lastSeenAt: T0 + 20 })));
    await both((s) => s.insertSession(session(twin, { userId: 'U4', lastSeenAt: T0 + 30 })));

    expect(await both((s) => s.session(b))).toEqual(session(b, { userId: 'U2', groups: [], method: 'slack', lastSeenAt: T0 + 10 }));
    expect(await both((s) => s.session(hashSecret('nobody')))).toBeUndefined();
    await both((s) => s.touch(a, T0 + 40));
    expect((await both((s) => s.list())).map((s) => [s.userId, s.lastSeenAt])).toEqual([
      ['U1', T0 + 40],
      ['U4', T0 + 30],
      ['U3', T0 + 20],
      ['U2', T0 + 10],
    ]);

    // A handle of 12 characters ends both sessions that share it; a full hash ends only its own.
    const ended = byHash(await pg.deleteSessions(a.slice(0, 12)));
    expect(ended).toEqual(byHash(await lite.deleteSessions(a.slice(0, 12))));
    expect(ended.map((s) => s.userId).sort()).toEqual(['U1', 'U4']);
    expect(await both((s) => s.deleteSessions(c))).toEqual([session(c, { userId: 'U3', lastSeenAt: T0 + 20 })]);
    // Taken as characters, never as a pattern (the core only ever passes hex).
    expect(await pg.deleteSessions('%')).toEqual([]);
    expect(await pg.deleteSessions('_'.repeat(12))).toEqual([]);
    expect((await both((s) => s.list())).map((s) => s.userId)).toEqual(['U2']);

    // Sweeping: sessions idle since before the cut end; links expired before now go.
    await both((s) => s.insertSession(session(c, { userId: 'U3', lastSeenAt: T0 + 20 })));
    expect(await both((s) => s.sweep(T0 + 20, T0 + 200))).toBe(1);
    expect((await both((s) => s.list())).map((s) => s.userId)).toEqual(['U3']);
    const links = (await pool().query<{ token_hash: string }>('SELECT token_hash FROM portal_links ORDER BY token_hash')).rows.map((r) => r.token_hash);
    expect(links).toEqual([link(1).tokenHash, link(2).tokenHash].sort());
  });

  it('lets exactly one of two replicas redeem a link both open at once, for each of 40 links', async () => {
    const [one, two] = [postgresPortalSessions(replica()), postgresPortalSessions(replica())];
    const links = Array.from({ length: 40 }, (_, i) => link(100 + i));
    for (const l of links) await one.insertLink(l);
    const wins = await Promise.all(
      links.map(async (l) => (await Promise.all([one.consumeLink(l.tokenHash, T0 + 1), two.consumeLink(l.tokenHash, T0 + 1)])).filter(Boolean).length),
    );
    expect(wins).toEqual(links.map(() => 1));
  });

  it('opens one session when two replicas redeem the same sign-in token at once, and refuses the other', async () => {
    const audited: string[] = [];
    const signIn = (uow: PostgresUnitOfWork) =>
      createPortalSignIn({
        store: postgresPortalSessions(uow),
        clock: { now: () => T0 + 5 },
        audit: async (entry) => {
          audited.push(entry.kind);
        },
      });
    const [one, two] = [signIn(replica()), signIn(replica())];
    const { token } = await one.issueLink({ id: 'U0SRE0001', groups: ['S0SRE'] }, 'slack');
    const before = (await pg.list()).length;

    const results = await Promise.allSettled([one.redeemLink(token), two.redeemLink(token)]);

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason)).toMatch(
      /this sign-in link was already used, has expired or is not one/,
    );
    expect((await pg.list()).length).toBe(before + 1);
    expect(audited.filter((k) => k === 'portal.signed_in')).toHaveLength(1);
  });

  const pool = (): Pool => pools[0]!;
});
