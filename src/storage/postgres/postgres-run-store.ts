// PostgreSQL implementation of the run store, with the SQLite store's row mapping; leases hold across replicas.
import type { ApprovalRecord, Run, RunStepRecord } from '../../core/runs/run.js';
import type { RunStore } from '../../core/runs/run-store.js';
import { RUN_COLUMNS, stepValues, toApproval, toRow, toRun, toStep, type ApprovalRow, type RunRow, type StepRow } from '../sqlite-run-store.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

/** Held while a run number is chosen and used, as for incidents: replicas must not pick the same one. */
const NUMBER_LOCK = 0x7275_6e73; // "runs"

const UPDATABLE = RUN_COLUMNS.filter((c) => c !== 'id' && c !== 'number');

/** The states in which a run belongs to the replica that wrote it: another replica interrupts it only if that one dies. */
const OWNED = new Set<Run['state']>(['queued', 'running']);

export class PostgresRunStore implements RunStore {
  /**
   * `replicaId`: this process's row in `replicas` (src/storage/postgres/replica-heartbeat.ts), written
   * as the owner of every run it inserts or saves as queued or running. Without one, the owner is left
   * as it is: such a process must not execute runs beside replicas, which would take them for orphans.
   */
  constructor(
    private readonly session: PostgresUnitOfWork,
    private readonly replicaId: string | null = null,
  ) {}

  private get db() {
    return this.session.current();
  }

  async nextNumber(): Promise<number> {
    if (this.session.inTransaction()) await this.db.query('SELECT pg_advisory_xact_lock($1)', [NUMBER_LOCK]);
    return (await this.db.query<{ n: number }>('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM runs')).rows[0]!.n;
  }

  async insert(run: Run): Promise<void> {
    const row = toRow(run);
    await this.db.query(
      `INSERT INTO runs (${RUN_COLUMNS.join(', ')}, replica_id) VALUES (${RUN_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, $${RUN_COLUMNS.length + 1})`,
      [...RUN_COLUMNS.map((c) => row[c]), OWNED.has(run.state) ? this.replicaId : null],
    );
  }

  async save(run: Run): Promise<void> {
    const row = toRow(run);
    const owner = OWNED.has(run.state) && this.replicaId !== null ? `, replica_id = $${UPDATABLE.length + 2}` : '';
    await this.db.query(`UPDATE runs SET ${UPDATABLE.map((c, i) => `${c} = $${i + 2}`).join(', ')}${owner} WHERE id = $1`, [
      row.id,
      ...UPDATABLE.map((c) => row[c]),
      ...(owner ? [this.replicaId] : []),
    ]);
  }

  async get(id: string): Promise<Run | undefined> {
    const row = (await this.db.query<RunRow>('SELECT * FROM runs WHERE id = $1', [id])).rows[0];
    return row ? toRun(row) : undefined;
  }

  async active(): Promise<Run[]> {
    return (await this.db.query<RunRow>("SELECT * FROM runs WHERE state IN ('running', 'queued') ORDER BY number")).rows.map(toRun);
  }

  async pendingApproval(): Promise<Run[]> {
    return (await this.db.query<RunRow>("SELECT * FROM runs WHERE state = 'pending_approval' ORDER BY number")).rows.map(toRun);
  }

  async forIncident(incidentId: string): Promise<Run[]> {
    return (await this.db.query<RunRow>('SELECT * FROM runs WHERE incident_id = $1 ORDER BY number', [incidentId])).rows.map(toRun);
  }

  async saveStep(step: RunStepRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO run_steps (run_id, idx, name, kind, outcome, exit_code, http_status, started_at, finished_at, output, truncated_bytes, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (run_id, idx) DO UPDATE SET name = excluded.name, kind = excluded.kind, outcome = excluded.outcome,
         exit_code = excluded.exit_code, http_status = excluded.http_status, started_at = excluded.started_at,
         finished_at = excluded.finished_at, output = excluded.output, truncated_bytes = excluded.truncated_bytes, error = excluded.error`,
      stepValues(step),
    );
  }

  async steps(runId: string): Promise<RunStepRecord[]> {
    return (await this.db.query<StepRow>('SELECT * FROM run_steps WHERE run_id = $1 ORDER BY idx', [runId])).rows.map(toStep);
  }

  async addApproval(record: ApprovalRecord): Promise<void> {
    await this.db.query('INSERT INTO run_approvals (run_id, approver, decision, at, binding, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
      record.runId,
      record.approver,
      record.decision,
      record.at,
      record.binding,
      record.reason,
    ]);
  }

  async approvals(runId: string): Promise<ApprovalRecord[]> {
    // Byte order for ties, as SQLite sorts text, whatever the database's locale.
    return (await this.db.query<ApprovalRow>('SELECT * FROM run_approvals WHERE run_id = $1 ORDER BY at, approver COLLATE "C"', [runId])).rows.map(
      toApproval,
    );
  }

  async leaseHolder(key: string): Promise<string | undefined> {
    return (await this.db.query<{ run_id: string }>('SELECT run_id FROM leases WHERE key = $1', [key])).rows[0]?.run_id;
  }

  /** The primary key on `key` is what makes a lease exclusive across replicas: a second holder gets a unique violation. */
  async acquireLease(key: string, runId: string, now: number): Promise<void> {
    await this.db.query('INSERT INTO leases (key, run_id, acquired_at) VALUES ($1, $2, $3)', [key, runId, now]);
  }

  async releaseLease(key: string, runId: string): Promise<void> {
    await this.db.query('DELETE FROM leases WHERE key = $1 AND run_id = $2', [key, runId]);
  }
}
