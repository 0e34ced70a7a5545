// The run service over in-memory ports: request, approval and execution with a fake step runner, recorded on a chain that verifies.
import { describe, expect, it } from 'vitest';
import { ConflictError, NotAllowedError } from '../../../src/errors.js';
import type { Policy } from '../../../src/core/policy/policy.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import { coreServices, fakeSteps } from '../../support/in-memory/core-services.js';

const DEV = { actor: { id: 'U0DEV0001', groups: [] }, source: 'slack' as const };
const LEAD = { actor: { id: 'U0LEAD001', groups: [] }, source: 'slack' as const };
const OTHER = { actor: { id: 'U0OTHER01', groups: [] }, source: 'slack' as const };

const RESTART = ProcedureSchema.parse({
  name: 'restart',
  description: 'Restarts one service',
  owner: '@test',
  environments: ['prod'],
  params: { service: { type: 'string', pattern: '[a-z]{1,20}', required: true } },
  concurrency: 'restart-{{service}}',
  steps: [
    { name: 'drain', run: ['/usr/bin/drain', '{{service}}'] },
    { name: 'restart', run: ['/usr/bin/restart', '{{service}}'] },
  ],
});

const POLICY: Policy = {
  roles: { dev: { users: [DEV.actor.id] }, lead: { users: [LEAD.actor.id] } },
  rules: [
    { roles: ['dev'], allow: ['run', 'dry-run'], approval: { roles: ['lead'], count: 1, expires: 600_000 }, source: { file: 'p.yaml', index: 0 } },
    { roles: ['lead'], allow: ['approve', 'run'], source: { file: 'p.yaml', index: 1 } },
  ],
};

describe('the run service over in-memory ports', () => {
  it('holds a run for approval, starts it once a lead approves, runs every step in order and records it all', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    const requested = await s.runs.request(DEV, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    expect(requested).toMatchObject({ kind: 'run', run: { id: 'R-1', state: 'pending_approval' }, done: null });
    expect(s.steps.calls).toEqual([]);

    const approved = await s.runs.approve(LEAD, 'R-1');
    expect(approved).toMatchObject({ approvals: 1, needed: 1, run: { state: 'queued' } });
    const run = await approved.done!;

    expect(run).toMatchObject({ id: 'R-1', state: 'succeeded', error: null });
    expect(s.steps.calls.map((c) => c.argv)).toEqual([
      ['/usr/bin/drain', 'checkout'],
      ['/usr/bin/restart', 'checkout'],
    ]);
    expect((await s.runs.steps('R-1')).map((step) => [step.name, step.outcome])).toEqual([
      ['drain', 'succeeded'],
      ['restart', 'succeeded'],
    ]);
    expect(s.kinds()).toEqual([
      'policy.approval_required',
      'run.requested',
      'run.approved',
      'run.started',
      'run.step_started',
      'run.step_finished',
      'run.step_started',
      'run.step_finished',
      'run.finished',
    ]);
    // The lease is free again, and the chain of every row verifies with its real hashes.
    expect(await s.store.runs.leaseHolder('restart-checkout')).toBeUndefined();
    expect(await s.store.audit.verify()).toMatchObject({ ok: true, count: 9 });
    expect(s.store.outboxItems().map((o) => (o.body as { kind?: string }).kind)).toEqual([
      'run.approval_requested',
      'run.approved',
      'run.started',
      'run.finished',
    ]);
  });

  it('refuses the requester approving their own run, and records the refusal through the decision recorder', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    await s.runs.request(DEV, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    await expect(s.runs.approve(DEV, 'R-1')).rejects.toThrow(NotAllowedError);
    const refusal = s.store.auditRows().at(-1)!;
    expect(refusal).toMatchObject({
      kind: 'policy.denied',
      actor: DEV.actor.id,
      payload: {
        action: 'approve',
        run: 'R-1',
        procedure: 'restart',
        environment: 'prod',
        effect: 'deny',
        reason: 'the requester never approves their own run',
        policy_hash: 'policy-hash-1',
      },
    });
    expect((await s.runs.get('R-1')).state).toBe('pending_approval');
    expect(s.steps.calls).toEqual([]);
  });

  it('refuses an approver the policy does not let approve, with the rules that decided, and starts nothing', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    await s.runs.request(DEV, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    await expect(s.runs.approve(OTHER, 'R-1')).rejects.toThrow(/you may not approve R-1/);
    expect(s.store.auditRows().at(-1)).toMatchObject({
      kind: 'policy.denied',
      actor: OTHER.actor.id,
      payload: { action: 'approve', run: 'R-1', effect: 'deny', roles: [] },
    });
    expect((await s.runs.get('R-1')).state).toBe('pending_approval');
    expect(s.steps.calls).toEqual([]);
  });

  it('refuses a second run of a busy concurrency key and leaves no run or row of it behind', async () => {
    // The first run holds its step until the second request has been refused: its own rows are all written by then.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const stepStarted = new Promise<void>((resolve) => (started = resolve));
    const steps = fakeSteps();
    const s = coreServices({
      policy: POLICY,
      procedures: [RESTART],
      steps: { calls: steps.calls, process: async (request) => (started(), await held, steps.process(request)) },
    });
    const first = await s.runs.request(LEAD, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    expect(first).toMatchObject({ kind: 'run', run: { id: 'R-1', state: 'queued' } });
    await stepStarted;
    const rows = s.store.auditRows().length;
    await expect(s.runs.request(LEAD, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' })).rejects.toThrow(ConflictError);
    expect(await s.store.runs.get('R-2')).toBeUndefined();
    expect(s.store.auditRows()).toHaveLength(rows);
    release();
    if (first.kind === 'run') await first.done;
    expect(await s.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('answers a cancel of a run that ended since it was read as already ended, and records nothing', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    await s.runs.request(DEV, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    const stale = (await s.store.runs.get('R-1'))!;
    await s.runs.deny(LEAD, 'R-1', 'not now');
    const rows = s.store.auditRows().length;
    // The cancel reads the run as it was before the denial, once.
    const get = s.store.runs.get.bind(s.store.runs);
    let first = true;
    s.store.runs.get = async (id) => (first && id === 'R-1' ? ((first = false), { ...stale }) : get(id));
    await expect(s.runs.cancel(DEV, 'R-1')).rejects.toThrow('R-1 already ended (denied)');
    expect((await get('R-1'))!.state).toBe('denied');
    expect(s.store.auditRows()).toHaveLength(rows);
  });

  it('runs nothing of a run that was cancelled after it was queued and before it started, and keeps it cancelled', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    const get = s.store.runs.get.bind(s.store.runs);
    let cancelled = false;
    // When its execution first reads the run, a cancel has just committed (as one landing between an approval and the start would).
    s.store.runs.get = async (id) => {
      const run = await get(id);
      if (!cancelled && run?.state === 'queued') {
        cancelled = true;
        await s.store.runs.save({ ...run, state: 'cancelled', finishedAt: s.clock.now() });
        await s.store.runs.releaseLease(run.concurrencyKey, run.id);
      }
      return run;
    };
    const started = await s.runs.request(LEAD, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    if (started.kind !== 'run') throw new Error('expected a run');
    const run = await started.done;
    expect(run).toMatchObject({ id: 'R-1', state: 'cancelled' });
    expect(s.steps.calls).toEqual([]);
    expect(s.kinds()).not.toContain('run.started');
    expect(s.kinds()).not.toContain('run.finished');
  });

  it('keeps a run cancelled before it started cancelled when its execution then fails to plan', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    const get = s.store.runs.get.bind(s.store.runs);
    let cancelled = false;
    s.store.runs.get = async (id) => {
      const run = await get(id);
      if (!cancelled && run?.state === 'queued') {
        cancelled = true;
        await s.store.runs.save({ ...run, state: 'cancelled', finishedAt: s.clock.now() });
      }
      // What the execution reads from then on cannot be planned (a parameter the procedure refuses).
      return cancelled && run ? { ...(await get(id))!, params: { service: 'NOT A SERVICE' } } : run;
    };
    const started = await s.runs.request(LEAD, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    if (started.kind !== 'run') throw new Error('expected a run');
    expect(await started.done).toMatchObject({ id: 'R-1', state: 'cancelled' });
    expect((await get('R-1'))!.state).toBe('cancelled');
    expect(s.steps.calls).toEqual([]);
    expect(s.kinds()).not.toContain('run.finished');
  });

  it('ends a run as failed at the first failing step and starts none after it', async () => {
    const failing = coreServices({
      policy: POLICY,
      procedures: [RESTART],
      steps: fakeSteps((req) => (req.argv[0] === '/usr/bin/drain' ? { outcome: 'failed', exitCode: 3 } : {})),
    });
    const result = await failing.runs.request(LEAD, { procedure: 'restart', params: { service: 'search' }, channel: 'C0OPS' });
    if (result.kind !== 'run' || !result.done) throw new Error('the run did not start');
    const run = await result.done;
    expect(run).toMatchObject({ state: 'failed', error: 'step drain failed' });
    expect(failing.steps.calls.map((c) => c.argv[0])).toEqual(['/usr/bin/drain']);
    expect(await failing.store.runs.leaseHolder('restart-search')).toBeUndefined();
  });
});
