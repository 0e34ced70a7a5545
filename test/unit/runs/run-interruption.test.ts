// Interrupting the runs of a replica that stopped beating, over in-memory ports: audit row, lease freed, channel told, never re-run.
import { describe, expect, it } from 'vitest';
import { rich, runRef } from '../../../src/core/rich-text.js';
import { describeEvent } from '../../../src/core/timeline/describe-event.js';
import type { Run } from '../../../src/core/runs/run.js';
import { coreServices, fakeSteps } from '../../support/in-memory/core-services.js';
import { DEV, POLICY, RESTART, restartRun } from '../../support/restart-runs.js';

const LOST = { id: 'replica-b', host: 'host-b', pid: 7001 };

/** A run another replica was executing when it stopped: running, its lease held, its step's process group recorded. */
async function runOfLostReplica(s: ReturnType<typeof coreServices>, over: Partial<Run> = {}): Promise<Run> {
  const now = s.clock.now();
  const run = restartRun(1, 'checkout', now, { state: 'running', startedAt: now, pgid: 4242, ownerPid: LOST.pid, ...over });
  await s.store.uow.transaction(async () => {
    await s.store.runs.insert(run);
    await s.store.runs.acquireLease(run.concurrencyKey, run.id, now);
  });
  return run;
}

const messages = (s: ReturnType<typeof coreServices>): string[] => s.store.outboxItems().map((o) => String((o.body as { text: unknown }).text));

describe('interrupting the runs of a replica that stopped beating', () => {
  it('marks a running run of a replica on another host interrupted, frees its lease, records one audit row and tells the channel it may still run there', async () => {
    const killed: number[] = [];
    const s = coreServices({ policy: POLICY, procedures: [RESTART], killGroup: (g) => killed.push(g) });
    await runOfLostReplica(s);
    s.clock.advance(30_000);

    const interrupted = await s.runs.interruptRuns(['R-1'], { replica: LOST, killLeftovers: false });

    expect(interrupted.map((r) => r.id)).toEqual(['R-1']);
    expect(await s.runs.get('R-1')).toMatchObject({
      state: 'interrupted',
      pgid: null,
      finishedAt: s.clock.now(),
      error: 'the edgeops replica on host-b executing this run stopped (no heartbeat); it will not be re-run by itself',
    });
    expect(await s.store.runs.leaseHolder('restart-checkout')).toBeUndefined();
    expect(killed).toEqual([]);
    expect(s.kinds()).toEqual(['run.interrupted']);
    expect(s.store.auditRows()[0]).toMatchObject({
      actor: 'system',
      payload: { run: 'R-1', replica: 'replica-b', replica_host: 'host-b', replica_pid: 7001, killed_process_group: null, leftover_process_group: 4242 },
    });
    expect(messages(s)).toEqual([
      '⚠ R-1 restart (prod) was interrupted: the edgeops replica on host-b executing it stopped answering. Its last step (process group 4242) may still be running on host-b; it will not re-run by itself — check there, then run it again if needed.',
    ]);
    expect(s.store.outboxItems()[0]).toMatchObject({ channel: 'C0OPS', target: 'slack' });
    expect(describeEvent(s.store.auditRows()[0]!)).toEqual(
      rich`${runRef('R-1')} restart (prod) interrupted: its edgeops replica on host-b stopped answering`,
    );
    // Nothing is started again, and a new run of the same procedure takes the lease.
    expect(s.steps.calls).toEqual([]);
    const again = await s.runs.request(DEV, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    expect(again).toMatchObject({ kind: 'run', run: { id: 'R-2', state: 'queued' } });
    await s.runs.idle();
    expect(await s.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('kills the leftover process group when told it may, and says so', async () => {
    const killed: number[] = [];
    const s = coreServices({ policy: POLICY, procedures: [RESTART], killGroup: (g) => killed.push(g) });
    await runOfLostReplica(s);

    await s.runs.interruptRuns(['R-1'], { replica: LOST, killLeftovers: true });

    expect(killed).toEqual([4242]);
    expect(s.store.auditRows()[0]!.payload).toMatchObject({ killed_process_group: 4242, leftover_process_group: null });
    expect(messages(s)[0]).toContain('stopped answering. Its leftover processes were stopped;');
  });

  it('says no step process was on record for a queued run', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    await runOfLostReplica(s, { state: 'queued', startedAt: null, pgid: null });

    await s.runs.interruptRuns(['R-1'], { replica: LOST, killLeftovers: false });

    expect(messages(s)).toEqual([
      '⚠ R-1 restart (prod) was interrupted: the edgeops replica on host-b executing it stopped answering. It had no step process on record; it will not re-run by itself — check the system, then run it again if needed.',
    ]);
  });

  it('says where a step may still run when no replica owns the run and nothing was killed', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    await runOfLostReplica(s);

    await s.runs.interruptRuns(['R-1'], { killLeftovers: false });

    expect(messages(s)).toEqual([
      '⚠ R-1 restart (prod) was interrupted: edgeops stopped mid-run. Its last step (process group 4242) may still be running; it will not re-run by itself — check the system, then run it again if needed.',
    ]);
    expect(await s.runs.get('R-1')).toMatchObject({
      state: 'interrupted',
      error: 'edgeops stopped while this run was in progress; it will not be re-run by itself',
    });
  });

  it('leaves a run that has already ended, so interrupting the same runs twice records them once', async () => {
    const s = coreServices({ policy: POLICY, procedures: [RESTART] });
    await runOfLostReplica(s);
    await runOfLostReplica(s, { id: 'R-2', number: 2, state: 'succeeded', finishedAt: s.clock.now(), concurrencyKey: 'restart-search' });

    expect((await s.runs.interruptRuns(['R-1', 'R-2'], { replica: LOST, killLeftovers: false })).map((r) => r.id)).toEqual(['R-1']);
    expect(await s.runs.interruptRuns(['R-1', 'R-2'], { replica: LOST, killLeftovers: false })).toEqual([]);

    expect(s.kinds()).toEqual(['run.interrupted']);
    expect(await s.runs.get('R-2')).toMatchObject({ state: 'succeeded' });
    expect(s.store.outboxItems()).toHaveLength(1);
  });

  it('never interrupts a run this process is executing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const steps = fakeSteps();
    const s = coreServices({
      policy: POLICY,
      procedures: [RESTART],
      steps: {
        calls: steps.calls,
        process: async (request) => {
          await gate;
          return steps.process(request);
        },
      },
    });
    const requested = await s.runs.request(DEV, { procedure: 'restart', params: { service: 'checkout' }, channel: 'C0OPS' });
    if (requested.kind !== 'run') throw new Error('expected a run');
    await expect.poll(async () => (await s.runs.get('R-1')).state).toBe('running');

    expect(await s.runs.interruptRuns(['R-1'], { replica: LOST, killLeftovers: true })).toEqual([]);

    expect(await s.runs.get('R-1')).toMatchObject({ state: 'running' });
    expect(s.kinds()).not.toContain('run.interrupted');
    release();
    expect(await requested.done).toMatchObject({ state: 'succeeded' });
  });
});
