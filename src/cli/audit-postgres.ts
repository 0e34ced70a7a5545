// `edgeops audit verify|anchor` against PostgreSQL: opens a small pool, checks one snapshot, closes it.
import type { HeadRef } from '../core/audit/head-ref.js';
import { formatHeadRef } from '../core/audit/head-ref.js';
import { systemClock } from '../core/ports.js';
import { UnavailableError, isEdgeopsError } from '../errors.js';
import { maskPassword, type PostgresTarget } from '../storage/postgres/database-url.js';
import { connectOrExplain, createPool } from '../storage/postgres/pool.js';
import { PostgresAuditLog } from '../storage/postgres/postgres-audit-log.js';
import { PostgresUnitOfWork } from '../storage/postgres/postgres-unit-of-work.js';
import { verifyPostgresDatabase } from '../storage/postgres/verify-postgres-database.js';
import type { DatabaseVerdict } from '../storage/verify-audit-database.js';
import { write, type CliIo } from './cli-io.js';

async function withSession<T>(target: PostgresTarget, fn: (session: PostgresUnitOfWork) => Promise<T>): Promise<T> {
  const pool = createPool(target, { max: 1, applicationName: 'edgeops audit' });
  try {
    await connectOrExplain(pool, target);
    return await fn(new PostgresUnitOfWork(pool));
  } catch (err) {
    if (isEdgeopsError(err)) throw err;
    throw new UnavailableError(maskPassword(`PostgreSQL at ${target.display}: ${(err as Error).message}`, target));
  } finally {
    await pool.end();
  }
}

export function verifyPostgres(
  target: PostgresTarget,
  key: string,
  io: CliIo,
  expectHead: HeadRef | undefined,
  report: (result: DatabaseVerdict, started: number, io: CliIo, expectHead: HeadRef | undefined) => number,
): Promise<number> {
  const started = performance.now();
  return withSession(target, async (session) =>
    report(await verifyPostgresDatabase(session, key, expectHead ? { expectHead } : {}), started, io, expectHead),
  );
}

export function anchorPostgres(target: PostgresTarget, key: string, io: CliIo): Promise<number> {
  return withSession(target, async (session) => {
    const chain = await new PostgresAuditLog(session, key, systemClock).verify();
    if (!chain.ok) {
      write(io.stderr, `audit chain broken at seq ${chain.seq}: ${chain.reason}; not anchoring it`);
      return 1;
    }
    if (chain.lastSeq === 0) {
      write(io.stderr, 'edgeops audit anchor: the audit log is empty; there is no head to anchor yet');
      return 1;
    }
    write(io.stdout, formatHeadRef({ seq: chain.lastSeq, hash: chain.lastHash }));
    return 0;
  });
}
