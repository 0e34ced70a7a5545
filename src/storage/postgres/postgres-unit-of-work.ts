// The PostgreSQL unit of work: one connection per transaction, found by every repository call made inside it, one writer at a time.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Deferral } from '../deferral.js';
import type { QueryResultRow } from 'pg';
import { inTransaction, type Pool, type PoolClient } from './pool.js';

export interface Queryable {
  // R names the row shape the SQL selects, as pg's own `query<R>` does: the driver returns untyped
  // rows, so a caller-chosen row type is the point of the parameter.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  query<R extends QueryResultRow>(sql: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/**
 * Taken by every transaction right after BEGIN, until it ends: state changes from every connection
 * and every replica run one at a time, as on SQLite, whose one connection takes one writer. Under
 * READ COMMITTED, two replicas could otherwise both read an incident as open and both acknowledge
 * it; the second now reads what the first committed, and is refused as it would be on SQLite.
 * (A number of our own choosing: "writ" in ASCII.)
 */
export const WRITE_LOCK = 0x7772_6974;

/** One outermost transaction: its connection, usable only while `open`. */
interface Tx {
  client: PoolClient;
  open: boolean;
}

/**
 * `transaction(fn)` runs `fn` on one connection inside BEGIN … COMMIT (READ COMMITTED, PostgreSQL's
 * default, serialised by WRITE_LOCK). Repositories ask `session.current()` for the connection to use,
 * so the calls `fn` makes land in the same transaction without being handed a client; nested calls
 * join the outer transaction. Work started inside a transaction that goes on after it has ended (a
 * run executing in the background) no longer sees its connection: it uses the pool, and its own
 * transactions, like anyone else's.
 */
export class PostgresUnitOfWork {
  private readonly active = new AsyncLocalStorage<Tx>();
  private readonly deferral = new Deferral();
  /** The flush in progress, and the one that starts after it (shared by every caller meanwhile). */
  private flushing: Promise<void> | undefined;
  private nextFlush: Promise<void> | undefined;

  /** How the log is flushed (tests count and hold flushes); the default writes one record and commits. */
  private readonly flush: () => Promise<void>;

  constructor(
    readonly pool: Pool,
    options: { flush?: () => Promise<void> } = {},
  ) {
    this.flush =
      options.flush ??
      (() =>
        inTransaction(pool, async (client) => {
          await client.query("SELECT pg_logical_emit_message(true, 'edgeops', 'durable')");
        }));
  }

  private open(): Tx | undefined {
    const tx = this.active.getStore();
    return tx?.open ? tx : undefined;
  }

  inTransaction(): boolean {
    return this.open() !== undefined;
  }

  /** The transaction's connection inside `transaction`, else the pool (each query on its own). */
  current(): Queryable {
    return this.open()?.client ?? this.pool;
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTransaction()) return fn();
    const client = await this.pool.connect();
    const tx: Tx = { client, open: true };
    try {
      await client.query('BEGIN');
      try {
        // A deferred commit returns once its record is written, not flushed: the write lock is held
        // for the transaction's own statements only, and `durable()` flushes many commits at once.
        await client.query(
          this.deferral.active() ? "SELECT pg_advisory_xact_lock($1), set_config('synchronous_commit', 'off', true)" : 'SELECT pg_advisory_xact_lock($1)',
          [WRITE_LOCK],
        );
        const result = await this.active.run(tx, fn).finally(() => {
          // Closed before COMMIT is sent: nothing left running can slip a statement in after it.
          tx.open = false;
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      tx.open = false;
      client.release();
    }
  }

  /**
   * Runs `work` with its commits not waiting for the write-ahead log to reach the disk
   * (`synchronous_commit` off for those transactions only). Their changes are visible at once but
   * not yet durable: only for callers that tell nobody about the result until `durable()` has
   * resolved, such as a slash command answered after it. Work `work` leaves running after it
   * settles (a run it started) commits durably again.
   */
  async deferSync<T>(work: () => Promise<T>): Promise<T> {
    return this.deferral.run(work);
  }

  /**
   * Resolves once a flush begun after this call has made every earlier commit durable. One flush
   * serves every caller waiting when it starts: a transaction that writes one record to the log
   * (`pg_logical_emit_message`) and commits with the server's own `synchronous_commit`, which flushes
   * the log up to its commit, and so every commit before it, from any connection.
   */
  durable(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    // The flush in progress may have begun before the caller's commit: wait for the next one.
    return (this.nextFlush ??= this.flushing
      .catch(() => undefined)
      .then(() => {
        this.nextFlush = undefined;
        return this.durable();
      }));
  }
}
