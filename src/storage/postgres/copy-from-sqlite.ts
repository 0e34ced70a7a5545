// Copies every edgeops table of a SQLite file into an empty PostgreSQL database, in one transaction.
import type Database from 'better-sqlite3';
import { ConfigError } from '../../errors.js';
import type { PoolClient } from './pool.js';

/** In the order foreign keys need them: a row's parents are copied before it. */
export const COPIED_TABLES = [
  'audit_log',
  'audit_head',
  'incidents',
  'outbox',
  'runs',
  'run_steps',
  'run_approvals',
  'leases',
  'pagerduty_events',
  'pagerduty_trigger_runs',
] as const;

/**
 * Columns only PostgreSQL has (migrations/postgres/0004_replicas.sql): a SQLite file has no replicas,
 * so they are left NULL. A run copied while queued or running has no replica and is interrupted by
 * the first replica that starts (docs/operations.md).
 */
const POSTGRES_ONLY: Partial<Record<(typeof COPIED_TABLES)[number], readonly string[]>> = { runs: ['replica_id'] };

/** Rows per INSERT: well under PostgreSQL's 65,535 parameters for the widest table (21 columns). */
const BATCH_ROWS = 1_000;

export interface CopyProgress {
  table: string;
  rows: number;
}

/** Names the tables of the target that already hold rows (the copy goes into an empty database only). */
export async function nonEmptyTables(client: PoolClient): Promise<Array<{ table: string; rows: number }>> {
  const found: Array<{ table: string; rows: number }> = [];
  for (const table of COPIED_TABLES) {
    const n = (await client.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0]!.n;
    if (n > 0) found.push({ table, rows: n });
  }
  return found;
}

/**
 * Copies each table in batches on `client`, which the caller holds inside one transaction: a copy that
 * fails part way leaves the target empty, so it can simply be run again. The target's columns must be
 * the source's (both at the newest schema); BOOLEAN columns take SQLite's 0/1.
 */
export async function copyTables(
  source: Database.Database,
  client: PoolClient,
  onTable: (p: CopyProgress) => void = () => undefined,
): Promise<CopyProgress[]> {
  const done: CopyProgress[] = [];
  for (const table of COPIED_TABLES) {
    const target = (
      await client.query<{ column_name: string; data_type: string }>(
        'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position',
        [table],
      )
    ).rows;
    const sourceColumns = (source.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]).sort();
    const onlyHere = POSTGRES_ONLY[table] ?? [];
    const targetColumns = target.map((c) => c.column_name).filter((c) => !onlyHere.includes(c));
    if (sourceColumns.join(',') !== [...targetColumns].sort().join(',')) {
      throw new ConfigError([
        `table ${table}: the SQLite file has columns (${sourceColumns.join(', ')}) but PostgreSQL has (${[...targetColumns].sort().join(', ')}); bring both to this edgeops's schema first (edgeops migrate)`,
      ]);
    }
    const booleans = new Set(target.filter((c) => c.data_type === 'boolean').map((c) => c.column_name));
    const columnList = targetColumns.map((c) => `"${c}"`).join(', ');
    const rows = source.prepare(`SELECT ${columnList} FROM ${table} ORDER BY rowid`).raw(true).iterate() as IterableIterator<unknown[]>;
    let batch: unknown[][] = [];
    let count = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const params: unknown[] = [];
      const tuples = batch.map(
        (row) =>
          `(${row
            .map((v, i) => {
              params.push(booleans.has(targetColumns[i]!) && v !== null ? v === 1 || v === true : v);
              return `$${params.length}`;
            })
            .join(', ')})`,
      );
      await client.query(`INSERT INTO ${table} (${columnList}) VALUES ${tuples.join(', ')}`, params);
      count += batch.length;
      batch = [];
    };
    for (const row of rows) {
      batch.push(row);
      if (batch.length === BATCH_ROWS) await flush();
    }
    await flush();
    done.push({ table, rows: count });
    onTable({ table, rows: count });
  }
  // Outbox ids were copied as they were: new messages must be numbered after them.
  await client.query("SELECT setval(pg_get_serial_sequence('outbox', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM outbox");
  return done;
}
