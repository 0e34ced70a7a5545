// A `pg` pool for one PostgreSQL database: BIGINT read as numbers, errors with the password masked.
import pg from 'pg';
import { UnavailableError } from '../../errors.js';
import { maskPassword, type PostgresTarget } from './database-url.js';

/**
 * Every BIGINT edgeops stores is a UTC millisecond time, a seq or a count, all far below 2^53: read
 * them as numbers, as the SQLite driver does, so rows map the same on both backends.
 */
const types: pg.CustomTypesConfig = {
  // pg-types declares every parser as returning `any`; the text parser of any other type is kept as is.
  getTypeParser: (oid, format) =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : (pg.types.getTypeParser(oid, format) as (value: string) => unknown),
};

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(
  target: Pick<PostgresTarget, 'url'>,
  options: { max?: number; applicationName?: string; connectionTimeoutMillis?: number } = {},
): Pool {
  const pool = new pg.Pool({
    connectionString: target.url,
    types,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'edgeops',
    // Also how long a query waits for a free connection of the pool: appends queue on the audit head.
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 60_000,
  });
  // An idle connection the server dropped is replaced on next use; it must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction on one connection of the pool; rolls back when it throws. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    client.release();
  }
}

/** Checks that the database answers; a failure says where (URL masked) and why, never the password. */
export async function connectOrExplain(pool: Pool, target: PostgresTarget): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    throw new UnavailableError(maskPassword(`cannot reach PostgreSQL at ${target.display}: ${(err as Error).message}`, target), { cause: err });
  }
}
