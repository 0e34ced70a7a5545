// Cross-file checks: references, rules that can never match, templates, defaults, triggers, reachability.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatCatalogError, type CatalogError } from '../../../src/catalog/catalog-error.js';
import { loadCatalog } from '../../../src/catalog/load-catalog.js';
import { MINIMAL_POLICY, RESTART_SERVICE, tempCatalog } from './temp-catalog.js';

/** Every finding (errors and warnings) of a catalog built from these files, as `name:line:col: …`. */
function findings(files: Record<string, string>): string[] {
  const result = loadCatalog(tempCatalog(files));
  const all: CatalogError[] = [...(result.ok ? [] : result.errors), ...result.warnings];
  return all.map((e) => formatCatalogError(e, { file: path.basename(e.file) }));
}

const withPolicy = (extraRules: string, files: Record<string, string> = {}) => ({
  'policies/a.yaml': MINIMAL_POLICY + extraRules,
  'commands/restart-service.yaml': RESTART_SERVICE,
  ...files,
});

describe('policy lint', () => {
  it('reports an unknown role in approval roles', () => {
    expect(findings(withPolicy('  - roles: [developer]\n    allow: [dry-run]\n    approval: { roles: [sre-lead] }\n'))).toContain(
      'a.yaml:15:25: approval names unknown role "sre-lead"',
    );
  });

  it('reports an environment no covered procedure declares on an allow rule as an error', () => {
    expect(findings(withPolicy('  - roles: [developer]\n    allow: [run]\n    procedures: [restart-service]\n    environments: [qa]\n'))).toEqual([
      'a.yaml:16:20: no procedure this rule covers declares environment "qa", so this rule can never match (declared: staging, prod)',
    ]);
  });

  it('only warns when a deny rule guards an environment or exact name that does not exist yet', () => {
    expect(findings(withPolicy('  - roles: ["*"]\n    deny: [run]\n    procedures: [drop-db]\n    environments: [qa]\n'))).toEqual([
      'a.yaml:15:18: warning: unknown procedure "drop-db"; this deny rule guards nothing yet',
    ]);
  });

  it('says nothing about a deny glob guarding procedures still to come', () => {
    expect(findings(withPolicy('  - roles: ["*"]\n    deny: [run]\n    procedures: ["drop-*"]\n    environments: [prod]\n'))).toEqual([]);
  });

  it('warns when an allow glob matches no procedure', () => {
    expect(findings(withPolicy('  - roles: [developer]\n    allow: [run]\n    procedures: ["diag-*"]\n'))).toEqual([
      'a.yaml:15:18: warning: procedure pattern "diag-*" matches no procedure',
    ]);
  });

  it('reports rules that name procedures but only incident actions, and approval on incident actions', () => {
    const out = findings(
      withPolicy(
        '  - roles: [developer]\n    allow: [incident.note]\n    procedures: [restart-service]\n' +
          '  - roles: [developer]\n    allow: [incident.ack]\n    approval: { roles: [sre-oncall] }\n',
      ),
    );
    expect(out).toContain('a.yaml:13:5: the rule names procedures or environments but only incident actions, which carry neither; it can never match');
    expect(out).toContain('a.yaml:18:15: approval applies to procedure actions (run, dry-run, approve, cancel) only');
  });

  it('warns about roles nobody holds or no rule uses', () => {
    const policy =
      'version: 1\nroles:\n  sre: { users: [U0SRE0001] }\n  ghost: {}\n  spare: { users: [U0SPA0001] }\nrules:\n  - roles: [sre, ghost]\n    allow: ["*"]\n';
    expect(findings({ 'policies/a.yaml': policy })).toEqual([
      'a.yaml:4:3: warning: role "ghost" has no users, groups, pagerduty_services or scheduler; nobody holds it',
      'a.yaml:5:3: warning: role "spare" is not used by any rule',
    ]);
  });

  it('does not call a procedure unknown because its own file is broken', () => {
    const out = findings({
      'policies/a.yaml': MINIMAL_POLICY,
      'commands/restart-service.yaml': RESTART_SERVICE.replace('owner: "@payments-team"\n', ''),
    });
    expect(out).toEqual(['restart-service.yaml:1:1: missing required key "owner"']);
  });
});

describe('procedure lint', () => {
  const procedure = (body: string) => withPolicy('', { 'commands/p.yaml': `name: p\ndescription: d\nowner: o\nenvironments: [prod]\n${body}` });

  it('checks defaults against their declarations', () => {
    const out = findings(
      procedure(
        'params:\n  n: { type: int, min: 1, max: 10, default: 50 }\n  m: { type: int, min: 5, max: 1 }\n  d: { type: duration, default: soon }\nsteps:\n  - name: s\n    run: [x, "{{n}}{{m}}{{d}}"]\n',
      ),
    );
    expect(out).toEqual([
      'p.yaml:6:45: parameter "n": default 50 is above the maximum 10',
      'p.yaml:7:24: parameter "m": min is greater than max',
      'p.yaml:8:33: parameter "d": default "soon" is not a duration; write e.g. 30s, 5m or 1h30m',
    ]);
  });

  it('warns about anchors and patterns open at either end', () => {
    const out = findings(
      procedure(
        'params:\n  a: { type: string, pattern: "^[a-z]+$" }\n  b: { type: string, pattern: ".*ok" }\nsteps:\n  - name: s\n    run: [x, "{{a}}", "{{b}}"]\n',
      ),
    );
    expect(out).toEqual([
      'p.yaml:6:31: warning: parameter "a": pattern "^[a-z]+$" carries ^/$ anchors; patterns always match the whole value, so drop them',
      'p.yaml:7:31: warning: parameter "b": pattern ".*ok" starts or ends with .* or .+, so it accepts any prefix or suffix (including option-like values); narrow it',
    ]);
  });

  it('refuses duplicate step names and secrets in argv', () => {
    const out = findings(procedure('params:\n  t: { type: secret, env: TOKEN }\nsteps:\n  - name: s\n    run: [x]\n  - name: s\n    run: [x, "{{t}}"]\n'));
    expect(out).toContain('p.yaml:10:11: step name "s" is used twice; outputs are kept by step name');
    expect(out.some((l) => l.startsWith('p.yaml:11:14: secret {{t}} cannot be used here'))).toBe(true);
  });

  it('checks triggers: parameters, values, environment and required parameters', () => {
    const out = findings(
      procedure(
        'params:\n  svc: { type: enum, values: [checkout], required: true }\n  t: { type: secret, env: TOKEN }\n' +
          'steps:\n  - name: s\n    run: [x, "{{svc}}"]\n' +
          'triggers:\n  - pagerduty: { event: incident.triggered }\n    env: staging\n    with: { svc: search, t: x, extra: 1 }\n' +
          '  - pagerduty: { event: incident.triggered }\n',
      ),
    );
    expect(out).toEqual([
      'p.yaml:13:10: trigger env "staging" is not one of the procedure\'s environments (prod)',
      'p.yaml:14:18: trigger value for "svc": "search" is not one of checkout',
      'p.yaml:14:26: "t" is a secret parameter; it comes from the bot\'s environment, never from a file',
      'p.yaml:14:32: trigger sets "extra", which is not a parameter of this procedure',
      'p.yaml:15:5: trigger does not set required parameter "svc", so the triggered run could never start',
    ]);
  });

  it('warns about a procedure no role may run', () => {
    const out = findings({
      'policies/a.yaml':
        'version: 1\nroles:\n  dev: { users: [U0DEV0001] }\nrules:\n  - roles: [dev]\n    allow: [run]\n    procedures: [restart-service]\n  - roles: ["*"]\n    deny: [run]\n    procedures: [restart-service]\n    environments: [prod]\n',
      'commands/restart-service.yaml': RESTART_SERVICE,
      'commands/other.yaml': 'name: other\ndescription: d\nowner: o\nenvironments: [prod]\nsteps:\n  - name: s\n    run: [x]\n',
    });
    expect(out).toEqual(['other.yaml:1:7: warning: no role may run "other" in any of its environments; add an allow rule']);
  });
});

describe('schedules and reminders', () => {
  const scheduled = (entry: string) => withPolicy('', { 'commands/restart-service.yaml': `${RESTART_SERVICE}schedule:\n${entry}` });

  it('reports a cron line that is not one, and a schedule missing a required parameter', () => {
    const found = findings(scheduled('  - cron: "every day"\n    env: prod\n'));
    expect(found.some((f) => /restart-service\.yaml:\d+:\d+: "every day" is not a cron expression/.test(f))).toBe(true);
    expect(found.some((f) => /schedule does not set required parameter "service", so the scheduled run could never start/.test(f))).toBe(true);
  });

  it('refuses reminders set in two policy files', () => {
    const found = findings({
      ...withPolicy('reminders:\n  commander: 5m\n'),
      'policies/b.yaml': 'version: 1\nreminders:\n  status_update: { sev1: 10m }\n',
    });
    expect(found).toContain('b.yaml:2:1: reminders are already set in a.yaml; set them in one policy file only');
  });
});
