// Forward-only migrations from migrations/NNNN_name.sql, each applied in one transaction and recorded.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function readMigrations(dir: string): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const m = FILE.exec(file);
    if (!m) throw new ConfigError([`${path.join(dir, file)}: migration files are named NNNN_name.sql`]);
    migrations.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(path.join(dir, file), 'utf8') });
  }
  // Numbers are handed out per change, so one may land before a lower one: gaps are fine, repeats are not.
  migrations.forEach((mig, i) => {
    const before = migrations[i - 1];
    if (before && mig.version <= before.version) {
      throw new ConfigError([`migrations: version ${mig.version} is used twice (${before.version}_${before.name} and ${mig.version}_${mig.name})`]);
    }
  });
  return migrations;
}

/**
 * The migrations a database that recorded `recorded` still needs, lower numbers first (one that landed
 * after a higher one still runs); refuses a database written by a newer edgeops.
 */
export function pendingMigrations(recorded: ReadonlyArray<{ version: number; name: string }>, migrations: Migration[]): Migration[] {
  const knownVersions = new Set(migrations.map((m) => m.version));
  const newest = migrations.at(-1)?.version ?? 0;
  const current = recorded.at(-1)?.version ?? 0;
  if (current > newest) {
    throw new ConfigError([`database schema is at version ${current}, newer than this edgeops (${newest}); upgrade edgeops`]);
  }
  const unknown = recorded.find((r) => !knownVersions.has(r.version));
  if (unknown) {
    throw new ConfigError([`database has migration ${unknown.version}_${unknown.name}, which this edgeops does not have; upgrade edgeops`]);
  }
  const applied = new Set(recorded.map((r) => r.version));
  return migrations.filter((m) => !applied.has(m.version));
}

/** Applies every migration the database has not recorded yet, in version order; returns the ones applied. */
export function migrate(db: Database.Database, migrations: Migration[], now: () => number = Date.now): Migration[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const recorded = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as Array<{ version: number; name: string }>;
  const pending = pendingMigrations(recorded, migrations);
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, now());
    }).immediate();
  }
  return pending;
}
