// `edgeops migrate --from FILE --to postgres://…` and `edgeops audit verify` on PostgreSQL, through the built CLI.
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/storage/store.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { runCli } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'm'.repeat(48);

async function count(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // COUNT(*) is a BIGINT, which a plain pg client reads as text.
    return Number((await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe('edgeops migrate --from SQLite --to PostgreSQL', () => {
  const dbs: TestDatabase[] = [];
  const fresh = async (label: string): Promise<TestDatabase> => {
    const db = await testDatabase(label);
    dbs.push(db);
    return db;
  };
  afterEach(() => removeTempDirs());
  afterAll(async () => Promise.all(dbs.map((d) => d.drop())));

  it('copies 100,000 audit events; the chain verifies on PostgreSQL with the same head, and a second copy is refused', async () => {
    const file = path.join(makeTempDir('pg-copy'), 'edgeops.db');
    const store = Store.create({ file, auditKey: KEY, clock: { now: () => 1_700_000_000_000 } });
    await store.transaction(async () => {
      for (let i = 0; i < 100_000; i += 1) {
        await store.audit.append({
          actor: `U${i % 7}`,
          source: 'slack',
          kind: 'note.added',
          incidentId: i % 3 === 0 ? null : `inc-${i % 50}`,
          payload: { i, text: `event ${i} ✓` },
        });
      }
    });
    const head = await store.audit.head();
    store.close();
    expect(head.seq).toBe(100_000);

    const target = await fresh('copy_100k');
    const copied = await runCli(['migrate', '--from', file], { env: { EDGEOPS_DATABASE_URL: target.url, EDGEOPS_AUDIT_KEY: KEY } });
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);
    expect(copied.stdout).toContain('copied audit_log: 100000 rows\n');
    expect(copied.stdout).toContain(`source head 100000:${head.hash} (${file})\n`);
    expect(copied.stdout).toMatch(
      new RegExp(`^target head 100000:${head.hash} \\(postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/${target.name}\\)$`, 'm'),
    );
    expect(copied.stdout).toContain('audit chain verified on the target: 100000 rows, same head as the source\n');

    const verified = await runCli(['audit', 'verify'], { env: { EDGEOPS_DATABASE_URL: target.url, EDGEOPS_AUDIT_KEY: KEY } });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`audit chain intact: 100000 rows, last seq 100000, last hash ${head.hash}\n`);
    const anchored = await runCli(['audit', 'anchor', '--db', target.url], { env: { EDGEOPS_AUDIT_KEY: KEY } });
    expect(anchored.stdout).toBe(`100000:${head.hash}\n`);

    const again = await runCli(['migrate', '--from', file, '--to', target.url], { env: { EDGEOPS_AUDIT_KEY: KEY } });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds data \(audit_log: 100000 rows, audit_head: 1 rows\); copy into an empty database \(nothing was copied\)/);
    expect(again.stderr + again.stdout).not.toContain(new URL(target.url).password);
    expect(await count(target.url, 'audit_log')).toBe(100_000);
  }, 300_000);

  it("copies every table of a real database (the demo's incident, runs, steps, approvals, outbox) so audit verify finds the same on both", async () => {
    const dir = makeTempDir('pg-demo');
    const file = path.join(dir, 'edgeops.db');
    const demo = await runCli(['demo'], { cwd: dir, env: { EDGEOPS_DB: file, EDGEOPS_DEMO_STATE: makeTempDir('pg-demo-state') } });
    expect(demo.code).toBe(0);
    const onSqlite = await runCli(['audit', 'verify', '--db', file]);
    expect(onSqlite.code).toBe(0);

    const target = await fresh('copy_demo');
    // The key comes from the data folder of --from, as `audit verify --db FILE` finds it.
    const copied = await runCli(['migrate', '--from', file, '--to', target.url]);
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);
    for (const table of ['incidents', 'runs', 'run_steps', 'run_approvals', 'outbox']) {
      expect(Number(new RegExp(`^copied ${table}: (\\d+) rows$`, 'm').exec(copied.stdout)?.[1])).toBeGreaterThan(0);
    }
    const key = (await import('node:fs')).readFileSync(path.join(dir, 'audit.key'), 'utf8').trim();
    const onPostgres = await runCli(['audit', 'verify'], { env: { EDGEOPS_DATABASE_URL: target.url, EDGEOPS_AUDIT_KEY: key } });
    expect(onPostgres.code).toBe(0);
    const withoutTiming = (s: string) => s.replace(/checked in [\d.]+ s/, 'checked in …');
    expect(withoutTiming(onPostgres.stdout)).toBe(withoutTiming(onSqlite.stdout));
    expect(onPostgres.stdout).toMatch(/exported tables match the audit log: 1 incidents, [1-9]\d* runs/);
  }, 300_000);

  it('refuses a URL that is not PostgreSQL, and never prints the password of one it cannot reach', async () => {
    const file = path.join(makeTempDir('pg-bad'), 'edgeops.db');
    Store.create({ file, auditKey: KEY, clock: { now: () => 1 } }).close();
    const bad = await runCli(['migrate', '--from', file, '--to', 'postgres://edgeops:hunter2222@db.internal/'], { env: { EDGEOPS_AUDIT_KEY: KEY } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'edgeops migrate: --to must name one database after the host, as in …@db.internal:5432/edgeops (got "postgres://edgeops:***@db.internal/"); the form is postgres://USER:PASSWORD@HOST:PORT/DATABASE\n',
    );
    const url = new URL((await fresh('wrong_password')).url);
    url.password = 'not-the-password-4242';
    const refused = await runCli(['migrate', '--from', file], { env: { EDGEOPS_DATABASE_URL: url.toString(), EDGEOPS_AUDIT_KEY: KEY } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^edgeops migrate: cannot reach PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+: password authentication failed for user "postgres"\n$/,
    );
    expect(refused.stderr + refused.stdout).not.toContain('not-the-password-4242');
  });

  it('keeps serve-side commands on SQLite for now: export with EDGEOPS_DATABASE_URL set is refused, saying what to unset', async () => {
    const out = await runCli(['export', 'INC-1'], {
      env: { EDGEOPS_DATABASE_URL: 'postgres://edgeops:hunter2222@db.internal:5432/edgeops', EDGEOPS_AUDIT_KEY: KEY },
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(
      'EDGEOPS_DATABASE_URL: serve, console, run and export work on SQLite (EDGEOPS_DB) only in this version; PostgreSQL (postgres://edgeops:***@db.internal:5432/edgeops)',
    );
    expect(out.stderr).not.toContain('hunter2222');
  });

  it('applies the PostgreSQL schema with plain `edgeops migrate` when EDGEOPS_DATABASE_URL is set, once', async () => {
    const target = await fresh('plain_migrate');
    const first = await runCli(['migrate'], { env: { EDGEOPS_DATABASE_URL: target.url } });
    expect(first.stdout).toMatch(
      /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+: applied postgres\/0001_init, postgres\/0002_portal, postgres\/0005_outbox_leases\n$/,
    );
    const second = await runCli(['migrate'], { env: { EDGEOPS_DATABASE_URL: target.url } });
    expect(second.stdout).toMatch(/: schema is up to date\n$/);
    expect(await count(target.url, 'schema_migrations')).toBe(3);
  });
});
