// Engine semantics beyond the table: approvers, helpers for help/list, tie-breaking, narrowing.
import { describe, expect, it } from 'vitest';
import { canApprove, compareStrictness, decide, mayPerform, permittedEnvironments } from '../../../src/core/policy/policy-engine.js';
import { policyFromYaml } from './build-policy.js';

const POLICY = policyFromYaml(`
version: 1
roles:
  sre-oncall: { users: [U0SRE0001] }
  lead:       { users: [U0LEAD001] }
  developer:  { groups: [S0DEVS] }
  auditor:    { users: [U0AUD0001] }
  release:    { users: [U0REL0001] }
rules:
  - roles: [developer]
    allow: [run]
    procedures: [restart-service]
    environments: [prod]
    approval: { roles: [sre-oncall], count: 1 }
  - roles: [developer]
    allow: [run, dry-run]
    procedures: [restart-service]
    environments: [staging]
  - roles: [release]
    allow: [approve]
    procedures: [restart-service]
  - roles: [lead]
    allow: [approve]
    procedures: [restart-service]
    approval: { roles: [sre-oncall] }
  - roles: [auditor]
    allow: [approve]
  - roles: [auditor]
    deny: [approve]
    procedures: [restart-service]
    environments: [prod]
  - roles: [sre-oncall]
    deny: [approve]
    procedures: [restart-service]
    channels: [C0LOCKED]
`);

const dev = { userId: 'U0DEV0001', groups: ['S0DEVS'] };
const target = { procedure: 'restart-service', environment: 'prod', approvalRoles: ['sre-oncall'] };

describe('canApprove', () => {
  it('lets a holder of an approval role approve', () => {
    const r = canApprove(POLICY, { userId: 'U0SRE0001', groups: [] }, target);
    expect(r.allowed).toBe(true);
    expect(r.reason).toMatch(/holds role sre-oncall/);
  });

  it('lets a plain approve rule grant it', () => {
    const r = canApprove(POLICY, { userId: 'U0REL0001', groups: [] }, target);
    expect(r.allowed).toBe(true);
    expect(r.matched.map((m) => m.source.index)).toEqual([2]);
  });

  it('refuses someone with neither the role nor an approve rule', () => {
    const r = canApprove(POLICY, dev, target);
    expect(r.allowed).toBe(false);
    expect(r.reason).toMatch(/sre-oncall/);
  });

  it('refuses an approve permission that itself needs approval', () => {
    const r = canApprove(POLICY, { userId: 'U0LEAD001', groups: [] }, target);
    expect(r.allowed).toBe(false);
    expect(r.reason).toMatch(/does not count/);
  });

  it('lets a deny on approve win over an approve rule', () => {
    expect(canApprove(POLICY, { userId: 'U0AUD0001', groups: [] }, target).allowed).toBe(false);
    expect(canApprove(POLICY, { userId: 'U0AUD0001', groups: [] }, { ...target, environment: 'staging' }).allowed).toBe(true);
  });

  it('lets a deny on approve win over holding the approval role', () => {
    const sre = { userId: 'U0SRE0001', groups: [] };
    expect(canApprove(POLICY, sre, { ...target, channel: 'C0LOCKED' }).allowed).toBe(false);
    expect(canApprove(POLICY, sre, { ...target, channel: 'C0OPEN' }).allowed).toBe(true);
  });

  it('treats "*" in approval roles as anyone holding a role, never a stranger', () => {
    const any = { ...target, approvalRoles: ['*'] };
    expect(canApprove(POLICY, dev, any).allowed).toBe(true);
    expect(canApprove(POLICY, { userId: 'U0STRANGE', groups: [] }, any).allowed).toBe(false);
  });
});

describe('mayPerform and permittedEnvironments', () => {
  it('count approval-required as performable and denied as not', () => {
    expect(mayPerform(POLICY, dev, 'run', { procedure: 'restart-service', environment: 'prod' })).toBe(true);
    expect(mayPerform(POLICY, dev, 'run', { procedure: 'restart-service', environment: 'staging' })).toBe(true);
    expect(mayPerform(POLICY, dev, 'dry-run', { procedure: 'restart-service', environment: 'prod' })).toBe(false);
    expect(mayPerform(POLICY, dev, 'incident.declare')).toBe(false);
  });

  it('list the environments a subject may run a procedure in, with the approval each needs', () => {
    const envs = permittedEnvironments(POLICY, dev, { name: 'restart-service', environments: ['dev', 'staging', 'prod'] });
    expect(envs).toEqual([
      { environment: 'staging', effect: 'allow' },
      { environment: 'prod', effect: 'approval_required', approval: { roles: ['sre-oncall'], count: 1, expiresMs: 900_000 } },
    ]);
    expect(permittedEnvironments(POLICY, dev, { name: 'restart-service', environments: ['staging', 'prod'] }, { action: 'dry-run' })).toEqual([
      { environment: 'staging', effect: 'allow' },
    ]);
  });
});

describe('matching rules', () => {
  const p = policyFromYaml(`
version: 1
roles:
  ops: { users: [U0OPS0001] }
  idle: {}
rules:
  - roles: [ops]
    allow: [incident.ack, run]
    procedures: [diag-disk]
  - roles: [ops]
    allow: [incident.note]
    channels: [C0INC01]
  - roles: [idle]
    allow: ["*"]
`);
  const ops = { userId: 'U0OPS0001', groups: [] };

  it('a rule naming procedures does not match a request without one (incident actions)', () => {
    expect(decide(p, { subject: ops, action: 'incident.ack' }).effect).toBe('deny');
    expect(decide(p, { subject: ops, action: 'run', procedure: 'diag-disk', environment: 'prod' }).effect).toBe('allow');
  });

  it('a rule naming channels matches only requests from those channels', () => {
    expect(decide(p, { subject: ops, action: 'incident.note', channel: 'C0INC01' }).effect).toBe('allow');
    expect(decide(p, { subject: ops, action: 'incident.note', channel: 'C0INC02' }).effect).toBe('deny');
    expect(decide(p, { subject: ops, action: 'incident.note' }).effect).toBe('deny');
  });

  it('a role nobody holds grants nothing', () => {
    expect(decide(p, { subject: { userId: 'U0IDLE001', groups: [] }, action: 'incident.note' }).effect).toBe('deny');
  });
});

describe('choosing among approval rules', () => {
  const requirement = (count: number, expiresMs: number, roles: string[]) => ({ count, expiresMs, roles });

  it('orders by count, then a shorter window, then fewer roles, then role names', () => {
    const sorted = [
      requirement(1, 900_000, ['a']),
      requirement(2, 1_800_000, ['a', 'b']),
      requirement(2, 600_000, ['b']),
      requirement(2, 600_000, ['a']),
      requirement(2, 600_000, ['a', 'c']),
    ].sort(compareStrictness);
    expect(sorted).toEqual([
      requirement(2, 600_000, ['a']),
      requirement(2, 600_000, ['b']),
      requirement(2, 600_000, ['a', 'c']),
      requirement(2, 1_800_000, ['a', 'b']),
      requirement(1, 900_000, ['a']),
    ]);
  });

  it('picks the same requirement whichever file order the rules have', () => {
    const rules = [
      `  - roles: [dev]\n    allow: [run]\n    approval: { roles: [lead], count: 1, expires: 5m }\n`,
      `  - roles: [dev]\n    allow: [run]\n    approval: { roles: [sre], count: 1, expires: 5m }\n`,
      `  - roles: [dev]\n    allow: [run]\n    approval: { roles: [sre], count: 1, expires: 1h }\n`,
    ];
    const head = 'version: 1\nroles:\n  dev: { users: [U0DEV0001] }\n  lead: { users: [U0LEAD001] }\n  sre: { users: [U0SRE0001] }\nrules:\n';
    const orders = [
      [0, 1, 2],
      [2, 1, 0],
      [1, 0, 2],
    ];
    const chosen = orders.map(
      (o) =>
        decide(policyFromYaml(head + o.map((i) => rules[i]).join('')), {
          subject: { userId: 'U0DEV0001', groups: [] },
          action: 'run',
          procedure: 'x',
          environment: 'prod',
        }).approval,
    );
    expect(chosen).toEqual([chosen[0], chosen[0], chosen[0]]);
    expect(chosen[0]).toEqual({ roles: ['lead'], count: 1, expiresMs: 300_000 });
  });
});
