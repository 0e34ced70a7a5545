// The PostgreSQL store as the app opens it: migrated on open, /healthz's check, and one writer at a time across replicas.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIncidentService, type IncidentService } from '../../../src/core/incidents/incident-service.js';
import type { IncidentStore } from '../../../src/core/incidents/incident-store.js';
import type { By } from '../../../src/core/ports.js';
import { ConflictError, UnavailableError } from '../../../src/errors.js';
import { parseDatabaseUrl, type PostgresTarget } from '../../../src/storage/postgres/database-url.js';
import { PostgresStore } from '../../../src/storage/postgres/postgres-store.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const KEY = 'p'.repeat(64);
const clock = { now: () => 1_760_000_000_000 };
const by = (id: string): By => ({ actor: { id, groups: [] }, source: 'slack' });

function target(url: string): PostgresTarget {
  const parsed = parseDatabaseUrl(url);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return parsed.target;
}

/**
 * Lets two replicas' reads meet: each caller waits until the other has also arrived, or until the
 * other is seen waiting for a lock in the database (it cannot arrive before this one commits).
 */
function meetingPoint(url: string): { arrive(): Promise<void>; close(): Promise<void> } {
  const watcher = new pg.Pool({ connectionString: url, max: 1 });
  let arrived = 0;
  return {
    async arrive() {
      arrived += 1;
      for (let polls = 0; arrived < 2; polls++) {
        const { rows } = await watcher.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        );
        if (Number(rows[0]!.n) > 0) return;
        if (polls > 1_000) throw new Error('the other replica neither read the incident nor waited for a lock');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () => watcher.end(),
  };
}

/** The store's incidents, every read pausing at the meeting point before the caller goes on with it. */
function meetingAfterReads(incidents: IncidentStore, meet: () => Promise<void>): IncidentStore {
  const paused = Object.create(incidents) as IncidentStore;
  paused.get = async (id) => {
    const found = await incidents.get(id);
    await meet();
    return found;
  };
  return paused;
}

describe('PostgresStore', () => {
  let db: TestDatabase;
  const opened: PostgresStore[] = [];
  const open = async (options: { poolMax?: number } = {}): Promise<PostgresStore> => {
    const store = await PostgresStore.open({ target: target(db.url), auditKey: KEY, clock, ...options });
    opened.push(store);
    return store;
  };
  beforeAll(async () => {
    db = await testDatabase('store');
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await db.drop();
  });

  it('applies the migrations on open, once however many replicas open it together', async () => {
    await Promise.all([open(), open()]);
    const { rows } = await opened[0]!.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(readMigrations(postgresMigrationsDir()).map((m) => m.version));
  });

  it('says why it cannot open a server that does not answer, with the password masked', async () => {
    const unreachable = target('postgres://edgeops:hunter2222@127.0.0.1:1/edgeops');
    const failure = await PostgresStore.open({ target: unreachable, auditKey: KEY, clock }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as Error).message).toMatch(/^cannot reach PostgreSQL at postgres:\/\/edgeops:\*\*\*@127\.0\.0\.1:1\/edgeops: /);
    expect((failure as Error).message).not.toContain('hunter2222');
  });

  it('reports itself writable, and not writable once its sessions open transactions read only', async () => {
    const store = await open({ poolMax: 1 });
    expect(await store.writable()).toBe(true);
    // The pool's one connection, kept for the next query: as a hot standby or a read-only database answers.
    await store.pool.query('SET SESSION default_transaction_read_only = on');
    expect(await store.writable()).toBe(false);
  });

  it('commits deferred work without waiting for the disk, and durable() flushes the log past those commits', async () => {
    // The test cluster turns synchronous commits off for speed; this database waits for the disk, as a production one does.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${db.name} SET synchronous_commit = on`);
    await admin.end();
    const store = await open();
    const setting = async (): Promise<string> =>
      (await store.session.current().query<{ s: string }>("SELECT current_setting('synchronous_commit') AS s")).rows[0]!.s;

    let later: Promise<string> | undefined;
    const deferred = await store.deferSync(async () => {
      const inside = await store.transaction(async () => {
        await store.audit.append({ actor: 'U1', source: 'slack', kind: 'test.deferred', payload: {} });
        return setting();
      });
      // Work left running once the deferred work has settled commits durably again.
      later = Promise.resolve()
        .then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(() => store.transaction(setting));
      return inside;
    });
    const mark = (await store.pool.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
    await store.durable();
    const flushed = (await store.pool.query<{ ok: boolean }>('SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok', [mark])).rows[0]!.ok;

    expect(deferred).toBe('off');
    expect(await later).toBe('on');
    expect(await store.transaction(setting)).toBe('on');
    expect(flushed).toBe(true);
  });

  it('runs work started inside a transaction that goes on after the commit outside it, on a connection of its own', async () => {
    const store = await open();
    let committed!: () => void;
    const afterCommit = new Promise<void>((resolve) => (committed = resolve));
    let later: Promise<{ seq: number }> | undefined;
    const first = await store.transaction(async () => {
      const event = await store.audit.append({ actor: 'U1', source: 'slack', kind: 'test.inside', payload: {} });
      later = afterCommit.then(() => store.audit.append({ actor: 'U1', source: 'slack', kind: 'test.after', payload: {} }));
      return event;
    });
    committed();
    const second = await later!;
    expect(second.seq).toBe(first.seq + 1);
    expect((await store.audit.bySeq(second.seq))?.kind).toBe('test.after');
    expect((await store.audit.verify()).ok).toBe(true);
  });

  describe('two replicas on one database', () => {
    let meeting: ReturnType<typeof meetingPoint>;
    let replicas: Array<{ store: PostgresStore; incidents: IncidentService }>;
    beforeAll(async () => {
      meeting = meetingPoint(db.url);
      replicas = await Promise.all(
        [0, 1].map(async () => {
          const store = await open({ poolMax: 4 });
          const incidents = createIncidentService({
            uow: store,
            audit: store.audit,
            incidents: meetingAfterReads(store.incidents, () => meeting.arrive()),
            outbox: store.outbox,
            clock,
          });
          return { store, incidents };
        }),
      );
    });
    afterAll(async () => {
      await meeting.close();
    });

    it('acknowledging the same incident at once records one ack; the other replica is refused with a ConflictError', async () => {
      const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
      const plain = createIncidentService({ uow: a.store, audit: a.store.audit, incidents: a.store.incidents, outbox: a.store.outbox, clock });
      const declared = await plain.declare(by('U0SRE0001'), { title: 'Checkout is down' });
      const results = await Promise.allSettled([a.incidents.ack(by('U0SRE0001'), declared.id), b.incidents.ack(by('U0SRE0002'), declared.id)]);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.reason).toBeInstanceOf(ConflictError);
      expect((refused[0]!.reason as Error).message).toMatch(new RegExp(`^${declared.id} was already acknowledged at `));
      const { rows } = await a.store.pool.query<{ n: number }>(
        "SELECT count(*) AS n FROM audit_log WHERE kind = 'incident.acknowledged' AND incident_id = $1",
        [declared.id],
      );
      expect(rows[0]!.n).toBe(1);
      expect((await b.store.audit.verify()).ok).toBe(true);
    });
  });
});
