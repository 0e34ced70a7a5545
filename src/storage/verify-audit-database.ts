// `edgeops audit verify` over one snapshot of a SQLite file: the chain, an anchored head, and what exports read.
import type { ChainVerdict } from '../core/audit/audit-chain.js';
import { headRefCheck, type HeadRef, type HeadRefVerdict } from '../core/audit/head-ref.js';
import { ProjectionCheck, type ProjectionMismatch, type ProjectionTable } from '../core/audit/projection-check.js';
import { systemClock } from '../core/ports.js';
import type { Db } from './database.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';
import { toIncident, type IncidentRow } from './sqlite-incident-store.js';
import { toApproval, toRun, toStep, type ApprovalRow, type RunRow, type StepRow } from './sqlite-run-store.js';

export interface DatabaseVerdict {
  chain: ChainVerdict;
  /** Present when a head was expected and the chain itself is intact. */
  head?: HeadRefVerdict;
  /** Rows of the tables exports read that do not follow from the audit rows (checked when the chain is intact). */
  mismatches: ProjectionMismatch[];
  checked: { incidents: number; runs: number; steps: number; approvals: number };
}

export function verifyAuditDatabase(db: Db, key: string, options: { expectHead?: HeadRef } = {}): DatabaseVerdict {
  // One read transaction: the log and the tables are read from the same snapshot, even while a bot writes.
  return db.transaction((): DatabaseVerdict => {
    const projections = new ProjectionCheck();
    const head = options.expectHead ? headRefCheck(options.expectHead) : undefined;
    const checked = { incidents: 0, runs: 0, steps: 0, approvals: 0 };
    const chain = new SqliteAuditLog(db, key, systemClock).verifyNow((row, payload) => {
      head?.see(row.seq, row.hash);
      projections.observe({ seq: row.seq, time: row.time, actor: row.actor, source: row.source, kind: row.kind, incidentId: row.incidentId, payload });
    });
    if (!chain.ok) return { chain, mismatches: [], checked };

    const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
    // A row whose columns no longer parse is itself a finding, not a reason to stop checking the rest.
    const each = <T>(table: ProjectionTable, sql: string, key: (r: T) => string, check: (r: T) => void): number => {
      if (!tables.has(table)) return 0;
      let n = 0;
      for (const r of db.prepare(sql).iterate() as Iterable<T>) {
        n += 1;
        try {
          check(r);
        } catch (err) {
          projections.unreadable(table, key(r), (err as Error).message);
        }
      }
      return n;
    };
    checked.incidents = each<IncidentRow>(
      'incidents',
      'SELECT * FROM incidents ORDER BY number',
      (r) => r.id,
      (r) => projections.checkIncident(toIncident(r)),
    );
    checked.runs = each<RunRow>(
      'runs',
      'SELECT * FROM runs ORDER BY number',
      (r) => r.id,
      (r) => projections.checkRun(toRun(r)),
    );
    checked.steps = each<StepRow>(
      'run_steps',
      'SELECT * FROM run_steps ORDER BY run_id, idx',
      (r) => `${r.run_id} step ${r.idx}`,
      (r) => projections.checkStep(toStep(r)),
    );
    checked.approvals = each<ApprovalRow>(
      'run_approvals',
      'SELECT * FROM run_approvals ORDER BY run_id, at, approver',
      (r) => `${r.run_id} approver ${r.approver}`,
      (r) => projections.checkApproval(toApproval(r)),
    );
    return { chain, ...(head ? { head: head.verdict(chain.lastSeq) } : {}), mismatches: projections.finish(), checked };
  })();
}
