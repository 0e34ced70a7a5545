// PostgreSQL migrations: the whole schema applies, once, even with several replicas migrating together.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations, type Migration } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const SQLITE_TABLES = [
  'audit_head',
  'audit_log',
  'incidents',
  'leases',
  'outbox',
  'pagerduty_events',
  'pagerduty_trigger_runs',
  'portal_links',
  'portal_sessions',
  'run_approvals',
  'run_steps',
  'runs',
];
/**
 * Tables only a database shared by replicas needs: replicas' heartbeats (migrations/postgres/0004_replicas.sql)
 * and which replica delivers which outbox channel (0005). Scheduled ticks' claims (0004) gave way to
 * pg-boss jobs (0006); pg-boss keeps its tables in a schema of its own.
 */
const POSTGRES_ONLY_TABLES = ['replicas', 'outbox_channel_leases'];

describe('PostgreSQL migrations', () => {
  const dbs: TestDatabase[] = [];
  const pools: Pool[] = [];
  const fresh = async (label: string): Promise<TestDatabase> => {
    const db = await testDatabase(label);
    dbs.push(db);
    return db;
  };
  const pool = (db: TestDatabase, max = 2): Pool => {
    const p = createPool(db, { max });
    pools.push(p);
    return p;
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(dbs.map((d) => d.drop()));
  });

  let migrations: Migration[];
  beforeAll(() => {
    migrations = readMigrations(postgresMigrationsDir());
  });

  it('creates every table of the SQLite schema, and those only replicas need', async () => {
    const p = pool(await fresh('schema'));
    expect((await migratePostgres(p, migrations)).map((m) => m.version)).toEqual(migrations.map((m) => m.version));
    const tables = await p.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([...SQLITE_TABLES, ...POSTGRES_ONLY_TABLES, 'schema_migrations'].sort());
    expect(await migratePostgres(p, migrations)).toEqual([]);
  });

  it('applies each migration exactly once when three replicas migrate a fresh database at the same time', async () => {
    const db = await fresh('concurrent');
    // A slow extra migration widens the window in which a migrator without the lock would apply it twice.
    const slow: Migration = {
      version: 9000,
      name: 'slow_probe',
      sql: 'SELECT pg_sleep(0.3); CREATE TABLE probe (n INTEGER); INSERT INTO probe VALUES (1);',
    };
    const all = [...migrations, slow];
    const results = await Promise.all([0, 1, 2].map(() => migratePostgres(pool(db, 1), all)));
    const appliedCounts = new Map<number, number>();
    for (const applied of results) for (const m of applied) appliedCounts.set(m.version, (appliedCounts.get(m.version) ?? 0) + 1);
    expect([...appliedCounts.entries()].sort((a, b) => a[0] - b[0])).toEqual(all.map((m) => [m.version, 1]));
    const p = pool(db);
    expect((await p.query('SELECT n FROM probe')).rows).toEqual([{ n: 1 }]);
    expect((await p.query('SELECT version FROM schema_migrations ORDER BY version')).rows).toEqual(all.map((m) => ({ version: m.version })));
  });

  it('rolls a failing migration back whole and names it, leaving the ones before it applied', async () => {
    const db = await fresh('failing');
    const broken: Migration = { version: 9001, name: 'broken', sql: 'CREATE TABLE half (n INTEGER); SELECT no_such_function();' };
    const p = pool(db);
    await expect(migratePostgres(p, [...migrations, broken])).rejects.toThrow(
      /migration postgres\/9001_broken failed and was rolled back: function no_such_function\(\) does not exist/,
    );
    expect((await p.query("SELECT to_regclass('half') AS t")).rows).toEqual([{ t: null }]);
    expect((await p.query('SELECT max(version) AS v FROM schema_migrations')).rows).toEqual([{ v: migrations.at(-1)!.version }]);
  });

  it('refuses a database migrated by a newer edgeops', async () => {
    const db = await fresh('newer');
    const p = pool(db);
    await migratePostgres(p, migrations);
    await p.query("INSERT INTO schema_migrations VALUES (9999, 'future', 0)");
    await expect(migratePostgres(p, migrations)).rejects.toThrow(/database schema is at version 9999, newer than this edgeops/);
  });

  it('reads BIGINT columns as numbers', async () => {
    const client = new pg.Client({ connectionString: dbs[0]!.url });
    await client.connect();
    const raw = (await client.query<{ n: unknown }>('SELECT 1::bigint AS n')).rows[0]!.n;
    await client.end();
    expect(raw).toBe('1');
    expect((await pool(dbs[0]!).query<{ n: unknown }>('SELECT 1::bigint AS n')).rows[0]!.n).toBe(1);
  });
});
