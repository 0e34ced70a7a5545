// Whether the portal shows Approve / Deny on a waiting run for someone: the run service's own rules, asked without acting.
import { canApprove } from '../policy/policy-engine.js';
import type { Policy } from '../policy/policy.js';
import { subjectOf } from '../policy-access.js';
import type { Actor } from '../ports.js';
import type { ApprovalRecord, Run } from '../runs/run.js';

export interface RunButtons {
  approve: boolean;
  deny: boolean;
  /** Why Approve is not offered, in words (shown instead of the button). */
  why?: string;
}

/**
 * Never the requester's own run; only who the policy lets approve it; once per person. The run
 * service decides again when a button is pressed (or forged): this only chooses what to show.
 */
export function runButtons(policy: Policy, actor: Actor, run: Run, approvals: readonly ApprovalRecord[]): RunButtons {
  if (run.state !== 'pending_approval') return { approve: false, deny: false };
  const own = run.requestedBy === actor.id;
  const approver = canApprove(policy, subjectOf(actor), {
    procedure: run.procedure,
    environment: run.environment,
    ...(run.channel ? { channel: run.channel } : {}),
    approvalRoles: run.approval?.roles ?? [],
  });
  if (own) return { approve: false, deny: true, why: 'you requested this run; someone else must approve it' };
  if (!approver.allowed) return { approve: false, deny: false, why: approver.reason };
  if (approvals.some((a) => a.approver === actor.id)) return { approve: false, deny: true, why: 'you already approved this run' };
  return { approve: true, deny: true };
}
