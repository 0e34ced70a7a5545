// The configuration as a subcommand sees it; kept apart from bootstrap so light commands load little.
import { loadConfig, type Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { CliIo } from './cli-io.js';

export function bootConfig(io: CliIo): Config {
  return loadConfig(io.env, { cwd: io.cwd });
}

/**
 * The configuration of a command that reads and writes through the SQLite store. PostgreSQL is, for
 * now, a target of `edgeops migrate` and `edgeops audit verify` only: silently using the SQLite file
 * instead of the database asked for would split the record in two.
 */
export function bootSqliteConfig(io: CliIo): Config {
  const config = bootConfig(io);
  if (config.postgres) {
    throw new ConfigError([
      `EDGEOPS_DATABASE_URL: serve, console, run and export work on SQLite (EDGEOPS_DB) only in this version; PostgreSQL (${config.postgres.display}) is used by \`edgeops migrate\` and \`edgeops audit verify\` so far. Unset EDGEOPS_DATABASE_URL to use EDGEOPS_DB`,
    ]);
  }
  return config;
}
