// Checks across files that a schema cannot express: references, reachability, templates, defaults, triggers, schedules.
import { validate as validateCron } from 'node-cron';
import { anyGlobMatch, globMatch, isGlob } from '../core/policy/glob.js';
import type { Policy } from '../core/policy/policy.js';
import { PROCEDURE_ACTIONS, type PolicyFile, type RuleSpec } from '../core/policy/policy-schema.js';
import { checkValue } from '../core/procedures/params.js';
import type { ParamDef, Procedure } from '../core/procedures/procedure-schema.js';
import { checkProcedureTemplates } from '../core/procedures/template.js';
import type { CatalogError, Severity } from './catalog-error.js';
import { findingAt, suggest, type YamlPath, type YamlSource } from './yaml-source.js';

export interface ParsedPolicyFile {
  source: YamlSource;
  policy: PolicyFile;
}

export interface ParsedProcedure {
  source: YamlSource;
  procedure: Procedure;
}

export interface LintInput {
  /** All valid policy files merged. */
  policy: Policy;
  policyFiles: readonly ParsedPolicyFile[];
  procedures: readonly ParsedProcedure[];
  /** Roles and procedure names seen in files that failed the schema: known, so not reported as unknown. */
  brokenRoles?: readonly string[];
  brokenProcedures?: readonly string[];
}

/**
 * Severity choices: a reference that can only be a typo (an unknown role, an exact procedure or
 * environment on an allow rule that nothing declares, a template variable nobody provides) is an
 * error; something that may be deliberate or may be fixed in another repository first (a deny rule
 * guarding procedures that do not exist yet, a procedure no role may run yet, redundant anchors)
 * is a warning.
 */
export function lintCatalog(input: LintInput): CatalogError[] {
  return [...lintPolicy(input), ...lintProcedures(input)];
}

function lintPolicy(input: LintInput): CatalogError[] {
  const out: CatalogError[] = [];
  const { policy } = input;
  const knownRoles = new Set([...Object.keys(policy.roles), ...(input.brokenRoles ?? [])]);
  const roleNames = [...knownRoles];
  const procedureNames = [...input.procedures.map((p) => p.procedure.name), ...(input.brokenProcedures ?? [])];
  const referenced = new Set<string>();

  for (const { source, policy: file } of input.policyFiles) {
    const at = (path: YamlPath, message: string, severity: Severity = 'error', key = false) =>
      out.push(findingAt(source, path, message, severity, { key }));

    file.rules.forEach((rule, i) => {
      const rulePath = ['rules', i] as const;
      const checkRoles = (roles: readonly string[], base: YamlPath, what: string) =>
        roles.forEach((role, j) => {
          referenced.add(role);
          if (role === '*' || knownRoles.has(role)) return;
          const hint = suggest(role, roleNames);
          at([...base, j], `${what} names unknown role "${role}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
        });
      checkRoles(rule.roles, [...rulePath, 'roles'], 'rule');
      if (rule.approval) checkRoles(rule.approval.roles, [...rulePath, 'approval', 'roles'], 'approval');

      const actions = rule.allow ?? rule.deny ?? [];
      const procedureActions = PROCEDURE_ACTIONS.filter((a) => anyGlobMatch(actions, a));
      if ((rule.procedures || rule.environments) && procedureActions.length === 0) {
        at(rulePath, 'the rule names procedures or environments but only incident actions, which carry neither; it can never match');
      }
      if (rule.approval && procedureActions.length === 0) {
        at([...rulePath, 'approval'], `approval applies to procedure actions (${PROCEDURE_ACTIONS.join(', ')}) only`);
      }
      out.push(...lintRuleTargets(source, rule, i, input, procedureNames));
    });

    for (const [name, role] of Object.entries(file.roles)) {
      const members = (role.users?.length ?? 0) + (role.groups?.length ?? 0) + (role.pagerduty_services?.length ?? 0) + (role.scheduler ? 1 : 0);
      if (members === 0) at(['roles', name], `role "${name}" has no users, groups, pagerduty_services or scheduler; nobody holds it`, 'warning', true);
    }
  }

  for (const { source, policy: file } of input.policyFiles) {
    for (const name of Object.keys(file.roles)) {
      if (!referenced.has(name) && !referenced.has('*')) {
        out.push(findingAt(source, ['roles', name], `role "${name}" is not used by any rule`, 'warning', { key: true }));
      }
    }
  }
  return out;
}

/** Procedure and environment patterns of one rule against what the procedures declare. */
function lintRuleTargets(source: YamlSource, rule: RuleSpec, i: number, input: LintInput, procedureNames: readonly string[]): CatalogError[] {
  const out: CatalogError[] = [];
  const isAllow = rule.allow !== undefined;
  const patterns = rule.procedures;
  if (patterns) {
    patterns.forEach((p, j) => {
      if (procedureNames.some((n) => globMatch(p, n))) return;
      const path = ['rules', i, 'procedures', j];
      if (isGlob(p)) {
        // A deny over a name pattern is a guardrail for procedures still to come; only allows are suspicious.
        if (isAllow) out.push(findingAt(source, path, `procedure pattern "${p}" matches no procedure`, 'warning'));
        return;
      }
      const hint = suggest(p, procedureNames);
      const suffix = hint ? ` (did you mean "${hint}"?)` : '';
      out.push(
        isAllow
          ? findingAt(source, path, `unknown procedure "${p}"${suffix}`)
          : findingAt(source, path, `unknown procedure "${p}"${suffix}; this deny rule guards nothing yet`, 'warning'),
      );
    });
  }

  if (rule.environments) {
    const brokenCovered = (input.brokenProcedures ?? []).some((n) => !patterns || anyGlobMatch(patterns, n));
    const covered = input.procedures.filter((p) => !patterns || anyGlobMatch(patterns, p.procedure.name));
    if (covered.length === 0 || brokenCovered) return out;
    const declared = [...new Set(covered.flatMap((p) => p.procedure.environments))];
    rule.environments.forEach((e, j) => {
      if (declared.some((d) => globMatch(e, d))) return;
      const path = ['rules', i, 'environments', j];
      const which = patterns ? 'no procedure this rule covers' : 'no procedure';
      if (isGlob(e)) {
        if (isAllow) out.push(findingAt(source, path, `environment pattern "${e}" matches no environment ${which} declares`, 'warning'));
      } else if (isAllow) {
        out.push(findingAt(source, path, `${which} declares environment "${e}", so this rule can never match (declared: ${declared.join(', ')})`));
      } else {
        out.push(findingAt(source, path, `${which} declares environment "${e}"; this deny rule guards nothing yet`, 'warning'));
      }
    });
  }
  return out;
}

function lintProcedures(input: LintInput): CatalogError[] {
  const out: CatalogError[] = [];
  const seen = new Map<string, string>();
  for (const { source, procedure } of input.procedures) {
    const at = (path: YamlPath, message: string, severity: Severity = 'error', key = false) =>
      out.push(findingAt(source, path, message, severity, { key }));
    const base = source.name.replace(/\.ya?ml$/, '');
    if (base !== procedure.name) {
      at(['name'], `name "${procedure.name}" does not match the file name; a procedure named "${procedure.name}" lives in ${procedure.name}.yaml`);
    }
    const earlier = seen.get(procedure.name);
    if (earlier !== undefined) at(['name'], `procedure "${procedure.name}" is already defined in ${earlier}`);
    else seen.set(procedure.name, source.name);

    for (const [name, def] of Object.entries(procedure.params)) {
      for (const f of lintParam(def)) at(['params', name, f.key], `parameter "${name}": ${f.message}`, f.severity);
    }

    const stepNames = new Set<string>();
    procedure.steps.forEach((step, i) => {
      if (stepNames.has(step.name)) at(['steps', i, 'name'], `step name "${step.name}" is used twice; outputs are kept by step name`);
      stepNames.add(step.name);
    });

    // The same check the runner applies, so a file that validates never fails on its templates at run time.
    for (const problem of checkProcedureTemplates(procedure)) at(problem.path, problem.message);

    // Triggers and schedules both start runs with preset values: the same checks apply to each.
    const presets: Array<{ key: 'triggers' | 'schedule'; i: number; env?: string; with: Record<string, unknown>; what: string }> = [
      ...procedure.triggers.map((t, i) => ({ key: 'triggers' as const, i, env: t.env, with: t.with, what: 'trigger' })),
      ...procedure.schedule.map((s, i) => ({ key: 'schedule' as const, i, env: s.env, with: s.with, what: 'schedule' })),
    ];
    procedure.schedule.forEach((entry, i) => {
      if (!validateCron(entry.cron))
        at(['schedule', i, 'cron'], `"${entry.cron}" is not a cron expression (minute hour day-of-month month day-of-week, UTC)`);
    });
    for (const preset of presets) {
      const { key, i, what } = preset;
      if (preset.env !== undefined && !procedure.environments.includes(preset.env)) {
        at([key, i, 'env'], `${what} env "${preset.env}" is not one of the procedure's environments (${procedure.environments.join(', ')})`);
      }
      for (const [name, value] of Object.entries(preset.with)) {
        const def = procedure.params[name];
        if (def === undefined) {
          at([key, i, 'with', name], `${what} sets "${name}", which is not a parameter of this procedure`, 'error', true);
        } else if (def.type === 'secret') {
          at([key, i, 'with', name], `"${name}" is a secret parameter; it comes from the bot's environment, never from a file`, 'error', true);
        } else {
          const checked = checkValue(def, String(value));
          if (typeof checked === 'object') at([key, i, 'with', name], `${what} value for "${name}": ${checked.problem}`);
        }
      }
      for (const [name, def] of Object.entries(procedure.params)) {
        if (def.type === 'secret' || !def.required || def.default !== undefined || name in preset.with) continue;
        at([key, i], `${what} does not set required parameter "${name}", so the ${what === 'trigger' ? 'triggered' : 'scheduled'} run could never start`);
      }
    }
  }
  out.push(...lintReachability(input));
  return out;
}

interface ParamFinding {
  key: string;
  message: string;
  severity: Severity;
}

function lintParam(def: ParamDef): ParamFinding[] {
  const out: ParamFinding[] = [];
  if (def.type === 'string' && def.pattern !== undefined) {
    const p = def.pattern;
    if (p.startsWith('^') || (p.endsWith('$') && !p.endsWith('\\$'))) {
      out.push({
        key: 'pattern',
        severity: 'warning',
        message: `pattern "${p}" carries ^/$ anchors; patterns always match the whole value, so drop them`,
      });
    }
    if (/^\^?\.[*+]/.test(p) || /\.[*+]\$?$/.test(p)) {
      out.push({
        key: 'pattern',
        severity: 'warning',
        message: `pattern "${p}" starts or ends with .* or .+, so it accepts any prefix or suffix (including option-like values); narrow it`,
      });
    }
  }
  if ((def.type === 'int' || def.type === 'duration') && def.min !== undefined && def.max !== undefined && def.min > def.max) {
    out.push({ key: 'min', severity: 'error', message: 'min is greater than max' });
  }
  if (def.type !== 'secret' && def.default !== undefined) {
    const checked = checkValue(def, String(def.default));
    if (typeof checked === 'object') out.push({ key: 'default', severity: 'error', message: `default ${checked.problem}` });
    if (def.required) out.push({ key: 'default', severity: 'warning', message: 'a required parameter with a default is never missing; drop one of them' });
  }
  if (def.type === 'enum' && new Set(def.values).size !== def.values.length) {
    out.push({ key: 'values', severity: 'warning', message: 'values lists the same value twice' });
  }
  return out;
}

/** Warns about procedures that no role holder may run in any of their environments. */
function lintReachability(input: LintInput): CatalogError[] {
  const { policy } = input;
  if (input.policyFiles.length === 0) return [];
  const held = (name: string): boolean => {
    const role = policy.roles[name];
    return (
      role !== undefined && (role.users?.length ?? 0) + (role.groups?.length ?? 0) + (role.pagerduty_services?.length ?? 0) + (role.scheduler ? 1 : 0) > 0
    );
  };
  const anyoneHolds = (roles: readonly string[]) => (roles.includes('*') ? Object.keys(policy.roles).some(held) : roles.some(held));
  const covers = (patterns: readonly string[] | undefined, value: string) => patterns === undefined || anyGlobMatch(patterns, value);

  const out: CatalogError[] = [];
  for (const { source, procedure } of input.procedures) {
    const runnable = procedure.environments.some((env) => {
      const applies = (r: RuleSpec) => covers(r.procedures, procedure.name) && covers(r.environments, env);
      const allowed = policy.rules.some((r) => r.allow && anyGlobMatch(r.allow, 'run') && applies(r) && anyoneHolds(r.roles));
      const deniedToAll = policy.rules.some(
        (r) => r.deny && anyGlobMatch(r.deny, 'run') && r.roles.includes('*') && r.channels === undefined && applies(r),
      );
      return allowed && !deniedToAll;
    });
    if (!runnable) {
      out.push(findingAt(source, ['name'], `no role may run "${procedure.name}" in any of its environments; add an allow rule`, 'warning'));
    }
  }
  return out;
}
