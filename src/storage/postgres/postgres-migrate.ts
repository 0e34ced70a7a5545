// Forward-only migrations of the PostgreSQL schema (migrations/postgres/NNNN_name.sql), once per database.
import { ConfigError } from '../../errors.js';
import { pendingMigrations, type Migration } from '../migrate.js';
import type { Pool } from './pool.js';

/**
 * The session-level advisory lock every migrator takes first: replicas starting together queue on it,
 * and each one after the first finds nothing left to apply. (A number of our own choosing: "edge" in ASCII.)
 */
export const MIGRATION_LOCK = 0x6564_6765;

/** Applies every migration the database has not recorded, each in its own transaction; returns those applied. */
export async function migratePostgres(pool: Pool, migrations: Migration[], now: () => number = Date.now): Promise<Migration[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const recorded = await client.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
      const pending = pendingMigrations(recorded.rows, migrations);
      for (const m of pending) {
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new ConfigError([
            `migration postgres/${String(m.version).padStart(4, '0')}_${m.name} failed and was rolled back: ${(err as Error).message}`,
          ]);
        }
      }
      return pending;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}
