// Properties of runs under a changing policy: whatever the edits, no run executes unless the policy, groups and scripts in force then allow it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/policy/policy-engine.js';
import type { Policy, PolicyRule } from '../../../src/core/policy/policy.js';
import type { RoleSpec } from '../../../src/core/policy/policy-schema.js';
import type { Source } from '../../../src/core/ports.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import type { ProcessStepResult } from '../../../src/core/procedures/step-runner.js';
import { createRunService, type CatalogView } from '../../../src/core/runs/run-service.js';
import type { Run } from '../../../src/core/runs/run.js';
import { memoryRunPorts } from './memory-run-ports.js';

const ROLES = ['r1', 'r2', 'r3'];
const USERS = ['U0A0001', 'U0A0002', 'U0A0003', 'U0A0004'];
const GROUPS = ['S0G0001', 'S0G0002'];
const ENVIRONMENTS = ['staging', 'prod'];
const SCRIPT = 'scripts/p.sh';

const PROCEDURE = ProcedureSchema.parse({
  name: 'p',
  description: 'A procedure whose script the edits may replace',
  owner: '@test',
  environments: ENVIRONMENTS,
  steps: [{ name: 'only', run: [`./${SCRIPT}`] }],
});

const some = <T>(items: readonly T[], minLength = 1) => fc.uniqueArray(fc.constantFrom(...items), { minLength, maxLength: items.length });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const roleArb: fc.Arbitrary<RoleSpec> = fc.record({ users: some(USERS, 1), groups: some(GROUPS, 0) });

type RuleBody = Omit<PolicyRule, 'source'>;

/** Rules about running and approving `p`, the kind whose edits matter to waiting runs. */
const ruleArb: fc.Arbitrary<RuleBody> = fc
  .record({
    roles: some(['*', ...ROLES]),
    // Mostly allows, so that runs do get requested, approved and executed between the edits.
    deny: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    actions: some(['run', 'approve', '*']),
    procedures: maybe(fc.constantFrom('p', '*').map((p) => [p])),
    environments: maybe(some(ENVIRONMENTS)),
    approval: maybe(fc.record({ roles: some(['*', ...ROLES]), count: fc.integer({ min: 1, max: 2 }), expires: fc.constant(600_000) })),
  })
  .map(({ roles, deny, actions, procedures, environments, approval }) => {
    const rule: RuleBody = deny ? { roles, deny: actions } : { roles, allow: actions };
    if (procedures) rule.procedures = procedures;
    if (environments) rule.environments = environments;
    if (approval && !deny) rule.approval = approval;
    return rule;
  });

const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    roles: fc.dictionary(fc.constantFrom(...ROLES), roleArb, { minKeys: 2, maxKeys: 3 }),
    rules: fc.array(ruleArb, { minLength: 1, maxLength: 5 }),
  })
  .map(({ roles, rules }) => ({ roles, rules: rules.map((body, index) => ({ ...body, source: { file: 'p.yaml', index } })) }));

type Op =
  | { op: 'request'; user: string; env: string; source: Source; groups: string[] }
  | { op: 'approve'; user: string; run: number }
  | { op: 'deny'; user: string; run: number }
  | { op: 'policy'; policy: Policy; reload: boolean }
  | { op: 'groups'; user: string; groups: string[] }
  | { op: 'script'; version: number }
  | { op: 'answer' }
  | { op: 'expire' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('request' as const),
      user: fc.constantFrom(...USERS),
      env: fc.constantFrom(...ENVIRONMENTS),
      source: fc.constantFrom<Source>('slack', 'console'),
      groups: some(GROUPS, 0),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('approve' as const), user: fc.constantFrom(...USERS), run: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deny' as const), user: fc.constantFrom(...USERS), run: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('policy' as const), policy: policyArb, reload: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('groups' as const), user: fc.constantFrom(...USERS), groups: some(GROUPS, 0) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('script' as const), version: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'answer' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'expire' as const }) },
);

const SUCCEEDED: ProcessStepResult = { outcome: 'succeeded', exitCode: 0, signal: null, output: '', chunks: [], truncatedBytes: 0, durationMs: 0, pid: 1 };

/** Lets every pending continuation run (not a sleep: nothing waits on time). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Totals over every case, so the property is seen to have been exercised, not passed vacuously. */
const seen = { executed: 0, voided: 0 };

/** Plays one edit sequence; returns what went wrong at the moment a step was about to execute. */
async function play(initial: Policy, directoryAtStart: Record<string, string[]>, ops: readonly Op[]): Promise<string[]> {
  const ports = memoryRunPorts();
  const catalog: CatalogView = { policy: initial, policyHash: 'h0', procedures: new Map([['p', PROCEDURE]]) };
  const directory = new Map(Object.entries(directoryAtStart));
  let script = 'v0';
  let now = 1_000_000;
  const scriptAtRequest = new Map<string, string>();
  const violations: string[] = [];
  // The group directory answers when the sequence says so, with what it holds at that moment.
  const lookups: Array<{ user: string; resolve: (groups: string[]) => void }> = [];
  const inflight: Array<Promise<unknown>> = [];

  const service = createRunService({
    ...ports,
    clock: { now: () => now },
    catalog: () => catalog,
    findIncident: async () => undefined,
    secretEnv: {},
    programs: { digest: (file) => (file === SCRIPT ? script : null) },
    currentGroups: (user) => new Promise((resolve) => lookups.push({ user, resolve })),
    steps: {
      process: async () => {
        // The run about to execute is the one running with no step recorded yet.
        for (const run of await ports.runs.active()) if (run.state === 'running' && (await ports.runs.steps(run.id)).length === 0) await check(run);
        seen.executed += 1;
        return SUCCEEDED;
      },
      http: async () => {
        throw new Error('no http steps here');
      },
    },
    pid: 1,
    isAlive: () => true,
    killGroup: () => undefined,
  });

  /** The property: the policy and groups in force now allow the requester, directly or with the approvals given, and the script is the one requested. */
  async function check(run: Run): Promise<void> {
    const groups = run.source === 'slack' ? (directory.get(run.requestedBy) ?? []) : run.requestedGroups;
    const decision = decide(catalog.policy, {
      subject: { userId: run.requestedBy, groups },
      action: 'run',
      procedure: run.procedure,
      environment: run.environment,
      channel: 'C0ONE',
    });
    const approvers = new Set(
      (await ports.runs.approvals(run.id))
        .filter((a) => a.decision === 'approve' && a.binding === run.binding && a.approver !== run.requestedBy)
        .map((a) => a.approver),
    );
    const allowed = decision.effect === 'allow' || (decision.effect === 'approval_required' && approvers.size >= decision.approval!.count);
    if (!allowed)
      violations.push(
        `${run.id} of ${run.requestedBy} executed though the policy in force says ${decision.effect} (${approvers.size} approvals): ${decision.reason}`,
      );
    if (scriptAtRequest.get(run.id) !== script) violations.push(`${run.id} executed a script changed since its request`);
  }

  const track = (p: Promise<unknown>): void => {
    inflight.push(p.catch(() => undefined));
  };
  const answerLookups = async (): Promise<void> => {
    for (const { user, resolve } of lookups.splice(0)) resolve(directory.get(user) ?? []);
    await flush();
  };

  for (const op of ops) {
    try {
      switch (op.op) {
        case 'request': {
          const groups = op.source === 'slack' ? (directory.get(op.user) ?? []) : op.groups;
          const result = await service.request(
            { actor: { id: op.user, groups }, source: op.source },
            { procedure: 'p', params: {}, environment: op.env, channel: 'C0ONE', onCreated: async (run) => void scriptAtRequest.set(run.id, script) },
          );
          if (result.kind === 'run' && result.done) track(result.done);
          break;
        }
        case 'approve':
          track(service.approve({ actor: { id: op.user, groups: directory.get(op.user) ?? [] }, source: 'slack' }, `R-${op.run}`).then((r) => r.done));
          break;
        case 'deny':
          await service.deny({ actor: { id: op.user, groups: directory.get(op.user) ?? [] }, source: 'slack' }, `R-${op.run}`, '');
          break;
        case 'policy':
          catalog.policy = op.policy;
          catalog.policyHash = `h${Math.random()}`;
          // With `reload`, the watcher's hook runs; without, the edit is in force before it has.
          if (op.reload) track(service.revalidateWaiting());
          break;
        case 'groups':
          directory.set(op.user, op.groups);
          break;
        case 'script':
          script = `v${op.version}`;
          break;
        case 'answer':
          await answerLookups();
          break;
        case 'expire':
          now += 11 * 60_000;
          await service.expireApprovals();
          break;
      }
    } catch {
      // Refusals are expected; the property is about what executes.
    }
    await flush();
  }
  let settled = false;
  void Promise.all(inflight).then(() => (settled = true));
  // `settled` is set by the callback above while this loop awaits; tsc keeps the narrowing to false.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  while (!settled) await answerLookups();
  await service.idle();
  seen.voided += ports.rows().filter((r) => r.kind === 'run.approval_voided' || (r.kind === 'run.finished' && r.payload.state === 'denied')).length;
  return violations;
}

describe('runs under policy edits', () => {
  it('never execute unless the policy, groups and scripts in force at execution allow the requester (or the approvals given)', async () => {
    const directoryArb = fc.dictionary(fc.constantFrom(...USERS), some(GROUPS, 0));
    await fc.assert(
      fc.asyncProperty(policyArb, directoryArb, fc.array(opArb, { minLength: 1, maxLength: 25 }), async (policy, directory, ops) => {
        expect(await play(policy, directory, ops)).toEqual([]);
      }),
      { numRuns: 1000 },
    );
    // Both sides were exercised: runs did execute, and runs were stopped by a later decision.
    expect(seen.executed).toBeGreaterThan(50);
    expect(seen.voided).toBeGreaterThan(50);
  });
});
