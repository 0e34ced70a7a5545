// `edgeops audit verify` over one snapshot of a PostgreSQL database: the same checks as on a SQLite file.
import { headRefCheck, type HeadRef } from '../../core/audit/head-ref.js';
import { ProjectionCheck, type ProjectionTable } from '../../core/audit/projection-check.js';
import { toIncident, type IncidentRow } from '../sqlite-incident-store.js';
import { toApproval, toRun, toStep, type ApprovalRow, type RunRow, type StepRow } from '../sqlite-run-store.js';
import type { DatabaseVerdict } from '../verify-audit-database.js';
import { readSnapshot, verifyInSnapshot } from './postgres-audit-log.js';
import type { PostgresUnitOfWork, Queryable } from './postgres-unit-of-work.js';

/** The rows of PostgreSQL read as the SQLite mappers expect them: only `private` differs (BOOLEAN, not 0/1). */
const incidentRow = (r: Omit<IncidentRow, 'private'> & { private: boolean }): IncidentRow => ({ ...r, private: r.private ? 1 : 0 });

export async function verifyPostgresDatabase(session: PostgresUnitOfWork, key: string, options: { expectHead?: HeadRef } = {}): Promise<DatabaseVerdict> {
  return readSnapshot(session, async (db: Queryable): Promise<DatabaseVerdict> => {
    const projections = new ProjectionCheck();
    const head = options.expectHead ? headRefCheck(options.expectHead) : undefined;
    const checked = { incidents: 0, runs: 0, steps: 0, approvals: 0 };
    const chain = await verifyInSnapshot(db, key, (row, payload) => {
      head?.see(row.seq, row.hash);
      projections.observe({ seq: row.seq, time: row.time, actor: row.actor, source: row.source, kind: row.kind, incidentId: row.incidentId, payload });
    });
    if (!chain.ok) return { chain, mismatches: [], checked };
    // A row whose columns no longer parse is itself a finding, not a reason to stop checking the rest.
    const each = async <T>(table: ProjectionTable, sql: string, key: (r: T) => string, check: (r: T) => void): Promise<number> => {
      const { rows } = await db.query<T & Record<string, unknown>>(sql);
      for (const r of rows) {
        try {
          check(r);
        } catch (err) {
          projections.unreadable(table, key(r), (err as Error).message);
        }
      }
      return rows.length;
    };
    checked.incidents = await each<Omit<IncidentRow, 'private'> & { private: boolean }>(
      'incidents',
      'SELECT * FROM incidents ORDER BY number',
      (r) => r.id,
      (r) => projections.checkIncident(toIncident(incidentRow(r))),
    );
    checked.runs = await each<RunRow>(
      'runs',
      'SELECT * FROM runs ORDER BY number',
      (r) => r.id,
      (r) => projections.checkRun(toRun(r)),
    );
    checked.steps = await each<StepRow>(
      'run_steps',
      'SELECT * FROM run_steps ORDER BY run_id, idx',
      (r) => `${r.run_id} step ${r.idx}`,
      (r) => projections.checkStep(toStep(r)),
    );
    checked.approvals = await each<ApprovalRow>(
      'run_approvals',
      'SELECT * FROM run_approvals ORDER BY run_id, at, approver',
      (r) => `${r.run_id} approver ${r.approver}`,
      (r) => projections.checkApproval(toApproval(r)),
    );
    return { chain, ...(head ? { head: head.verdict(chain.lastSeq) } : {}), mismatches: projections.finish(), checked };
  });
}
