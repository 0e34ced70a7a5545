// Decisions in words: outcome, roles, every matching rule, the approval needed.
import { describe, expect, it } from 'vitest';
import { explainDecision } from '../../../src/core/policy/explain.js';
import { decide, type PolicyRequest } from '../../../src/core/policy/policy-engine.js';
import { policyFromYaml } from './build-policy.js';

const POLICY = policyFromYaml(
  `
version: 1
roles:
  sre-oncall: { users: [U0SRE0001] }
  developer:  { groups: [S03DEVS] }
rules:
  - roles: [developer]
    allow: [run]
    procedures: [restart-service]
    environments: [prod]
    approval: { roles: [sre-oncall], count: 2, expires: 30m }
  - roles: ["*"]
    deny: [run]
    procedures: ["drop-*"]
  - roles: [developer]
    allow: [run]
    procedures: ["drop-*"]
`,
  'default.yaml',
);

const dev = { userId: 'U0DEV0001', groups: ['S03DEVS'] };

describe('explainDecision', () => {
  it('names the approval needed and the rule that requires it', () => {
    const request: PolicyRequest = { subject: dev, action: 'run', procedure: 'restart-service', environment: 'prod' };
    const text = explainDecision(request, decide(POLICY, request));
    expect(text).toContain('ALLOWED ONLY WITH APPROVAL: run restart-service in prod');
    expect(text).toContain('subject: U0DEV0001 (groups S03DEVS)');
    expect(text).toContain('roles:   developer');
    expect(text).toContain('* [needs approval] default.yaml rules[0]');
    expect(text).toContain('approval needed: 2 approvals from sre-oncall, within 30m');
  });

  it('lists both the deny and the allow it overrides', () => {
    const request: PolicyRequest = { subject: dev, action: 'run', procedure: 'drop-table', environment: 'prod' };
    const text = explainDecision(request, decide(POLICY, request));
    expect(text.split('\n')[0]).toBe('DENIED: run drop-table in prod');
    expect(text).toContain('* [deny] default.yaml rules[1]: denies run to anyone holding a role on procedures drop-*');
    expect(text).toContain('- [allow] default.yaml rules[2]: allows run to roles developer on procedures drop-*');
    expect(text).toMatch(/why: run drop-table in prod is denied by default\.yaml rules\[1\]/);
  });

  it('says so when the subject holds no role', () => {
    const request: PolicyRequest = { subject: { userId: 'U0NOBODY1', groups: [] }, action: 'incident.declare' };
    const text = explainDecision(request, decide(POLICY, request));
    expect(text).toContain('DENIED: incident.declare');
    expect(text).toContain('roles:   (none)');
    expect(text).toContain('matching rules: none');
    expect(text).toContain('holds no role');
  });
});
