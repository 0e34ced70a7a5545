// Suites that run on both storage backends: the kinds, and a store of either kind with a way to read its tables.
import { existsSync, readFileSync } from 'node:fs';
import type { Backend } from '../../src/app.js';
import type { Clock } from '../../src/core/ports.js';
import Database from 'better-sqlite3';
import { parseDatabaseUrl } from '../../src/storage/postgres/database-url.js';
import { createPool } from '../../src/storage/postgres/pool.js';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js';
import { Store } from '../../src/storage/store.js';
import { testDatabase, type TestDatabase } from './postgres.js';

export type BackendKind = 'sqlite' | 'postgres';

/** What `describe.each` runs a suite over. */
export const BACKEND_KINDS: BackendKind[] = ['sqlite', 'postgres'];

export interface TestBackend {
  kind: BackendKind;
  store: Backend;
  /** Runs one statement (`?` placeholders on both) and returns its rows: what a test asserts on or sets up. */
  query<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** Everything the database holds now, as text: the SQLite file and its log, or every row of every PostgreSQL table. */
  rawText(): Promise<string>;
  /** Lets the work that touched the store settle: one turn on SQLite; on PostgreSQL, until no query is in flight. */
  quiet(): Promise<void>;
  /** Closes the store and opens the same database again (a restart), with `clock`. */
  reopen(clock: Clock): Promise<Backend>;
  /** Closes the store and, on PostgreSQL, drops the test's database. */
  close(): Promise<void>;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Until the pool has had no query in flight for a few turns of the event loop in a row. */
async function poolQuiet(pool: PostgresStore['pool']): Promise<void> {
  for (let calm = 0, turns = 0; calm < 3; turns++) {
    await turn();
    if (pool.totalCount > pool.idleCount || pool.waitingCount > 0) {
      calm = 0;
      await new Promise((resolve) => setTimeout(resolve, 1));
    } else {
      calm += 1;
    }
    if (turns > 100_000) throw new Error('the PostgreSQL pool never went quiet');
  }
}

/** `?` placeholders as PostgreSQL numbers them (the statements tests write hold no literal `?`). */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

/**
 * A fresh store: the SQLite file `file`, or a new database on the test run's PostgreSQL cluster.
 * `database`: that PostgreSQL database instead of a new one (a restart after another process wrote
 * it); `close()` drops it all the same.
 */
export async function openTestBackend(
  kind: BackendKind,
  options: { file: string; auditKey: string; clock: Clock; label?: string; database?: TestDatabase },
): Promise<TestBackend> {
  if (kind === 'sqlite') {
    let store = Store.create({ file: options.file, auditKey: options.auditKey, clock: options.clock });
    return {
      kind,
      get store() {
        return store;
      },
      query: <T>(sql: string, ...params: unknown[]): Promise<T[]> => {
        const statement = store.db.prepare(sql);
        if (statement.reader) return Promise.resolve(statement.all(...params) as T[]);
        statement.run(...params);
        return Promise.resolve([]);
      },
      rawText: () => {
        const files = [options.file, `${options.file}-wal`].filter((f) => existsSync(f));
        return Promise.resolve(files.map((f) => readFileSync(f).toString('latin1')).join('\n'));
      },
      quiet: turn,
      reopen: (clock) => {
        store.close();
        store = Store.create({ file: options.file, auditKey: options.auditKey, clock });
        return Promise.resolve(store);
      },
      close: () => {
        store.close();
        return Promise.resolve();
      },
    };
  }
  const db: TestDatabase = options.database ?? (await testDatabase(options.label ?? 'suite'));
  const parsed = parseDatabaseUrl(db.url);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const open = (clock: Clock): Promise<PostgresStore> => PostgresStore.open({ target: parsed.target, auditKey: options.auditKey, clock, poolMax: 4 });
  let store = await open(options.clock);
  return {
    kind,
    get store() {
      return store;
    },
    query: async <T>(sql: string, ...params: unknown[]): Promise<T[]> => (await store.pool.query(numbered(sql), params)).rows as T[],
    rawText: async () => {
      const tables = (await store.pool.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"))
        .rows;
      const dumps = await Promise.all(
        tables.map(async (t) => (await store.pool.query<{ row: string }>(`SELECT t::text AS row FROM "${t.name}" t`)).rows.map((r) => r.row)),
      );
      return dumps.flat().join('\n');
    },
    quiet: () => poolQuiet(store.pool),
    reopen: async (clock) => {
      await store.close();
      store = await open(clock);
      return store;
    },
    close: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/**
 * Rows of one statement read beside a process that holds the store (or after it died): a read-only
 * handle on the SQLite file, or a connection of its own to the PostgreSQL database, with BIGINT
 * columns (sequence numbers, counts) read as numbers, as the SQLite rows hold them.
 */
export async function readRows<T>(where: { file: string } | { url: string }, sql: string): Promise<T[]> {
  if ('file' in where) {
    const db = new Database(where.file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }
  const pool = createPool({ url: where.url }, { max: 1, applicationName: 'edgeops test reader' });
  try {
    return (await pool.query(sql)).rows as T[];
  } finally {
    await pool.end();
  }
}
