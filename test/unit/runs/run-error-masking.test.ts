// Error text a run stores and posts (a step runner's, an exception's) never carries a secret or the bot's credentials.
import { describe, expect, it } from 'vitest';
import type { Policy } from '../../../src/core/policy/policy.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import type { ProcessStepRunner, ProcessStepResult } from '../../../src/core/procedures/step-runner.js';
import { createRunService, type CatalogView } from '../../../src/core/runs/run-service.js';
import { memoryRunPorts } from '../policy/memory-run-ports.js';

const SECRET = 'canary-secret-7f3a9c51';
const CREDENTIAL = 'xoxb-credential-0123456789';

const PROCEDURE = ProcedureSchema.parse({
  name: 'p',
  description: 'Hands a secret to its step',
  owner: '@test',
  environments: ['staging'],
  params: { token: { type: 'secret', env: 'EDGEOPS_SECRET_TOKEN' } },
  steps: [{ name: 'only', run: ['/bin/true'], env: { TOKEN: '{{token}}' } }],
});

const POLICY: Policy = {
  roles: { dev: { users: ['U0DEV0001'], groups: [] } },
  rules: [{ roles: ['dev'], allow: ['run'], source: { file: 'p.yaml', index: 0 } }],
};

const FAILED: ProcessStepResult = { outcome: 'failed', exitCode: null, signal: null, output: '', chunks: [], truncatedBytes: 0, durationMs: 0, pid: null };

function service(process: ProcessStepRunner, currentGroups?: (user: string) => Promise<string[]>) {
  const ports = memoryRunPorts();
  const catalog: CatalogView = { policy: POLICY, policyHash: 'h0', procedures: new Map([['p', PROCEDURE]]) };
  const runs = createRunService({
    ...ports,
    clock: { now: () => 1_000_000 },
    catalog: () => catalog,
    findIncident: async () => undefined,
    secretEnv: { EDGEOPS_SECRET_TOKEN: SECRET },
    credentials: [CREDENTIAL],
    programs: { digest: () => null },
    ...(currentGroups ? { currentGroups } : {}),
    steps: {
      process,
      http: async () => {
        throw new Error('no http steps here');
      },
    },
    pid: 1,
    isAlive: () => true,
    killGroup: () => undefined,
  });
  return { runs, ports };
}

async function runOnce(s: ReturnType<typeof service>, source: 'console' | 'slack' = 'console') {
  const result = await s.runs.request({ actor: { id: 'U0DEV0001', groups: [] }, source }, { procedure: 'p', params: {}, channel: 'C0ONE' });
  if (result.kind !== 'run' || !result.done) throw new Error('the run did not start');
  return result.done;
}

/** Every text the run left in the audit log, as one string to search. */
const recorded = (s: ReturnType<typeof service>): string => JSON.stringify(s.ports.rows().map((r) => r.payload));

describe('error text of a run', () => {
  it('masks a secret and a credential a step runner quotes in its error, in the step record and its audit row', async () => {
    const s = service(async () => ({ ...FAILED, error: `cannot start /bin/true: env TOKEN=${SECRET} rejected, token ${CREDENTIAL}` }));
    const run = await runOnce(s);
    expect(run.state).toBe('failed');
    const [step] = await s.runs.steps(run.id);
    expect(step!.error).toBe('cannot start /bin/true: env TOKEN=[secret] rejected, token [secret]');
    expect(s.ports.rows().find((r) => r.kind === 'run.step_finished')!.payload.error).toBe(
      'cannot start /bin/true: env TOKEN=[secret] rejected, token [secret]',
    );
    expect(recorded(s)).not.toContain(SECRET);
    expect(recorded(s)).not.toContain(CREDENTIAL);
  });

  it('masks them in the run error and the run.finished row when the step runner throws', async () => {
    const s = service(async () => {
      throw new Error(`spawn refused TOKEN=${SECRET} with ${CREDENTIAL}`);
    });
    const run = await runOnce(s);
    expect(run).toMatchObject({ state: 'failed', error: 'edgeops could not complete the run: spawn refused TOKEN=[secret] with [secret]' });
    expect(s.ports.rows().find((r) => r.kind === 'run.finished')!.payload.error).toBe(
      'edgeops could not complete the run: spawn refused TOKEN=[secret] with [secret]',
    );
    expect(recorded(s)).not.toContain(SECRET);
    expect(recorded(s)).not.toContain(CREDENTIAL);
  });

  it('masks them in the run error when deciding the run again fails before it is planned, and runs nothing', async () => {
    let executed = 0;
    const s = service(
      async () => {
        executed += 1;
        return { ...FAILED, outcome: 'succeeded', exitCode: 0 };
      },
      async () => {
        throw new Error(`usergroups.users.list refused ${CREDENTIAL} (echoing ${SECRET})`);
      },
    );
    const run = await runOnce(s, 'slack');
    expect(run).toMatchObject({ state: 'failed', error: 'usergroups.users.list refused [secret] (echoing [secret])' });
    expect(executed).toBe(0);
    expect(recorded(s)).not.toContain(SECRET);
    expect(recorded(s)).not.toContain(CREDENTIAL);
  });
});
