// The migration runner on real SQLite files: order, records, idempotence, rollback, refusals, data kept.
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createIncidentService } from '../../src/core/incidents/incident-service.js';
import type { Outbox } from '../../src/core/outbox/outbox.js';
import { ConfigError } from '../../src/errors.js';
import { migrationsDir } from '../../src/paths.js';
import { openDatabase } from '../../src/storage/database.js';
import { migrate, readMigrations } from '../../src/storage/migrate.js';
import { Store } from '../../src/storage/store.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

afterEach(removeTempDirs);

const APPLIED_AT = Date.parse('2026-03-04T10:00:00.000Z');
const at = (): number => APPLIED_AT;

function migrationsFolder(files: Record<string, string>): string {
  const dir = makeTempDir('migrations');
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(dir, name), sql);
  return dir;
}

function freshDb(): Database.Database {
  return openDatabase(path.join(makeTempDir('db'), 'edgeops.db'), { migrate: false });
}

const recorded = (db: Database.Database) => db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all();
const tables = (db: Database.Database): string[] =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
const columns = (db: Database.Database, table: string): string[] =>
  (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as Array<{ name: string }>).map((r) => r.name);

/** Captures a throw so that both its class and its message can be asserted. */
/** The problems of a ConfigError; anything else fails the test with what was thrown instead. */
function configProblems(err: unknown): string[] {
  if (err instanceof ConfigError) return err.problems;
  throw new Error(`expected a ConfigError, got ${String(err)}`);
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw, but the call returned');
}

const THREE = {
  '0001_widgets.sql': 'CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);',
  // Needs 0001 before it: applied out of order it would fail.
  '0002_widget_colour.sql': "ALTER TABLE widgets ADD COLUMN colour TEXT NOT NULL DEFAULT 'grey';",
  '0003_widget_parts.sql': 'CREATE TABLE parts (widget_id INTEGER NOT NULL REFERENCES widgets (id), name TEXT NOT NULL);',
};

describe('the migration runner', () => {
  it('applies migrations in order and records each version with its name and time', () => {
    const db = freshDb();
    const applied = migrate(db, readMigrations(migrationsFolder(THREE)), at);
    expect(applied.map((m) => m.version)).toEqual([1, 2, 3]);
    expect(recorded(db)).toEqual([
      { version: 1, name: 'widgets', applied_at: APPLIED_AT },
      { version: 2, name: 'widget_colour', applied_at: APPLIED_AT },
      { version: 3, name: 'widget_parts', applied_at: APPLIED_AT },
    ]);
    expect(columns(db, 'widgets')).toEqual(['id', 'name', 'colour']);
    expect(tables(db)).toEqual(['parts', 'schema_migrations', 'widgets']);
    db.close();
  });

  it('is idempotent: a second run applies nothing and changes nothing', () => {
    const db = freshDb();
    const all = readMigrations(migrationsFolder(THREE));
    migrate(db, all.slice(0, 2), at);
    db.prepare("INSERT INTO widgets (name) VALUES ('sprocket')").run();
    expect(migrate(db, all, at).map((m) => m.version)).toEqual([3]);
    const schema = db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
    expect(migrate(db, all, () => APPLIED_AT + 1)).toEqual([]);
    expect(migrate(db, all, () => APPLIED_AT + 2)).toEqual([]);
    expect(db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()).toEqual(schema);
    expect(recorded(db)).toHaveLength(3);
    expect(recorded(db).every((r) => (r as { applied_at: number }).applied_at === APPLIED_AT)).toBe(true);
    expect(db.prepare('SELECT name, colour FROM widgets').all()).toEqual([{ name: 'sprocket', colour: 'grey' }]);
    db.close();
  });

  it('rolls a failing migration back entirely and stops there; the fixed file then applies', () => {
    const db = freshDb();
    const folder = migrationsFolder({
      ...THREE,
      '0002_widget_colour.sql':
        "ALTER TABLE widgets ADD COLUMN colour TEXT NOT NULL DEFAULT 'grey';\n" +
        "CREATE TABLE colours (name TEXT PRIMARY KEY);\nINSERT INTO colours VALUES ('grey');\n" +
        "INSERT INTO no_such_table VALUES ('boom');\n",
    });
    migrate(db, readMigrations(folder).slice(0, 1), at);
    db.prepare("INSERT INTO widgets (name) VALUES ('sprocket')").run();

    const err = thrown(() => migrate(db, readMigrations(folder), at));
    expect(err.message).toMatch(/no such table: no_such_table/);
    // Nothing of 0002 is left (neither its column nor its table), nothing after it ran, and only 0001 is recorded.
    expect(columns(db, 'widgets')).toEqual(['id', 'name']);
    expect(tables(db)).toEqual(['schema_migrations', 'widgets']);
    expect(recorded(db)).toEqual([{ version: 1, name: 'widgets', applied_at: APPLIED_AT }]);
    expect(db.prepare('SELECT name FROM widgets').all()).toEqual([{ name: 'sprocket' }]);
    expect(db.inTransaction).toBe(false);

    writeFileSync(path.join(folder, '0002_widget_colour.sql'), THREE['0002_widget_colour.sql']);
    expect(migrate(db, readMigrations(folder), at).map((m) => m.version)).toEqual([2, 3]);
    expect(db.prepare('SELECT name, colour FROM widgets').all()).toEqual([{ name: 'sprocket', colour: 'grey' }]);
    db.close();
  });

  it('refuses a database newer than the code, and leaves it as it was', () => {
    const db = freshDb();
    const all = readMigrations(migrationsFolder(THREE));
    migrate(db, all, at);
    const err = thrown(() => migrate(db, all.slice(0, 2), at));
    expect(err).toBeInstanceOf(ConfigError);
    expect(configProblems(err)).toEqual(['database schema is at version 3, newer than this edgeops (2); upgrade edgeops']);
    expect(recorded(db)).toHaveLength(3);
    db.close();
  });

  it('makes `edgeops migrate` and start-up refuse a database from a newer edgeops', async () => {
    const dir = makeTempDir('newer');
    const file = path.join(dir, 'edgeops.db');
    const first = await runCli(['migrate'], { env: { EDGEOPS_DB: file } });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied 0001_init/);
    const again = await runCli(['migrate'], { env: { EDGEOPS_DB: file } });
    expect(again.stdout).toBe(`${file}: schema is up to date\n`);

    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, ?, ?)').run('from_the_future', APPLIED_AT);
    db.close();
    const known = readMigrations(migrationsDir()).at(-1)!.version;
    const newer = new RegExp(`database schema is at version 9999, newer than this edgeops \\(${known}\\); upgrade edgeops`);
    const migrated = await runCli(['migrate'], { env: { EDGEOPS_DB: file } });
    expect(migrated.code).toBe(1);
    expect(migrated.stderr).toMatch(newer);
    const started = await runCli(['console'], { env: { EDGEOPS_DB: file }, input: '/incident declare should not run\n' });
    expect(started.code).toBe(1);
    expect(started.stderr).toMatch(newer);
    expect(started.stdout).not.toContain('declared');
  });

  it.each([['1_init.sql'], ['00001_init.sql'], ['0001-init.sql'], ['0001_Init.sql'], ['0001_init-schema.sql'], ['init.sql'], ['0001_.sql']])(
    'refuses a migration file named %s',
    (name) => {
      const folder = migrationsFolder({ [name]: 'CREATE TABLE t (x);' });
      const err = thrown(() => readMigrations(folder));
      expect(err).toBeInstanceOf(ConfigError);
      expect(configProblems(err)).toEqual([`${path.join(folder, name)}: migration files are named NNNN_name.sql`]);
    },
  );

  it('refuses repeated versions, accepts gaps, and ignores files that are not .sql', () => {
    const twice = thrown(() => readMigrations(migrationsFolder({ '0001_a.sql': '', '0001_b.sql': '' })));
    expect(twice).toBeInstanceOf(ConfigError);
    expect(configProblems(twice)).toEqual(['migrations: version 1 is used twice (1_a and 1_b)']);
    const gap = readMigrations(migrationsFolder({ '0001_a.sql': '', '0003_c.sql': '' }));
    expect(gap.map((m) => `${m.version}_${m.name}`)).toEqual(['1_a', '3_c']);
    const withNotes = readMigrations(migrationsFolder({ '0001_a.sql': 'SELECT 1;', 'README.md': '# notes' }));
    expect(withNotes.map((m) => `${m.version}_${m.name}`)).toEqual(['1_a']);
  });

  it('applies a migration that lands after a higher one was applied, and refuses a database with one it does not know', () => {
    const db = freshDb();
    const folder = migrationsFolder({ '0001_widgets.sql': THREE['0001_widgets.sql'], '0003_widget_parts.sql': THREE['0003_widget_parts.sql'] });
    expect(migrate(db, readMigrations(folder), at).map((m) => m.version)).toEqual([1, 3]);
    db.prepare("INSERT INTO widgets (name) VALUES ('sprocket')").run();
    writeFileSync(path.join(folder, '0002_widget_colour.sql'), THREE['0002_widget_colour.sql']);
    expect(migrate(db, readMigrations(folder), at).map((m) => m.version)).toEqual([2]);
    expect(recorded(db).map((r) => (r as { version: number }).version)).toEqual([1, 2, 3]);
    expect(db.prepare('SELECT name, colour FROM widgets').all()).toEqual([{ name: 'sprocket', colour: 'grey' }]);

    const other = freshDb();
    migrate(other, readMigrations(folder), at);
    const withoutTwo = readMigrations(folder).filter((m) => m.version !== 2);
    const err = thrown(() => migrate(other, withoutTwo, at));
    expect(err).toBeInstanceOf(ConfigError);
    expect(configProblems(err)).toEqual(['database has migration 2_widget_colour, which this edgeops does not have; upgrade edgeops']);
    db.close();
    other.close();
  });
});

describe('upgrading a database that holds data', () => {
  it('keeps incidents, audit rows and outbox rows intact, and the chain still verifies and grows', async () => {
    const real = readMigrations(migrationsDir());
    const file = path.join(makeTempDir('upgrade'), 'edgeops.db');
    const auditKey = 'k'.repeat(64);
    let now = APPLIED_AT;
    const clock = { now: () => now };
    const by = { actor: { id: 'U0LOCAL01', groups: [] }, source: 'console' as const };

    // A database as the first release left it: only 0001 applied.
    const old = Store.create({ file, auditKey, clock, migrations: real.slice(0, 1) });
    // Its outbox rows as that release wrote them: the columns 0001 made, nothing later.
    const insertOld = old.db.prepare('INSERT INTO outbox (cause_seq, target, channel, body, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    const oldOutbox: Outbox = {
      ...old.outbox,
      enqueue: async (item) => Number(insertOld.run(item.causeSeq, item.target, item.channel, JSON.stringify(item.body), now, now).lastInsertRowid),
    };
    const service = createIncidentService({ uow: old, audit: old.audit, incidents: old.incidents, outbox: oldOutbox, clock });
    await service.declare(by, { title: 'Checkout errors', severity: 2, service: 'checkout' });
    now += 60_000;
    await service.note(by, 'INC-1', 'rolling back');
    await service.ack(by, 'INC-1');
    await service.declare(by, { title: 'Search slow', private: true });
    now += 60_000;
    await service.resolve(by, 'INC-1', 'Rolled back v2.3');
    await old.audit.append({ actor: 'system', source: 'system', kind: 'system.started', payload: { version: '0.1.0' } });
    const snapshot = (db: Database.Database) => ({
      incidents: db.prepare('SELECT * FROM incidents ORDER BY number').all(),
      audit: db.prepare('SELECT * FROM audit_log ORDER BY seq').all(),
      head: db.prepare('SELECT * FROM audit_head').all(),
      outbox: db.prepare('SELECT * FROM outbox ORDER BY id').all(),
    });
    const before = snapshot(old.db);
    const incidentsBefore = [await old.incidents.get('INC-1'), await old.incidents.get('INC-2')];
    expect(before.audit).toHaveLength(6);
    expect(await old.audit.verify()).toMatchObject({ ok: true, count: 6 });
    old.close();

    // The release after it: every shipped migration, then one that adds a column and a table.
    const folder = makeTempDir('next-migrations');
    for (const m of readMigrations(migrationsDir())) {
      const name = `${String(m.version).padStart(4, '0')}_${m.name}.sql`;
      copyFileSync(path.join(migrationsDir(), name), path.join(folder, name));
    }
    const probe = `${String(real.at(-1)!.version + 1).padStart(4, '0')}_migration_probe.sql`;
    writeFileSync(
      path.join(folder, probe),
      "ALTER TABLE incidents ADD COLUMN migration_probe TEXT NOT NULL DEFAULT 'none';\n" +
        'CREATE TABLE migration_probe_links (incident_id TEXT NOT NULL REFERENCES incidents (id), url TEXT NOT NULL);\n' +
        "INSERT INTO migration_probe_links SELECT id, 'https://status.example.com/' || id FROM incidents;\n",
    );
    const next = readMigrations(folder);
    expect(next).toHaveLength(real.length + 1);

    now += 60_000;
    const upgraded = Store.create({ file, auditKey, clock, migrations: next });
    try {
      expect(recorded(upgraded.db).map((r) => (r as { version: number }).version)).toEqual(next.map((m) => m.version));
      const after = snapshot(upgraded.db);
      expect(after.incidents).toMatchObject(before.incidents);
      expect(after.incidents.map((r) => (r as { migration_probe: string }).migration_probe)).toEqual(['none', 'none']);
      expect(after.audit).toEqual(before.audit);
      expect(after.head).toEqual(before.head);
      expect(after.outbox).toMatchObject(before.outbox);
      // Messages left waiting by the old release get the delivery class new ones would get.
      expect(
        after.outbox.map((r) => {
          const row = r as { body: string; priority: number };
          return [(JSON.parse(row.body) as { kind: string }).kind, row.priority];
        }),
      ).toEqual([
        ['incident.declared', 0],
        ['incident.note', 2],
        ['incident.acknowledged', 1],
        ['incident.declared', 0],
        ['incident.resolved', 1],
      ]);
      expect([await upgraded.incidents.get('INC-1'), await upgraded.incidents.get('INC-2')]).toEqual(incidentsBefore);
      expect(upgraded.db.prepare('SELECT incident_id FROM migration_probe_links ORDER BY incident_id').all()).toEqual([
        { incident_id: 'INC-1' },
        { incident_id: 'INC-2' },
      ]);

      expect(await upgraded.audit.verify()).toMatchObject({ ok: true, count: 6, lastSeq: 6 });
      const service2 = createIncidentService({ uow: upgraded, audit: upgraded.audit, incidents: upgraded.incidents, outbox: upgraded.outbox, clock });
      await service2.note(by, 'INC-2', 'after the upgrade');
      expect(await upgraded.audit.bySeq(7)).toMatchObject({ kind: 'incident.note', prevHash: (before.audit[5] as { hash: string }).hash });
      expect(await upgraded.audit.verify()).toMatchObject({ ok: true, count: 7, lastSeq: 7 });
    } finally {
      upgraded.close();
    }

    const verified = await runCli(['audit', 'verify', '--db', file], { env: { EDGEOPS_AUDIT_KEY: auditKey } });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^audit chain intact: 7 rows, last seq 7, /);
  });
});
