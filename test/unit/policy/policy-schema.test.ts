// The policy file format: what it accepts, its defaults, and what it refuses.
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { mergePolicyFiles } from '../../../src/core/policy/policy.js';
import { PolicyFileSchema } from '../../../src/core/policy/policy-schema.js';

const check = (text: string) => PolicyFileSchema.safeParse(parse(text));
const messages = (text: string) => {
  const r = check(text);
  expect(r.success).toBe(false);
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('PolicyFileSchema', () => {
  it('accepts the SPEC example and applies approval defaults', () => {
    const r = check(`
version: 1
roles:
  sre-oncall:   { users: [U01SRE0001], groups: [S01SREONCALL] }
  support:      { groups: [S02SUPPORT] }
  developer:    { groups: [S03DEVS] }
  pagerduty:    { pagerduty_services: ["*"] }
rules:
  - roles: ["*"]
    allow: [incident.declare, incident.update, incident.note, runbook.list]
  - roles: [support, developer, pagerduty]
    allow: [run, dry-run]
    procedures: ["diag-*"]
    environments: ["*"]
  - roles: [developer]
    allow: [run]
    procedures: [restart-service]
    environments: [prod]
    approval: { roles: [sre-oncall] }
  - roles: [sre-oncall]
    allow: ["*"]
  - roles: ["*"]
    deny: [run]
    procedures: ["drop-*"]
    environments: [prod]
`);
    expect(r.success).toBe(true);
    expect(r.data!.rules[2]!.approval).toEqual({ roles: ['sre-oncall'], count: 1, expires: 900_000 });
  });

  it('refuses a rule with both allow and deny, and one with neither', () => {
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: [run]\n    deny: [run]\n')).toEqual([
      'rules.0: a rule has exactly one of `allow` or `deny`',
    ]);
    expect(messages('version: 1\nrules:\n  - roles: [a]\n')).toEqual(['rules.0: a rule has exactly one of `allow` or `deny`']);
  });

  it('refuses approval on a deny rule', () => {
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    deny: [run]\n    approval: { roles: [b] }\n')).toContain(
      'rules.0.approval: `approval` only belongs on an `allow` rule',
    );
  });

  it('refuses unknown keys', () => {
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    alow: [run]\n')).toContain('rules.0: Unrecognized key: "alow"');
    expect(messages('version: 1\nrolez: {}\n')).toContain(': Unrecognized key: "rolez"');
  });

  it('refuses unknown actions but accepts globs that match some action', () => {
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: [restart]\n')[0]).toMatch(/unknown action "restart"/);
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: ["foo.*"]\n')[0]).toMatch(/matches no action/);
    expect(check('version: 1\nrules:\n  - roles: [a]\n    allow: ["incident.*", "*"]\n').success).toBe(true);
  });

  it('accepts the viewing actions incident.view, incident.view_private and runbook.status, and still refuses near misses', () => {
    expect(check('version: 1\nrules:\n  - roles: [a]\n    allow: [incident.view, incident.view_private, runbook.status]\n').success).toBe(true);
    expect(check('version: 1\nrules:\n  - roles: [a]\n    deny: ["incident.view*"]\n').success).toBe(true);
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: [incident.read]\n')[0]).toMatch(
      /unknown action "incident\.read"; actions are .*incident\.view, incident\.view_private, .*runbook\.status/,
    );
  });

  it('refuses display names where Slack IDs belong', () => {
    expect(messages('version: 1\nroles:\n  a: { users: ["@alice"] }\n')[0]).toMatch(/Slack user IDs/);
    expect(messages('version: 1\nroles:\n  a: { groups: ["sre-team"] }\n')[0]).toMatch(/user-group IDs/);
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: [run]\n    channels: ["#incidents"]\n')[0]).toMatch(/channel IDs/);
  });

  it('refuses a bad approval duration, count and empty lists', () => {
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: [run]\n    approval: { roles: [b], expires: 15 minutes }\n')[0]).toMatch(
      /"15 minutes" is not a duration/,
    );
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: [run]\n    approval: { roles: [b], count: 0 }\n')[0]).toMatch(/count/);
    expect(messages('version: 1\nrules:\n  - roles: [a]\n    allow: [run]\n    procedures: []\n')[0]).toMatch(/leave the key out/);
    expect(messages('version: 1\nrules:\n  - roles: []\n    allow: [run]\n')[0]).toMatch(/at least one role/);
  });

  it('refuses another version', () => {
    expect(messages('version: 2\n')[0]).toMatch(/^version: must be 1/);
  });
});

describe('mergePolicyFiles', () => {
  it('keeps every rule with its file and index, and reports roles defined twice', () => {
    const a = PolicyFileSchema.parse(parse('version: 1\nroles:\n  x: { users: [U0AAA] }\nrules:\n  - roles: [x]\n    allow: [run]\n'));
    const b = PolicyFileSchema.parse(parse('version: 1\nroles:\n  x: { users: [U0BBB] }\n  y: {}\nrules:\n  - roles: [y]\n    deny: [run]\n'));
    const { policy, conflicts } = mergePolicyFiles([
      { file: 'a.yaml', policy: a, ruleLines: [4] },
      { file: 'b.yaml', policy: b },
    ]);
    expect(policy.rules.map((r) => r.source)).toEqual([
      { file: 'a.yaml', index: 0, line: 4 },
      { file: 'b.yaml', index: 0 },
    ]);
    expect(policy.roles.x).toEqual({ users: ['U0AAA'] });
    expect(conflicts).toEqual([{ role: 'x', files: ['a.yaml', 'b.yaml'] }]);
  });
});
