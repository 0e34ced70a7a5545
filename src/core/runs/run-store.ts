// The run-store port: runs, their steps and approvals, and concurrency leases.
import type { ApprovalRecord, Run, RunStepRecord } from './run.js';

export interface RunStore {
  nextNumber(): Promise<number>;
  insert(run: Run): Promise<void>;
  save(run: Run): Promise<void>;
  get(id: string): Promise<Run | undefined>;
  /** Runs in `running` or `queued` (for start-up recovery). */
  active(): Promise<Run[]>;
  pendingApproval(): Promise<Run[]>;
  forIncident(incidentId: string): Promise<Run[]>;
  saveStep(step: RunStepRecord): Promise<void>;
  steps(runId: string): Promise<RunStepRecord[]>;
  addApproval(record: ApprovalRecord): Promise<void>;
  approvals(runId: string): Promise<ApprovalRecord[]>;
  /** The run holding a concurrency key, if any. */
  leaseHolder(key: string): Promise<string | undefined>;
  acquireLease(key: string, runId: string, now: number): Promise<void>;
  releaseLease(key: string, runId: string): Promise<void>;
}
