// The ops pages' reads on PostgreSQL: incidents since a time under the member rule, and the audit status, as on SQLite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../../src/core/audit/audit-log.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import type { Outbox } from '../../../src/core/outbox/outbox.js';
import type { PortalOpsReads } from '../../../src/core/portal/portal-ops-reads.js';
import type { IncidentScope } from '../../../src/core/portal/portal-read-model.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { PostgresIncidentStore } from '../../../src/storage/postgres/postgres-incident-store.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresOutbox } from '../../../src/storage/postgres/postgres-outbox.js';
import { postgresPortalOpsReads } from '../../../src/storage/postgres/postgres-portal-ops-reads.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { sqlitePortalOpsReads } from '../../../src/storage/sqlite-portal-ops-reads.js';
import { Store } from '../../../src/storage/store.js';
import { numberedIncident } from '../../helpers/numbered-incident.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const T0 = 1_760_000_000_000;
const HOUR = 3_600_000;
const KEY = 'o'.repeat(40);

const incident = (n: number, over: Partial<Incident> = {}): Incident => numberedIncident(n, T0 + n * HOUR, over);

/** One backend's writers and the port under test. */
interface Side {
  audit: AuditLog;
  outbox: Outbox;
  reads: PortalOpsReads;
}

describe('postgresPortalOpsReads', () => {
  let db: TestDatabase;
  let pool: Pool;
  let sqlite: Store;
  let pg: Side;
  let lite: Side;
  let now = T0;
  beforeAll(async () => {
    db = await testDatabase('portal_ops_reads');
    pool = createPool(db, { max: 4 });
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    const session = new PostgresUnitOfWork(pool);
    // One clock for both backends, moved on by each append only (the SQLite outbox reads it too).
    const clock = { now: () => now };
    const pgAudit = new PostgresAuditLog(session, KEY, clock);
    pg = { audit: pgAudit, outbox: new PostgresOutbox(session, () => now), reads: postgresPortalOpsReads(session, pgAudit) };
    sqlite = Store.create({ file: ':memory:', auditKey: KEY, clock });
    lite = { audit: sqlite.audit, outbox: sqlite.outbox, reads: sqlitePortalOpsReads(sqlite.db, sqlite.audit) };

    const pgIncidents = new PostgresIncidentStore(session);
    const seeded = [
      incident(1),
      incident(2, { private: true, declaredBy: 'U0PRIV' }),
      incident(3, { private: true, roles: { commander: 'U0CMD', comms: null, scribe: null } }),
      incident(4, { status: 'resolved', resolvedAt: T0 + 5 * HOUR }),
      incident(5, { private: true }),
      incident(6, { private: true, roles: { commander: null, comms: null, scribe: 'U0SCRIBE' } }),
    ];
    for (const i of seeded) {
      await pgIncidents.insert(i);
      await sqlite.incidents.insert({ ...i, roles: { ...i.roles } });
    }
  });
  afterAll(async () => {
    sqlite.close();
    await pool.end();
    await db.drop();
  });

  /** Appends the same row on both backends; returns its seq (the same on both). */
  const append = async (kind: string, incidentId: string | null, payload: Record<string, unknown>): Promise<number> => {
    now += 1000;
    const a = await pg.audit.append({ actor: 'U0DECL', source: 'slack', kind, incidentId, payload });
    const b = await lite.audit.append({ actor: 'U0DECL', source: 'slack', kind, incidentId, payload });
    expect(a).toEqual(b);
    return a.seq;
  };
  const status = async () => {
    const onPg = await pg.reads.auditStatus();
    expect(onPg).toEqual(await lite.reads.auditStatus());
    return onPg;
  };

  it('lists incidents declared since a time, private ones only to their members, as SQLite does', async () => {
    await append('incident.member_invited', 'INC-5', { user: 'U0INV' });
    await append('incident.member_invited', null, { user: 'U0OUT' });
    const since = async (scope: IncidentScope, at: number): Promise<number[]> => {
      const onPg = await pg.reads.incidentsSince(scope, at);
      expect(onPg).toEqual(await lite.reads.incidentsSince(scope, at));
      return onPg.map((i) => i.number);
    };
    expect(await since({ userId: 'U0ADMIN', allPrivate: true }, T0)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await since({ userId: 'U0ADMIN', allPrivate: true }, T0 + 3 * HOUR)).toEqual([3, 4, 5, 6]);
    expect(await since({ userId: 'U0ADMIN', allPrivate: true }, T0 + 7 * HOUR)).toEqual([]);
    expect(await since({ userId: 'U0OUT', allPrivate: false }, T0)).toEqual([1, 4]);
    expect(await since({ userId: 'U0PRIV', allPrivate: false }, T0)).toEqual([1, 2, 4]);
    expect(await since({ userId: 'U0DECL', allPrivate: false }, T0)).toEqual([1, 2, 3, 4, 5, 6].filter((n) => n !== 2));
    expect(await since({ userId: 'U0CMD', allPrivate: false }, T0)).toEqual([1, 3, 4]);
    expect(await since({ userId: 'U0SCRIBE', allPrivate: false }, T0 + 2 * HOUR)).toEqual([4, 6]);
    expect(await since({ userId: 'U0INV', allPrivate: false }, T0 + 2 * HOUR)).toEqual([4, 5]);
  });

  it('reports the chain and the last anchor with its post as SQLite does, from no anchor to a newer one', async () => {
    expect((await status()).lastAnchor).toBeNull();
    await append('note.added', 'INC-1', { text: 'checking' });

    const head = await pg.audit.head();
    const anchor = await append('audit.anchored', null, { seq: head.seq, hash: head.hash, channel: 'C0AUDIT' });
    expect((await status()).lastAnchor).toMatchObject({ seq: anchor, head, channel: 'C0AUDIT', delivery: 'unknown', sentAt: null });

    const post = { causeSeq: anchor, target: 'slack' as const, channel: 'C0AUDIT', body: { text: 'anchor' } };
    const [pgPost, litePost] = [await pg.outbox.enqueue(post), await lite.outbox.enqueue(post)];
    expect((await status()).lastAnchor).toMatchObject({ delivery: 'pending', sentAt: null });
    const sentAt = now + 500;
    await pg.outbox.markSent(pgPost, sentAt);
    await lite.outbox.markSent(litePost, sentAt);
    expect((await status()).lastAnchor).toMatchObject({ delivery: 'sent', sentAt });
    // A later post of the same anchor is the one reported.
    await pg.outbox.enqueue(post);
    await lite.outbox.enqueue(post);
    expect((await status()).lastAnchor).toMatchObject({ delivery: 'pending', sentAt: null });

    // An anchored row with an incident is not an anchor of the log; a newer log anchor replaces the old one.
    await append('audit.anchored', 'INC-1', { seq: 1, hash: 'x', channel: 'C0INC' });
    const later = await pg.audit.head();
    const newer = await append('audit.anchored', null, { seq: later.seq, hash: later.hash });
    const last = await status();
    expect(last.lastAnchor).toEqual({ seq: newer, time: expect.any(Number) as number, head: later, channel: '', delivery: 'unknown', sentAt: null });
    expect(last.chain).toMatchObject({ ok: true, lastSeq: newer });
  });
});
