// Access control backed by the policy catalog: decides, records refusals, and hands back what allowed.
import { NotAllowedError } from '../errors.js';
import type { AccessControl, AccessRequest } from './access.js';
import type { AuditLog } from './audit/audit-log.js';
import { decide, type Decision, type PolicyRequest, type Subject } from './policy/policy-engine.js';
import { formatRuleSource, type Policy } from './policy/policy.js';
import type { Actor, Authorization, By, UnitOfWork } from './ports.js';

export interface PolicyView {
  policy: Policy;
  policyHash: string;
}

export const subjectOf = (actor: Actor): Subject =>
  actor.pagerdutyService === undefined
    ? { userId: actor.id, groups: actor.groups }
    : { userId: actor.id, groups: actor.groups, pagerdutyService: actor.pagerdutyService };

/** The rules a decision rests on, as `file:line rules[i]: summary`. */
export const decisiveRules = (decision: Decision): string[] =>
  decision.matched.filter((m) => m.decisive).map((m) => `${formatRuleSource(m.source)}: ${m.summary}`);

export function authorizationOf(decision: Decision, policyHash: string): Authorization {
  return { policy_hash: policyHash, rules: decisiveRules(decision) };
}

/** The audit row of a refusal or a hold for approval. */
export function recordDecision(
  deps: { uow: UnitOfWork; audit: AuditLog },
  by: Omit<By, 'authorization'>,
  request: PolicyRequest,
  decision: Decision,
  policyHash: string,
  incidentId: string | null,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const kind = decision.effect === 'deny' ? 'policy.denied' : decision.effect === 'approval_required' ? 'policy.approval_required' : 'policy.allowed';
  return deps.uow.transaction(
    async () =>
      (
        await deps.audit.append({
          actor: by.actor.id,
          source: by.source,
          kind,
          incidentId,
          payload: {
            action: request.action,
            procedure: request.procedure,
            environment: request.environment,
            channel: request.channel,
            groups: request.subject.groups,
            roles: decision.roles,
            effect: decision.effect,
            rules: decisiveRules(decision),
            reason: decision.reason,
            policy_hash: policyHash,
            ...extra,
          },
        })
      ).seq,
  );
}

export function createPolicyAccess(deps: { uow: UnitOfWork; audit: AuditLog; policy: () => PolicyView }): AccessControl {
  const requestOf = (actor: Actor, request: AccessRequest): PolicyRequest => ({
    subject: subjectOf(actor),
    action: request.action,
    ...(request.procedure === undefined ? {} : { procedure: request.procedure }),
    ...(request.environment === undefined ? {} : { environment: request.environment }),
    ...(request.channel ? { channel: request.channel } : {}),
  });

  return {
    async require(actor, source, request) {
      const view = deps.policy();
      const policyRequest = requestOf(actor, request);
      const decision = decide(view.policy, policyRequest);
      if (decision.effect === 'allow') return authorizationOf(decision, view.policyHash);
      await recordDecision(deps, { actor, source }, policyRequest, decision, view.policyHash, request.incidentId ?? null);
      const why = decision.effect === 'approval_required' ? `${decision.reason}; this action cannot wait for approval` : decision.reason;
      throw new NotAllowedError(`you may not ${request.action}: ${why}`);
    },
    may(actor, request) {
      return decide(deps.policy().policy, requestOf(actor, request)).effect !== 'deny';
    },
    allows(actor, request) {
      return decide(deps.policy().policy, requestOf(actor, request)).effect === 'allow';
    },
  };
}
