// SQLite implementation of the run store; row mappers for runs, steps and approvals live here.
import type { ApprovalRequirement } from '../core/policy/policy.js';
import type { ApprovalRecord, Run, RunState, RunStepRecord } from '../core/runs/run.js';
import type { RunStore } from '../core/runs/run-store.js';
import type { Source } from '../core/ports.js';
import type { Db } from './database.js';
import { statementCache } from './statements.js';

export interface RunRow {
  id: string;
  number: number;
  procedure: string;
  environment: string;
  incident_id: string | null;
  channel: string | null;
  requested_by: string;
  requested_groups: string;
  source: string;
  params: string;
  binding: string;
  state: string;
  approval: string | null;
  approval_expires_at: number | null;
  concurrency_key: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  pgid: number | null;
  owner_pid: number | null;
  error: string | null;
}

export const toRun = (r: RunRow): Run => ({
  id: r.id,
  number: r.number,
  procedure: r.procedure,
  environment: r.environment,
  incidentId: r.incident_id,
  channel: r.channel,
  requestedBy: r.requested_by,
  requestedGroups: JSON.parse(r.requested_groups) as string[],
  source: r.source as Source,
  params: JSON.parse(r.params) as Run['params'],
  binding: r.binding,
  state: r.state as RunState,
  approval: r.approval === null ? null : (JSON.parse(r.approval) as ApprovalRequirement),
  approvalExpiresAt: r.approval_expires_at,
  concurrencyKey: r.concurrency_key,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  pgid: r.pgid,
  ownerPid: r.owner_pid,
  error: r.error,
});

export const toRow = (run: Run): RunRow => ({
  id: run.id,
  number: run.number,
  procedure: run.procedure,
  environment: run.environment,
  incident_id: run.incidentId,
  channel: run.channel,
  requested_by: run.requestedBy,
  requested_groups: JSON.stringify(run.requestedGroups),
  source: run.source,
  params: JSON.stringify(run.params),
  binding: run.binding,
  state: run.state,
  approval: run.approval === null ? null : JSON.stringify(run.approval),
  approval_expires_at: run.approvalExpiresAt,
  concurrency_key: run.concurrencyKey,
  created_at: run.createdAt,
  started_at: run.startedAt,
  finished_at: run.finishedAt,
  pgid: run.pgid,
  owner_pid: run.ownerPid,
  error: run.error,
});

export const RUN_COLUMNS = Object.keys(toRow({} as Run)) as Array<keyof RunRow>;

export interface StepRow {
  run_id: string;
  idx: number;
  name: string;
  kind: string;
  outcome: string;
  exit_code: number | null;
  http_status: number | null;
  started_at: number;
  finished_at: number;
  output: string;
  truncated_bytes: number;
  error: string | null;
}

/** A step's values in the order of run_steps' columns as both backends insert them (run_id … error). */
export const stepValues = (step: RunStepRecord): unknown[] => [
  step.runId,
  step.index,
  step.name,
  step.kind,
  step.outcome,
  step.exitCode,
  step.httpStatus,
  step.startedAt,
  step.finishedAt,
  step.output,
  step.truncatedBytes,
  step.error,
];

export const toStep = (r: StepRow): RunStepRecord => ({
  runId: r.run_id,
  index: r.idx,
  name: r.name,
  kind: r.kind as RunStepRecord['kind'],
  outcome: r.outcome,
  exitCode: r.exit_code,
  httpStatus: r.http_status,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  output: r.output,
  truncatedBytes: r.truncated_bytes,
  error: r.error,
});

export interface ApprovalRow {
  run_id: string;
  approver: string;
  decision: 'approve' | 'deny';
  at: number;
  binding: string;
  reason: string | null;
}

export const toApproval = (r: ApprovalRow): ApprovalRecord => ({
  runId: r.run_id,
  approver: r.approver,
  decision: r.decision,
  at: r.at,
  binding: r.binding,
  reason: r.reason,
});

export class SqliteRunStore implements RunStore {
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly getStmt;
  private readonly stmt;

  constructor(db: Db) {
    this.stmt = statementCache(db);
    this.insertStmt = db.prepare(`INSERT INTO runs (${RUN_COLUMNS.join(', ')}) VALUES (${RUN_COLUMNS.map((c) => `@${c}`).join(', ')})`);
    this.updateStmt = db.prepare(
      `UPDATE runs SET ${RUN_COLUMNS.filter((c) => c !== 'id' && c !== 'number')
        .map((c) => `${c} = @${c}`)
        .join(', ')} WHERE id = @id`,
    );
    this.getStmt = db.prepare('SELECT * FROM runs WHERE id = ?');
  }

  async nextNumber(): Promise<number> {
    return (this.stmt('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM runs').get() as { n: number }).n;
  }

  async insert(run: Run): Promise<void> {
    this.insertStmt.run(toRow(run));
  }

  async save(run: Run): Promise<void> {
    this.updateStmt.run(toRow(run));
  }

  async get(id: string): Promise<Run | undefined> {
    const row = this.getStmt.get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  async active(): Promise<Run[]> {
    return (this.stmt("SELECT * FROM runs WHERE state IN ('running', 'queued') ORDER BY number").all() as RunRow[]).map(toRun);
  }

  async pendingApproval(): Promise<Run[]> {
    return (this.stmt("SELECT * FROM runs WHERE state = 'pending_approval' ORDER BY number").all() as RunRow[]).map(toRun);
  }

  async forIncident(incidentId: string): Promise<Run[]> {
    return (this.stmt('SELECT * FROM runs WHERE incident_id = ? ORDER BY number').all(incidentId) as RunRow[]).map(toRun);
  }

  async saveStep(step: RunStepRecord): Promise<void> {
    this.stmt(
      `INSERT OR REPLACE INTO run_steps (run_id, idx, name, kind, outcome, exit_code, http_status, started_at, finished_at, output, truncated_bytes, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(...stepValues(step));
  }

  async steps(runId: string): Promise<RunStepRecord[]> {
    return (this.stmt('SELECT * FROM run_steps WHERE run_id = ? ORDER BY idx').all(runId) as StepRow[]).map(toStep);
  }

  async addApproval(record: ApprovalRecord): Promise<void> {
    this.stmt('INSERT INTO run_approvals (run_id, approver, decision, at, binding, reason) VALUES (?, ?, ?, ?, ?, ?)').run(
      record.runId,
      record.approver,
      record.decision,
      record.at,
      record.binding,
      record.reason,
    );
  }

  async approvals(runId: string): Promise<ApprovalRecord[]> {
    const rows = this.stmt('SELECT * FROM run_approvals WHERE run_id = ? ORDER BY at, approver').all(runId) as ApprovalRow[];
    return rows.map(toApproval);
  }

  async leaseHolder(key: string): Promise<string | undefined> {
    return (this.stmt('SELECT run_id FROM leases WHERE key = ?').get(key) as { run_id: string } | undefined)?.run_id;
  }

  async acquireLease(key: string, runId: string, now: number): Promise<void> {
    this.stmt('INSERT INTO leases (key, run_id, acquired_at) VALUES (?, ?, ?)').run(key, runId, now);
  }

  async releaseLease(key: string, runId: string): Promise<void> {
    this.stmt('DELETE FROM leases WHERE key = ? AND run_id = ?').run(key, runId);
  }
}
