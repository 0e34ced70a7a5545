// The PostgreSQL unit of work: one connection per transaction, found by every repository call made inside it.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { QueryResultRow } from 'pg';
import type { Pool, PoolClient } from './pool.js';

export interface Queryable {
  // R names the row shape the SQL selects, as pg's own `query<R>` does: the driver returns untyped
  // rows, so a caller-chosen row type is the point of the parameter.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  query<R extends QueryResultRow>(sql: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/**
 * `transaction(fn)` runs `fn` on one connection inside BEGIN … COMMIT (READ COMMITTED, PostgreSQL's
 * default: an append that waited for the audit head's lock reads the head its predecessor wrote).
 * Repositories ask `session.current()` for the connection to use, so the calls `fn` makes land in
 * the same transaction without being handed a client; nested calls join the outer transaction.
 */
export class PostgresUnitOfWork {
  private readonly active = new AsyncLocalStorage<PoolClient>();

  constructor(readonly pool: Pool) {}

  inTransaction(): boolean {
    return this.active.getStore() !== undefined;
  }

  /** The transaction's connection inside `transaction`, else the pool (each query on its own). */
  current(): Queryable {
    return this.active.getStore() ?? this.pool;
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTransaction()) return fn();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await this.active.run(client, fn);
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
}
