// `edgeops audit verify [--db FILE]`: recomputes the hash chain and names the first bad seq.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { resolveAuditKey } from '../audit-key.js';
import { systemClock } from '../core/ports.js';
import { SqliteAuditLog } from '../storage/sqlite-audit-log.js';
import { bootConfig } from './cli-config.js';
import { write, type Subcommand } from './cli-io.js';

export const auditCommand: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({ args: argv, options: { db: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals[0] !== 'verify' || positionals.length !== 1) {
    write(io.stderr, 'usage: edgeops audit verify [--db FILE]');
    return 1;
  }
  const config = bootConfig(io);
  const dbPath = values.db ? path.resolve(io.cwd, values.db) : config.dbPath;
  const { key } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: path.dirname(dbPath), generate: false });
  if (!existsSync(dbPath)) {
    write(io.stderr, `edgeops audit verify: no database at ${dbPath}`);
    return 1;
  }
  // Read-only: checking a log must never change the file being checked.
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const verdict = new SqliteAuditLog(db, key, systemClock).verify();
    if (verdict.ok) {
      write(io.stdout, `audit chain intact: ${verdict.count} rows, last seq ${verdict.lastSeq}, last hash ${verdict.lastHash}`);
      return 0;
    }
    write(io.stderr, `audit chain broken at seq ${verdict.seq}: ${verdict.reason}`);
    return 1;
  } finally {
    db.close();
  }
};
