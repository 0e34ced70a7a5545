// `edgeops migrate`: applies pending migrations to the configured database, or copies SQLite to PostgreSQL.
import { parseArgs } from 'node:util';
import { migrationsDir, postgresMigrationsDir } from '../paths.js';
import { openDatabase } from '../storage/database.js';
import { migrate, readMigrations, type Migration } from '../storage/migrate.js';
import { parseDatabaseUrl, type PostgresTarget } from '../storage/postgres/database-url.js';
import { connectOrExplain, createPool } from '../storage/postgres/pool.js';
import { migratePostgres } from '../storage/postgres/postgres-migrate.js';
import { bootConfig } from './cli-config.js';
import { write, type CliIo, type Subcommand } from './cli-io.js';
import { copySqliteToPostgres } from './migrate-copy.js';

const USAGE = 'usage: edgeops migrate | edgeops migrate --from FILE [--to postgres://USER:PASSWORD@HOST:PORT/DATABASE]';

const names = (applied: Migration[], prefix = ''): string => applied.map((m) => `${prefix}${String(m.version).padStart(4, '0')}_${m.name}`).join(', ');

export const migrateCommand: Subcommand = async (argv, io) => {
  let values: { from?: string; to?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { from: { type: 'string' }, to: { type: 'string' } }, allowPositionals: false, strict: true }));
  } catch (err) {
    write(io.stderr, `edgeops migrate: ${(err as Error).message}\n${USAGE}; set EDGEOPS_DB or EDGEOPS_DATABASE_URL to choose the database`);
    return 1;
  }
  const config = bootConfig(io);
  if (values.from === undefined && values.to !== undefined) {
    write(io.stderr, `edgeops migrate: --to copies a SQLite database, named with --from FILE\n${USAGE}`);
    return 1;
  }
  if (values.from !== undefined) {
    let target: PostgresTarget | undefined = config.postgres;
    if (values.to !== undefined) {
      const parsed = parseDatabaseUrl(values.to);
      if (!parsed.ok) {
        write(io.stderr, `edgeops migrate: --to ${parsed.problems.join('; ')}`);
        return 1;
      }
      target = parsed.target;
    }
    if (!target) {
      write(
        io.stderr,
        `edgeops migrate: --from needs a PostgreSQL database to copy into: --to postgres://… or EDGEOPS_DATABASE_URL (which keeps the password out of the process list)`,
      );
      return 1;
    }
    return copySqliteToPostgres(config, values.from, target, io);
  }
  if (config.postgres) return migratePostgresCommand(config.postgres, io);
  const db = openDatabase(config.dbPath, { migrate: false });
  try {
    const applied = migrate(db, readMigrations(migrationsDir()));
    write(io.stdout, applied.length === 0 ? `${config.dbPath}: schema is up to date` : `${config.dbPath}: applied ${names(applied)}`);
    return 0;
  } finally {
    db.close();
  }
};

async function migratePostgresCommand(target: PostgresTarget, io: CliIo): Promise<number> {
  const pool = createPool(target, { max: 1, applicationName: 'edgeops migrate' });
  try {
    await connectOrExplain(pool, target);
    const applied = await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    write(io.stdout, applied.length === 0 ? `${target.display}: schema is up to date` : `${target.display}: applied ${names(applied, 'postgres/')}`);
    return 0;
  } finally {
    await pool.end();
  }
}
