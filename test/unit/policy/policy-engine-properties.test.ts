// Properties of the engine over generated policies: default deny, denies never grant, order never matters.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type Decision, type PolicyRequest } from '../../../src/core/policy/policy-engine.js';
import { EMPTY_POLICY, type Policy, type PolicyRule } from '../../../src/core/policy/policy.js';
import { ACTIONS, type RoleSpec } from '../../../src/core/policy/policy-schema.js';

const ROLE_NAMES = ['r1', 'r2', 'r3', 'r4'];
const USERS = ['U0A0001', 'U0A0002', 'U0A0003'];
const GROUPS = ['S0G0001', 'S0G0002', 'S0G0003'];
const SERVICE_PATTERNS = ['Checkout*', 'Search', '*'];
const ACTION_PATTERNS = [...ACTIONS, '*', 'incident.*', '*run'];
const PROCEDURES = ['diag-disk', 'restart-service', 'drop-db'];
const PROCEDURE_PATTERNS = [...PROCEDURES, 'diag-*', 'drop-*', '*'];
const ENVIRONMENTS = ['prod', 'staging'];
const ENVIRONMENT_PATTERNS = [...ENVIRONMENTS, '*'];
const CHANNELS = ['C0ONE', 'C0TWO'];
const CHANNEL_PATTERNS = [...CHANNELS, 'C0*'];

const some = <T>(items: readonly T[], minLength = 1) => fc.uniqueArray(fc.constantFrom(...items), { minLength, maxLength: 3 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const roleArb: fc.Arbitrary<RoleSpec> = fc.record(
  { users: some(USERS, 0), groups: some(GROUPS, 0), pagerduty_services: some(SERVICE_PATTERNS, 0) },
  { requiredKeys: [] },
);

const approvalArb = fc.record({
  roles: some(['*', ...ROLE_NAMES]),
  count: fc.integer({ min: 1, max: 3 }),
  expires: fc.constantFrom(600_000, 900_000, 1_800_000),
});

type RuleBody = Omit<PolicyRule, 'source'>;

const ruleBodyArb: fc.Arbitrary<RuleBody> = fc
  .record({
    roles: some(['*', ...ROLE_NAMES]),
    deny: fc.boolean(),
    actions: some(ACTION_PATTERNS),
    procedures: maybe(some(PROCEDURE_PATTERNS)),
    environments: maybe(some(ENVIRONMENT_PATTERNS)),
    channels: maybe(some(CHANNEL_PATTERNS)),
    approval: maybe(approvalArb),
  })
  .map(({ roles, deny, actions, procedures, environments, channels, approval }) => {
    const rule: RuleBody = deny ? { roles, deny: actions } : { roles, allow: actions };
    if (procedures) rule.procedures = procedures;
    if (environments) rule.environments = environments;
    if (channels) rule.channels = channels;
    if (approval && !deny) rule.approval = approval;
    return rule;
  });

const withSources = (bodies: readonly RuleBody[], file = 'p.yaml'): PolicyRule[] => bodies.map((body, index) => ({ ...body, source: { file, index } }));

const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    roles: fc.dictionary(fc.constantFrom(...ROLE_NAMES), roleArb, { maxKeys: 4 }),
    rules: fc.array(ruleBodyArb, { maxLength: 8 }),
  })
  .map(({ roles, rules }) => ({ roles, rules: withSources(rules) }));

const requestArb: fc.Arbitrary<PolicyRequest> = fc
  .record({
    userId: fc.constantFrom(...USERS, 'U0NOBODY'),
    groups: some(GROUPS, 0),
    service: maybe(fc.constantFrom('Checkout API', 'Search', 'Other')),
    action: fc.constantFrom(...ACTIONS),
    procedure: maybe(fc.constantFrom(...PROCEDURES)),
    environment: maybe(fc.constantFrom(...ENVIRONMENTS)),
    channel: maybe(fc.constantFrom(...CHANNELS)),
  })
  .map(({ userId, groups, service, action, procedure, environment, channel }) => {
    const request: PolicyRequest = { subject: service ? { userId, groups, pagerdutyService: service } : { userId, groups }, action };
    if (procedure) request.procedure = procedure;
    if (environment) request.environment = environment;
    if (channel) request.channel = channel;
    return request;
  });

const denyRuleArb: fc.Arbitrary<RuleBody> = ruleBodyArb.map((r) => {
  const { allow, approval: _approval, ...rest } = r;
  return allow ? { ...rest, deny: allow } : r;
});

const RANK = { deny: 0, approval_required: 1, allow: 2 } as const;

/** Permutes a list by random sort keys. */
const permute = <T>(items: readonly T[], keys: readonly number[]): T[] =>
  items
    .map((item, i) => ({ item, key: keys[i % Math.max(keys.length, 1)] ?? 0, i }))
    .sort((a, b) => a.key - b.key || b.i - a.i)
    .map((x) => x.item);

function shuffledPolicy(policy: Policy, keys: readonly number[]): Policy {
  const p = <T>(xs: readonly T[] | undefined): T[] | undefined => (xs === undefined ? undefined : permute(xs, keys));
  const roles = Object.fromEntries(
    permute(Object.entries(policy.roles), keys).map(([name, role]) => {
      const out: RoleSpec = {};
      if (role.users) out.users = p(role.users)!;
      if (role.groups) out.groups = p(role.groups)!;
      if (role.pagerduty_services) out.pagerduty_services = p(role.pagerduty_services)!;
      return [name, out];
    }),
  );
  const rules = permute(policy.rules, keys).map((rule) => {
    const out: PolicyRule = { ...rule, roles: p(rule.roles)! };
    if (rule.allow) out.allow = p(rule.allow)!;
    if (rule.deny) out.deny = p(rule.deny)!;
    if (rule.procedures) out.procedures = p(rule.procedures)!;
    if (rule.environments) out.environments = p(rule.environments)!;
    if (rule.channels) out.channels = p(rule.channels)!;
    if (rule.approval) out.approval = { ...rule.approval, roles: p(rule.approval.roles)! };
    return out;
  });
  return { roles, rules };
}

/** The parts of a decision that must not depend on rule order (summaries quote each rule as written). */
const essence = (d: Decision) => ({
  effect: d.effect,
  approval: d.approval,
  roles: d.roles,
  reason: d.reason,
  matched: d.matched.map((m) => ({ source: m.source, outcome: m.outcome, decisive: m.decisive, approval: m.approval })),
});

describe('policy engine properties', () => {
  it('the empty policy denies everything', () => {
    fc.assert(
      fc.property(requestArb, (request) => {
        const d = decide(EMPTY_POLICY, request);
        expect(d.effect).toBe('deny');
        expect(d.matched).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('a policy with roles but no rules denies everything', () => {
    fc.assert(
      fc.property(policyArb, requestArb, (policy, request) => {
        expect(decide({ roles: policy.roles, rules: [] }, request).effect).toBe('deny');
      }),
      { numRuns: 500 },
    );
  });

  it('a subject holding no role is denied whatever the rules say', () => {
    fc.assert(
      fc.property(policyArb, requestArb, (policy, request) => {
        const stranger = { ...request, subject: { userId: 'U0STRANGER', groups: ['S0STRANGER'] } };
        expect(decide(policy, stranger).effect).toBe('deny');
      }),
      { numRuns: 500 },
    );
  });

  it('adding a deny rule never grants anything', () => {
    fc.assert(
      fc.property(policyArb, requestArb, denyRuleArb, fc.nat(), (policy, request, deny, at) => {
        const before = decide(policy, request);
        const bodies: RuleBody[] = policy.rules.map(({ source: _source, ...body }) => body);
        bodies.splice(at % (bodies.length + 1), 0, deny);
        const after = decide({ roles: policy.roles, rules: withSources(bodies) }, request);
        expect(RANK[after.effect]).toBeLessThanOrEqual(RANK[before.effect]);
        if (after.effect === 'approval_required') expect(after.approval).toEqual(before.approval);
      }),
      { numRuns: 1000 },
    );
  });

  it('shuffling rules, roles and every list inside them never changes a decision', () => {
    fc.assert(
      fc.property(policyArb, requestArb, fc.array(fc.integer(), { minLength: 1, maxLength: 12 }), (policy, request, keys) => {
        const shuffled = shuffledPolicy(policy, keys);
        expect(essence(decide(shuffled, request))).toEqual(essence(decide(policy, request)));
      }),
      { numRuns: 1000 },
    );
  });

  it('re-numbering rules (a reordered file) keeps the effect, the approval and which kinds of rule matched', () => {
    fc.assert(
      fc.property(policyArb, requestArb, fc.array(fc.integer(), { minLength: 1, maxLength: 12 }), (policy, request, keys) => {
        const bodies = permute(
          policy.rules.map(({ source: _source, ...body }) => body),
          keys,
        );
        const a = decide(policy, request);
        const b = decide({ roles: policy.roles, rules: withSources(bodies) }, request);
        expect(b.effect).toBe(a.effect);
        expect(b.approval).toEqual(a.approval);
        expect(b.roles).toEqual(a.roles);
        const kinds = (d: Decision) => d.matched.map((m) => `${m.outcome}:${m.decisive}:${JSON.stringify(m.approval ?? null)}`).sort();
        expect(kinds(b)).toEqual(kinds(a));
      }),
      { numRuns: 1000 },
    );
  });

  it('an allow is always backed by a matching plain allow rule and no matching deny', () => {
    fc.assert(
      fc.property(policyArb, requestArb, (policy, request) => {
        const d = decide(policy, request);
        if (d.effect === 'allow') {
          expect(d.matched.some((m) => m.outcome === 'allow')).toBe(true);
          expect(d.matched.some((m) => m.outcome === 'deny')).toBe(false);
        }
        if (d.effect === 'approval_required') {
          expect(d.matched.some((m) => m.outcome === 'allow' || m.outcome === 'deny')).toBe(false);
          expect(d.approval).toBeDefined();
        }
      }),
      { numRuns: 500 },
    );
  });
});
