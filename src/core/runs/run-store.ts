// The run-store port: runs, their steps and approvals, and concurrency leases.
import type { ApprovalRecord, Run, RunStepRecord } from './run.js';

export interface RunStore {
  nextNumber(): number;
  insert(run: Run): void;
  save(run: Run): void;
  get(id: string): Run | undefined;
  /** Runs in `running` or `queued` (for start-up recovery). */
  active(): Run[];
  pendingApproval(): Run[];
  forIncident(incidentId: string): Run[];
  saveStep(step: RunStepRecord): void;
  steps(runId: string): RunStepRecord[];
  addApproval(record: ApprovalRecord): void;
  approvals(runId: string): ApprovalRecord[];
  /** The run holding a concurrency key, if any. */
  leaseHolder(key: string): string | undefined;
  acquireLease(key: string, runId: string, now: number): void;
  releaseLease(key: string, runId: string): void;
}
