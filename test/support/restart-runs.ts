// One developer, a one-step `restart` procedure the policy lets them run, and its runs as a run store holds them: what the replica-loss tests run.
import type { Policy } from '../../src/core/policy/policy.js';
import { ProcedureSchema } from '../../src/core/procedures/procedure-schema.js';
import type { Run } from '../../src/core/runs/run.js';

export const DEV = { actor: { id: 'U0DEV0001', groups: [] }, source: 'slack' as const };

export const RESTART = ProcedureSchema.parse({
  name: 'restart',
  description: 'Restarts one service',
  owner: '@test',
  environments: ['prod'],
  params: { service: { type: 'string', pattern: '[a-z]{1,20}', required: true } },
  concurrency: 'restart-{{service}}',
  steps: [{ name: 'restart', run: ['/usr/bin/restart', '{{service}}'] }],
});

export const POLICY: Policy = {
  roles: { dev: { users: [DEV.actor.id] } },
  rules: [{ roles: ['dev'], allow: ['run'], source: { file: 'p.yaml', index: 0 } }],
};

/** R-n: DEV's run of `restart` for `service` in prod, posted to C0OPS, queued at `at` and not started; then `over`. */
export function restartRun(n: number, service: string, at: number, over: Partial<Run> = {}): Run {
  return {
    id: `R-${n}`,
    number: n,
    procedure: 'restart',
    environment: 'prod',
    incidentId: null,
    channel: 'C0OPS',
    requestedBy: DEV.actor.id,
    requestedGroups: [],
    source: 'slack',
    params: { service },
    binding: 'b'.repeat(64),
    state: 'queued',
    approval: null,
    approvalExpiresAt: null,
    concurrencyKey: `restart-${service}`,
    createdAt: at,
    startedAt: null,
    finishedAt: null,
    pgid: null,
    ownerPid: null,
    error: null,
    ...over,
  };
}
