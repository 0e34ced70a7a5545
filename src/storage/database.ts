// Opens the SQLite file with the pragmas edgeops relies on, and brings its schema up to date.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrationsDir } from '../paths.js';
import { migrate, readMigrations, type Migration } from './migrate.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  migrations?: Migration[];
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // FULL: a row acknowledged to a user survives power loss, not only a crash of the process.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (options.migrate !== false) migrate(db, options.migrations ?? readMigrations(migrationsDir()));
  return db;
}
