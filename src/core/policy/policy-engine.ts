// Policy decisions (docs/policy.md): default deny, deny beats allow, rule order never matters. Pure.
import { anyGlobMatch, globMatch } from './glob.js';
import {
  approvalRequirement,
  describeApproval,
  describeRule,
  formatRuleSource,
  type ApprovalRequirement,
  type Policy,
  type PolicyRule,
  type RuleSource,
} from './policy.js';

/** The principal of scheduled runs; never a Slack ID, so no user can hold its roles by name. */
export const SCHEDULER = 'scheduler';

/** Who asks, as the policy sees them. */
export interface Subject {
  /** Slack user ID, or `pagerduty:<service>` for PagerDuty-triggered runs. */
  userId: string;
  /** Slack user-group IDs (`S…`). */
  groups: readonly string[];
  /** The PagerDuty service (name or ID) behind a triggered run. */
  pagerdutyService?: string;
}

export interface PolicyRequest {
  subject: Subject;
  action: string;
  procedure?: string;
  environment?: string;
  channel?: string;
}

export type Effect = 'allow' | 'approval_required' | 'deny';

/** What one matching rule said: a plain allow, an allow held for approval, or a deny. */
export type RuleOutcome = 'allow' | 'approval' | 'deny';

export interface MatchedRule {
  source: RuleSource;
  outcome: RuleOutcome;
  /** True for the rule(s) the decision rests on (the audit log records these). */
  decisive: boolean;
  /** The rule in words. */
  summary: string;
  approval?: ApprovalRequirement;
}

export interface Decision {
  effect: Effect;
  /** Every rule that matched the request, ordered by file and index. */
  matched: MatchedRule[];
  /** Present when `effect` is `approval_required`. */
  approval?: ApprovalRequirement;
  /** The subject's roles, sorted. */
  roles: string[];
  reason: string;
}

/** The roles a subject holds: by user ID, by any of its groups, or by its PagerDuty service. */
export function rolesOf(policy: Policy, subject: Subject): string[] {
  const held: string[] = [];
  for (const [name, role] of Object.entries(policy.roles)) {
    const byUser = role.users?.includes(subject.userId) ?? false;
    const byGroup = role.groups?.some((g) => subject.groups.includes(g)) ?? false;
    const service = subject.pagerdutyService;
    const byService = service !== undefined && (role.pagerduty_services?.some((p) => globMatch(p, service)) ?? false);
    const byScheduler = subject.userId === SCHEDULER && role.scheduler === true;
    if (byUser || byGroup || byService || byScheduler) held.push(name);
  }
  return held.sort();
}

/** A narrowing dimension matches when the rule leaves it out, or names a pattern matching the request's value. */
function dimensionMatches(patterns: readonly string[] | undefined, value: string | undefined): boolean {
  if (patterns === undefined) return true;
  return value !== undefined && anyGlobMatch(patterns, value);
}

function ruleMatches(rule: PolicyRule, roles: readonly string[], request: PolicyRequest): boolean {
  if (roles.length === 0) return false;
  const forSubject = rule.roles.includes('*') || rule.roles.some((r) => roles.includes(r));
  if (!forSubject) return false;
  if (!anyGlobMatch(rule.allow ?? rule.deny ?? [], request.action)) return false;
  return (
    dimensionMatches(rule.procedures, request.procedure) &&
    dimensionMatches(rule.environments, request.environment) &&
    dimensionMatches(rule.channels, request.channel)
  );
}

const compareSources = (a: RuleSource, b: RuleSource): number => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.index - b.index);

/**
 * Orders approval requirements from strictest to loosest: more approvals first, then a shorter
 * window, then fewer approver roles, then the roles' names. Depends on content only, so the
 * choice among several matching approval rules never depends on where they were written.
 */
export function compareStrictness(a: ApprovalRequirement, b: ApprovalRequirement): number {
  if (a.count !== b.count) return b.count - a.count;
  if (a.expiresMs !== b.expiresMs) return a.expiresMs - b.expiresMs;
  if (a.roles.length !== b.roles.length) return a.roles.length - b.roles.length;
  const ka = a.roles.join('\u0000');
  const kb = b.roles.join('\u0000');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

const sameRequirement = (a: ApprovalRequirement, b: ApprovalRequirement): boolean => compareStrictness(a, b) === 0;

export function describeRequest(request: PolicyRequest): string {
  const parts = [request.action];
  if (request.procedure !== undefined) parts.push(request.procedure);
  if (request.environment !== undefined) parts.push(`in ${request.environment}`);
  if (request.channel !== undefined) parts.push(`from ${request.channel}`);
  return parts.join(' ');
}

const sourcesOf = (rules: readonly MatchedRule[]): string => rules.map((m) => formatRuleSource(m.source)).join(', ');

/**
 * Decides one request. Allowed when a plain allow rule matches and no deny rule does; when only
 * approval-conditioned allow rules match, the strictest of their requirements applies (see
 * `compareStrictness`); anything else is denied.
 */
export function decide(policy: Policy, request: PolicyRequest): Decision {
  const roles = rolesOf(policy, request.subject);
  const who = request.subject.userId;
  if (roles.length === 0) {
    return {
      effect: 'deny',
      matched: [],
      roles,
      reason: `${who} holds no role in the policy, so no rule applies (default deny)`,
    };
  }

  const matches = policy.rules.filter((rule) => ruleMatches(rule, roles, request)).sort((a, b) => compareSources(a.source, b.source));
  const matched: MatchedRule[] = matches.map((rule) => {
    const approval = rule.allow && rule.approval ? approvalRequirement(rule.approval) : undefined;
    const outcome: RuleOutcome = rule.deny ? 'deny' : approval ? 'approval' : 'allow';
    return {
      source: rule.source,
      outcome,
      decisive: false,
      summary: describeRule(rule),
      ...(approval ? { approval } : {}),
    };
  });

  const denies = matched.filter((m) => m.outcome === 'deny');
  const allows = matched.filter((m) => m.outcome === 'allow');
  const approvals = matched.filter((m) => m.outcome === 'approval');
  const what = describeRequest(request);

  if (denies.length > 0) {
    for (const m of denies) m.decisive = true;
    return { effect: 'deny', matched, roles, reason: `${what} is denied by ${sourcesOf(denies)}` };
  }
  if (allows.length > 0) {
    for (const m of allows) m.decisive = true;
    return { effect: 'allow', matched, roles, reason: `${what} is allowed by ${sourcesOf(allows)}` };
  }
  if (approvals.length > 0) {
    const strictest = approvals.map((m) => m.approval!).sort(compareStrictness)[0]!;
    const deciding = approvals.filter((m) => sameRequirement(m.approval!, strictest));
    for (const m of deciding) m.decisive = true;
    return {
      effect: 'approval_required',
      matched,
      approval: strictest,
      roles,
      reason: `${what} is allowed only with ${describeApproval(strictest)} (never the requester), by ${sourcesOf(deciding)}`,
    };
  }
  return {
    effect: 'deny',
    matched,
    roles,
    reason: `no rule allows ${what} for ${roles.length === 1 ? 'role' : 'roles'} ${roles.join(', ')} (default deny)`,
  };
}

/** True when the subject may perform the action, possibly after approval. */
export function mayPerform(
  policy: Policy,
  subject: Subject,
  action: string,
  target: { procedure?: string; environment?: string; channel?: string } = {},
): boolean {
  return decide(policy, { subject, action, ...target }).effect !== 'deny';
}

export interface EnvironmentPermission {
  environment: string;
  effect: Exclude<Effect, 'deny'>;
  approval?: ApprovalRequirement;
}

/** The environments of a procedure where the subject may perform `action` (default `run`), in the procedure's order. */
export function permittedEnvironments(
  policy: Policy,
  subject: Subject,
  procedure: { name: string; environments: readonly string[] },
  options: { action?: string; channel?: string } = {},
): EnvironmentPermission[] {
  const out: EnvironmentPermission[] = [];
  for (const environment of procedure.environments) {
    const d = decide(policy, {
      subject,
      action: options.action ?? 'run',
      procedure: procedure.name,
      environment,
      ...(options.channel === undefined ? {} : { channel: options.channel }),
    });
    if (d.effect === 'deny') continue;
    out.push(d.approval ? { environment, effect: d.effect, approval: d.approval } : { environment, effect: d.effect });
  }
  return out;
}

export interface ApproverDecision {
  allowed: boolean;
  /** The approver's roles, sorted. */
  roles: string[];
  /** Rules matching the action `approve` for this procedure and environment. */
  matched: MatchedRule[];
  reason: string;
}

/**
 * Whether `approver` may approve a run held for `approvalRoles`: they hold one of those roles (`*`
 * = any role), or a plain allow rule grants `approve` on that procedure and environment. A rule
 * denying `approve` there overrides both, as deny overrides allow everywhere else. An `approve`
 * grant that itself requires approval does not count. The caller refuses the requester.
 */
export function canApprove(
  policy: Policy,
  approver: Subject,
  target: { procedure: string; environment: string; channel?: string; approvalRoles: readonly string[] },
): ApproverDecision {
  const d = decide(policy, {
    subject: approver,
    action: 'approve',
    procedure: target.procedure,
    environment: target.environment,
    ...(target.channel === undefined ? {} : { channel: target.channel }),
  });
  const base = { roles: d.roles, matched: d.matched };
  const who = approver.userId;
  const denies = d.matched.filter((m) => m.outcome === 'deny');
  if (denies.length > 0) return { ...base, allowed: false, reason: `${who} may not approve: ${d.reason}` };
  const viaRole = target.approvalRoles.includes('*') ? d.roles[0] : d.roles.find((r) => target.approvalRoles.includes(r));
  if (viaRole !== undefined) {
    return { ...base, allowed: true, reason: `${who} holds role ${viaRole}, which may approve this run` };
  }
  if (d.effect === 'allow') return { ...base, allowed: true, reason: `${who} may approve: ${d.reason}` };
  const needed = target.approvalRoles.includes('*') ? 'any role' : `one of the roles ${target.approvalRoles.join(', ')}`;
  return {
    ...base,
    allowed: false,
    reason:
      d.effect === 'approval_required'
        ? `${who} may approve only with approval, which does not count; approving needs ${needed}`
        : `${who} may not approve: approving needs ${needed}, or a rule allowing approve on ${target.procedure} in ${target.environment}`,
  };
}
