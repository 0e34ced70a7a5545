// Procedure runs end to end, composed from their four jobs: requests, approvals, execution, and recovery/expiry.
import type { ApprovalRecord, Run, RunStepRecord } from './run.js';
import { createRunApprovals } from './run-approvals.js';
import { createRunContext, type RunServiceDeps } from './run-context.js';
import { createRunExecution } from './run-execution.js';
import { createRunRecovery } from './run-recovery.js';
import { createRunRequests } from './run-requests.js';

export type { CatalogView, RunServiceDeps } from './run-context.js';
export type { DryRunPlan, RunRequest, RunRequestResult } from './run-requests.js';
export type { ApproveResult } from './run-approvals.js';
export type { Interruption } from './run-recovery.js';

export type RunService = ReturnType<typeof createRunService>;

export function createRunService(deps: RunServiceDeps) {
  const ctx = createRunContext(deps);
  const execution = createRunExecution(ctx);
  const requests = createRunRequests(ctx, execution.startExecution);
  const approvals = createRunApprovals(ctx, execution.startExecution);
  const recovery = createRunRecovery(ctx);

  return {
    request: requests.request.bind(requests),
    approve: approvals.approve.bind(approvals),
    deny: approvals.deny.bind(approvals),
    cancel: execution.cancel.bind(execution),
    get: ctx.load,
    steps: (id: string): Promise<RunStepRecord[]> => deps.runs.steps(id),
    approvals: (id: string): Promise<ApprovalRecord[]> => deps.runs.approvals(id),
    forIncident: (incidentId: string): Promise<Run[]> => deps.runs.forIncident(incidentId),
    idle: execution.idle.bind(execution),
    recoverInterrupted: recovery.recoverInterrupted.bind(recovery),
    interruptRuns: recovery.interruptRuns.bind(recovery),
    revalidateWaiting: recovery.revalidateWaiting.bind(recovery),
    expireApprovals: recovery.expireApprovals.bind(recovery),
  };
}
