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
  migrations.forEach((mig, i) => {
    if (mig.version !== i + 1) throw new ConfigError([`migrations: expected version ${i + 1}, found ${mig.version}_${mig.name}`]);
  });
  return migrations;
}

/** Applies every migration above the recorded version; returns the ones applied. */
export function migrate(db: Database.Database, migrations: Migration[], now: () => number = Date.now): Migration[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  const known = migrations.length;
  if (current > known) {
    throw new ConfigError([`database schema is at version ${current}, newer than this edgeops (${known}); upgrade edgeops`]);
  }
  const pending = migrations.filter((m) => m.version > current);
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, now());
    }).immediate();
  }
  return pending;
}
