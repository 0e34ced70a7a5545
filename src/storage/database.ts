// Opens the SQLite file with the pragmas edgeops relies on, and brings its schema up to date.
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrationsDir } from '../paths.js';
import { ensurePrivateFile, makePrivateDir, tightenFileMode } from '../private-files.js';
import { migrate, readMigrations, type Migration } from './migrate.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  migrations?: Migration[];
}

/**
 * The database holds notes and run output: its folder is created 0700 and the file 0600 before
 * SQLite opens it. SQLite gives the `-wal` and `-shm` files it creates (now or after any later
 * checkpoint) the mode of the database file, so they are 0600 too; ones left wider by an earlier
 * version are narrowed here.
 */
function preparePrivateDatabase(file: string): void {
  makePrivateDir(path.dirname(file));
  ensurePrivateFile(file);
  tightenFileMode(`${file}-wal`);
  tightenFileMode(`${file}-shm`);
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (file !== ':memory:' && file !== '') preparePrivateDatabase(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // FULL: a row acknowledged to a user survives power loss, not only a crash of the process.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (options.migrate !== false) migrate(db, options.migrations ?? readMigrations(migrationsDir()));
  return db;
}
