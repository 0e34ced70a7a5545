// `edgeops migrate --from FILE --to postgres://…`: moves a SQLite database to PostgreSQL and proves the chain came along.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { resolveAuditKey } from '../audit-key.js';
import { formatHeadRef } from '../core/audit/head-ref.js';
import { systemClock } from '../core/ports.js';
import { postgresMigrationsDir, migrationsDir } from '../paths.js';
import { pendingMigrations, readMigrations } from '../storage/migrate.js';
import { copyTables, nonEmptyTables } from '../storage/postgres/copy-from-sqlite.js';
import { maskPassword, type PostgresTarget } from '../storage/postgres/database-url.js';
import { connectOrExplain, createPool, inTransaction } from '../storage/postgres/pool.js';
import { PostgresAuditLog } from '../storage/postgres/postgres-audit-log.js';
import { migratePostgres } from '../storage/postgres/postgres-migrate.js';
import { PostgresUnitOfWork } from '../storage/postgres/postgres-unit-of-work.js';
import { SqliteAuditLog } from '../storage/sqlite-audit-log.js';
import type { Config } from '../config.js';
import { UnavailableError, isEdgeopsError } from '../errors.js';
import { write, type CliIo } from './cli-io.js';

export async function copySqliteToPostgres(config: Config, fromArg: string, target: PostgresTarget, io: CliIo): Promise<number> {
  const from = path.resolve(io.cwd, fromArg);
  if (!existsSync(from)) {
    write(io.stderr, `edgeops migrate: no SQLite database at ${from} (--from)`);
    return 1;
  }
  const { key } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: path.dirname(from), generate: false });
  // Read-only: moving a database must never change the one being moved.
  const source = new Database(from, { readonly: true, fileMustExist: true });
  const pool = createPool(target, { max: 2, applicationName: 'edgeops migrate' });
  try {
    const recorded = source.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()
      ? (source.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as Array<{ version: number; name: string }>)
      : [];
    const behind = pendingMigrations(recorded, readMigrations(migrationsDir()));
    if (behind.length > 0) {
      write(
        io.stderr,
        `edgeops migrate: ${from} is not at this edgeops's schema (missing ${behind.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`).join(', ')}); run \`EDGEOPS_DB=${from} edgeops migrate\` first, then copy`,
      );
      return 1;
    }
    const sourceChain = new SqliteAuditLog(source, key, systemClock).verifyNow();
    if (!sourceChain.ok) {
      write(
        io.stderr,
        `edgeops migrate: the audit chain of ${from} is broken at seq ${sourceChain.seq}: ${sourceChain.reason}; not copying it (check it with edgeops audit verify --db ${from})`,
      );
      return 1;
    }
    await connectOrExplain(pool, target);
    await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
    const copied = await inTransaction(pool, async (client) => {
      // No replica may write between the emptiness check and the copy: the copy owns the tables until it commits.
      await client.query(
        `LOCK TABLE audit_log, audit_head, incidents, outbox, runs, run_steps, run_approvals, leases, pagerduty_events, pagerduty_trigger_runs IN EXCLUSIVE MODE`,
      );
      const occupied = await nonEmptyTables(client);
      if (occupied.length > 0) return occupied;
      await copyTables(source, client, (p) => write(io.stdout, `copied ${p.table}: ${p.rows} rows`));
      return [];
    });
    if (copied.length > 0) {
      write(
        io.stderr,
        `edgeops migrate: ${target.display} already holds data (${copied.map((t) => `${t.table}: ${t.rows} rows`).join(', ')}); copy into an empty database (nothing was copied)`,
      );
      return 1;
    }
    const targetChain = await new PostgresAuditLog(new PostgresUnitOfWork(pool), key, systemClock).verify();
    const sourceHead = formatHeadRef({ seq: sourceChain.lastSeq, hash: sourceChain.lastHash });
    write(io.stdout, `source head ${sourceHead} (${from})`);
    if (!targetChain.ok) {
      write(io.stderr, `edgeops migrate: the audit chain on ${target.display} does not verify, broken at seq ${targetChain.seq}: ${targetChain.reason}`);
      return 1;
    }
    const targetHead = formatHeadRef({ seq: targetChain.lastSeq, hash: targetChain.lastHash });
    write(io.stdout, `target head ${targetHead} (${target.display})`);
    if (targetHead !== sourceHead) {
      write(io.stderr, 'edgeops migrate: the heads differ: the copy is not the same chain');
      return 1;
    }
    write(io.stdout, `audit chain verified on the target: ${targetChain.count} rows, same head as the source`);
    return 0;
  } catch (err) {
    if (isEdgeopsError(err)) throw err;
    // The driver's messages may quote the connection string: never print its password (nor a stack).
    throw new UnavailableError(maskPassword(`PostgreSQL at ${target.display}: ${(err as Error).message}`, target));
  } finally {
    source.close();
    await pool.end();
  }
}
