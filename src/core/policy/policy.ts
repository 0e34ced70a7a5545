// The merged, in-memory policy the engine decides on: every role and rule, each rule with its origin.
import { formatDuration } from '../duration.js';
import type { ApprovalSpec, PolicyFile, RemindersSpec, RoleSpec, RuleSpec } from './policy-schema.js';

/** Where a rule was written: the policy file's base name, its index in `rules`, its line when known. */
export interface RuleSource {
  file: string;
  index: number;
  line?: number;
}

/** What an approval-conditioned allow asks for before the run may start. */
export interface ApprovalRequirement {
  /** Roles whose holders may approve; `*` = anyone holding any role. The requester never counts. */
  roles: string[];
  count: number;
  /** How long after the request approvals are accepted. */
  expiresMs: number;
}

export const approvalRequirement = (spec: ApprovalSpec): ApprovalRequirement => ({
  roles: [...new Set(spec.roles)].sort(),
  count: spec.count,
  expiresMs: spec.expires,
});

export interface PolicyRule extends RuleSpec {
  source: RuleSource;
}

export interface Policy {
  roles: Readonly<Record<string, RoleSpec>>;
  rules: readonly PolicyRule[];
  /** From the one file that sets `reminders:`, if any. */
  reminders?: RemindersSpec;
}

export interface PolicyFileInput {
  /** Base name of the file, e.g. `default.yaml`. */
  file: string;
  policy: PolicyFile;
  /** 1-based line of each entry of `rules`, when the file was read from text. */
  ruleLines?: readonly (number | undefined)[];
}

/** A role defined in more than one file: merging would silently widen or narrow it, so it is refused. */
export interface RoleConflict {
  role: string;
  files: string[];
}

export const EMPTY_POLICY: Policy = { roles: {}, rules: [] };

/** Merges several policy files into one policy; roles must be unique across files. */
export function mergePolicyFiles(files: readonly PolicyFileInput[]): { policy: Policy; conflicts: RoleConflict[]; remindersIn: string[] } {
  const roles: Record<string, RoleSpec> = {};
  const remindersIn = files.filter((f) => f.policy.reminders !== undefined).map((f) => f.file);
  const reminders = files.find((f) => f.policy.reminders !== undefined)?.policy.reminders;
  const definedIn = new Map<string, string[]>();
  const rules: PolicyRule[] = [];
  for (const f of files) {
    for (const [name, role] of Object.entries(f.policy.roles)) {
      const seen = definedIn.get(name);
      if (seen) {
        seen.push(f.file);
        continue;
      }
      definedIn.set(name, [f.file]);
      roles[name] = role;
    }
    f.policy.rules.forEach((rule, index) => {
      const line = f.ruleLines?.[index];
      rules.push({ ...rule, source: line === undefined ? { file: f.file, index } : { file: f.file, index, line } });
    });
  }
  const conflicts = [...definedIn.entries()].filter(([, where]) => where.length > 1).map(([role, where]) => ({ role, files: where }));
  return { policy: reminders ? { roles, rules, reminders } : { roles, rules }, conflicts, remindersIn };
}

/** `default.yaml:14 rules[3]`, or `default.yaml rules[3]` when the line is unknown. */
export function formatRuleSource(source: RuleSource): string {
  return `${source.file}${source.line === undefined ? '' : `:${source.line}`} rules[${source.index}]`;
}

const list = (items: readonly string[]): string => items.join(', ');

/** The rule in one line of words, for explanations and the audit log. */
export function describeRule(rule: RuleSpec): string {
  const verb = rule.allow ? 'allows' : 'denies';
  const actions = rule.allow ?? rule.deny ?? [];
  const who = rule.roles.includes('*') ? 'anyone holding a role' : `roles ${list(rule.roles)}`;
  const parts = [`${verb} ${list(actions)} to ${who}`];
  if (rule.procedures) parts.push(`on procedures ${list(rule.procedures)}`);
  if (rule.environments) parts.push(`in environments ${list(rule.environments)}`);
  if (rule.channels) parts.push(`from channels ${list(rule.channels)}`);
  if (rule.approval) parts.push(`with approval (${describeApproval(approvalRequirement(rule.approval))})`);
  return parts.join(' ');
}

export function describeApproval(approval: ApprovalRequirement): string {
  const who = approval.roles.includes('*') ? 'anyone holding a role' : list(approval.roles);
  return `${approval.count} approval${approval.count === 1 ? '' : 's'} from ${who}, within ${formatDuration(approval.expiresMs)}`;
}
