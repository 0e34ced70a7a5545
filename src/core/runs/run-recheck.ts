// Whether a run may still go ahead: its requester decided again against the policy in force, its approval against what that policy asks now.
import { decide, type Decision, type Subject } from '../policy/policy-engine.js';
import { describeApproval, type ApprovalRequirement, type Policy } from '../policy/policy.js';
import type { Run } from './run.js';

export type Recheck = { ok: true; decision: Decision } | { ok: false; decision: Decision; reason: string };

/** The requester as the policy sees them now: `groups` are those in force (the directory's, or the stored ones). */
export function requesterSubject(run: Pick<Run, 'requestedBy' | 'source'>, groups: readonly string[]): Subject {
  const service = run.source === 'pagerduty' && run.requestedBy.startsWith('pagerduty:') ? run.requestedBy.slice('pagerduty:'.length) : undefined;
  return service === undefined ? { userId: run.requestedBy, groups } : { userId: run.requestedBy, groups, pagerdutyService: service };
}

const sameRoles = (a: readonly string[], b: readonly string[]): boolean => {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((r) => set.has(r));
};

/**
 * Approvals gathered for `held` still satisfy `now` when the same roles approve and no more
 * approvals are asked. The approval window is the run's own, fixed when it was requested.
 */
export function approvalCovers(held: ApprovalRequirement | null, now: ApprovalRequirement): boolean {
  return held !== null && sameRoles(held.roles, now.roles) && held.count >= now.count;
}

/**
 * Decides `run` again for its requester. A deny ends the run; so does an approval the run does not
 * carry (it ran without one, or the policy now asks for other approvers or more of them).
 */
export function recheckRun(policy: Policy, subject: Subject, run: Pick<Run, 'id' | 'procedure' | 'environment' | 'channel' | 'approval'>): Recheck {
  const decision = decide(policy, {
    subject,
    action: 'run',
    procedure: run.procedure,
    environment: run.environment,
    ...(run.channel ? { channel: run.channel } : {}),
  });
  if (decision.effect === 'allow') return { ok: true, decision };
  if (decision.effect === 'deny') {
    return {
      ok: false,
      decision,
      reason: `the policy in force no longer lets ${subject.userId} run ${run.procedure} in ${run.environment}: ${decision.reason}`,
    };
  }
  const now = decision.approval!;
  if (approvalCovers(run.approval, now)) return { ok: true, decision };
  return {
    ok: false,
    decision,
    reason: run.approval
      ? `the policy in force now needs ${describeApproval(now)} for ${run.procedure} in ${run.environment}, but ${run.id} was held for ${describeApproval(run.approval)}; request it again`
      : `the policy in force now needs ${describeApproval(now)} for ${run.procedure} in ${run.environment}; request it again`,
  };
}
