// `edgeops audit verify|anchor`: checks the log (chain, anchored head, what exports read) and prints its head.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { resolveAuditKey } from '../audit-key.js';
import { formatHeadRef, parseHeadRef, type HeadRef } from '../core/audit/head-ref.js';
import { systemClock } from '../core/ports.js';
import { SqliteAuditLog } from '../storage/sqlite-audit-log.js';
import { verifyAuditDatabase, type DatabaseVerdict } from '../storage/verify-audit-database.js';
import { isPostgresUrl, parseDatabaseUrl, type PostgresTarget } from '../storage/postgres/database-url.js';
import type { Config } from '../config.js';
import { bootConfig } from './cli-config.js';
import { write, type CliIo, type Subcommand } from './cli-io.js';

const USAGE = 'usage: edgeops audit verify [--db FILE] [--expect-head SEQ:HASH] | edgeops audit anchor [--db FILE]';
/** Past this many, mismatches are counted rather than listed: the first ones say what happened. */
const LISTED_MISMATCHES = 50;

export const auditCommand: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { db: { type: 'string' }, 'expect-head': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const action = positionals[0];
  if ((action !== 'verify' && action !== 'anchor') || positionals.length !== 1 || (action === 'anchor' && values['expect-head'] !== undefined)) {
    write(io.stderr, USAGE);
    return 1;
  }
  const expectHead = values['expect-head'] === undefined ? undefined : parseHeadRef(values['expect-head']);
  const config = bootConfig(io);
  const postgres =
    values.db !== undefined
      ? isPostgresUrl(values.db)
        ? parseDatabaseUrl(values.db)
        : undefined
      : config.postgres && { ok: true as const, target: config.postgres };
  if (postgres && !postgres.ok) {
    write(io.stderr, `edgeops audit ${action}: --db ${postgres.problems.join('; ')}`);
    return 1;
  }
  if (postgres) return auditPostgres(action, postgres.target, config, io, expectHead);
  const dbPath = values.db ? path.resolve(io.cwd, values.db) : config.dbPath;
  const { key } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: path.dirname(dbPath), generate: false });
  if (!existsSync(dbPath)) {
    write(io.stderr, `edgeops audit ${action}: no database at ${dbPath}`);
    return 1;
  }
  // Read-only: checking a log must never change the file being checked.
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return action === 'anchor' ? anchor(db, key, io) : verify(db, key, io, expectHead);
  } finally {
    db.close();
  }
};

function verify(db: Database.Database, key: string, io: CliIo, expectHead: HeadRef | undefined): number {
  const started = performance.now();
  return report(verifyAuditDatabase(db, key, expectHead ? { expectHead } : {}), started, io, expectHead);
}

/** Prints a verdict, the same for either backend; 0 when everything checked out. */
function report(result: DatabaseVerdict, started: number, io: CliIo, expectHead: HeadRef | undefined): number {
  const took = `checked in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  const { chain } = result;
  if (!chain.ok) {
    write(io.stderr, `audit chain broken at seq ${chain.seq}: ${chain.reason}`);
    return 1;
  }
  const intact = `audit chain intact: ${chain.count} rows, last seq ${chain.lastSeq}, last hash ${chain.lastHash}`;
  const failures: string[] = [];
  if (result.head && !result.head.ok) failures.push(`audit log does not hold the anchored head ${formatHeadRef(expectHead!)}: ${result.head.reason}`);
  const { mismatches, checked } = result;
  for (const m of mismatches.slice(0, LISTED_MISMATCHES)) failures.push(m.message);
  if (mismatches.length > LISTED_MISMATCHES) failures.push(`… and ${mismatches.length - LISTED_MISMATCHES} more`);
  if (mismatches.length > 0) {
    failures.push(
      `${mismatches.length} ${mismatches.length === 1 ? 'row' : 'rows'} of the tables exports read ${mismatches.length === 1 ? 'does' : 'do'} not match the audit log, which is itself intact (${chain.count} rows, last seq ${chain.lastSeq})`,
    );
  }
  if (failures.length > 0) {
    write(io.stderr, [...failures, took].join('\n'));
    return 1;
  }
  const lines = [intact];
  if (expectHead) lines.push(`anchored head ${formatHeadRef(expectHead)} is in the log`);
  lines.push(
    `exported tables match the audit log: ${checked.incidents} incidents, ${checked.runs} runs, ${checked.steps} steps, ${checked.approvals} approvals`,
    took,
  );
  write(io.stdout, lines.join('\n'));
  return 0;
}

/** Prints the head as `SEQ:HASH`, only for a chain that verifies: an anchor vouches for what it names. */
function anchor(db: Database.Database, key: string, io: CliIo): number {
  const chain = new SqliteAuditLog(db, key, systemClock).verifyNow();
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
}

/**
 * The same checks on PostgreSQL (EDGEOPS_DATABASE_URL, or `--db postgres://…`), read in one snapshot.
 * The key is EDGEOPS_AUDIT_KEY: there is no data folder to hold a key file.
 */
async function auditPostgres(
  action: 'verify' | 'anchor',
  target: PostgresTarget,
  config: Config,
  io: CliIo,
  expectHead: HeadRef | undefined,
): Promise<number> {
  if (!config.auditKey) {
    write(io.stderr, `edgeops audit ${action}: EDGEOPS_AUDIT_KEY is not set; set the key the log on ${target.display} was written with`);
    return 1;
  }
  const { verifyPostgres, anchorPostgres } = await import('./audit-postgres.js');
  return action === 'anchor' ? anchorPostgres(target, config.auditKey, io) : verifyPostgres(target, config.auditKey, io, expectHead, report);
}
