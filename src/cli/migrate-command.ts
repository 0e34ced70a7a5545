// `edgeops migrate`: applies pending migrations to the configured database.
import { migrationsDir } from '../paths.js';
import { openDatabase } from '../storage/database.js';
import { migrate, readMigrations } from '../storage/migrate.js';
import { bootConfig } from './cli-config.js';
import { write, type Subcommand } from './cli-io.js';

export const migrateCommand: Subcommand = async (argv, io) => {
  if (argv.length > 0) {
    write(io.stderr, `edgeops migrate: takes no arguments (got ${argv.join(' ')}); set EDGEOPS_DB to choose the database`);
    return 1;
  }
  const config = bootConfig(io);
  const db = openDatabase(config.dbPath, { migrate: false });
  try {
    const applied = migrate(db, readMigrations(migrationsDir()));
    write(io.stdout, applied.length === 0
      ? `${config.dbPath}: schema is up to date`
      : `${config.dbPath}: applied ${applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`).join(', ')}`);
    return 0;
  } finally {
    db.close();
  }
};
