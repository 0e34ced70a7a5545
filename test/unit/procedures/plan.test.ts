// A run plan: params, steps and concurrency key resolved together; every problem reported; secrets masked when shown.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { ParamsError } from '../../../src/core/procedures/params.js';
import { describePlan, planRun } from '../../../src/core/procedures/plan.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';

const procedure = ProcedureSchema.parse({
  name: 'restart-service',
  description: 'restart one instance',
  owner: '@payments-team',
  environments: ['staging', 'prod'],
  timeout: '5m',
  concurrency: '{{service}}-{{env}}',
  params: {
    service: { type: 'enum', values: ['checkout', 'payments'], required: true },
    instance: { type: 'string', pattern: '[a-z0-9-]{1,40}', required: true },
    api_token: { type: 'secret', env: 'PAYMENTS_API_TOKEN' },
  },
  steps: [
    { name: 'restart', run: ['./scripts/restart.sh', '{{service}}', '{{instance}}'], env: { API_TOKEN: '{{api_token}}' } },
    { name: 'health', http: { url: 'https://{{service}}.internal/healthz', headers: { Authorization: 'Bearer {{api_token}}' } } },
  ],
});

const secretEnv = { PAYMENTS_API_TOKEN: 'tok-9d8c7b6a' };

describe('planRun', () => {
  it('resolves params, steps and the concurrency key', () => {
    const plan = planRun(procedure, { given: { service: 'checkout', instance: 'web-01' }, env: 'prod', secretEnv, incident: { id: 'INC-7' } });
    expect(plan).toMatchObject({
      procedure: 'restart-service',
      env: 'prod',
      values: { service: 'checkout', instance: 'web-01', api_token: 'tok-9d8c7b6a' },
      secrets: ['tok-9d8c7b6a'],
      concurrencyKey: 'checkout-prod',
      timeoutMs: 300_000,
      steps: [
        { kind: 'run', argv: ['./scripts/restart.sh', 'checkout', 'web-01'], env: { API_TOKEN: 'tok-9d8c7b6a' } },
        { kind: 'http', url: 'https://checkout.internal/healthz', headers: { Authorization: 'Bearer tok-9d8c7b6a' } },
      ],
    });
  });

  it('masks secrets in what is shown', () => {
    const plan = planRun(procedure, { given: { service: 'checkout', instance: 'web-01' }, env: 'prod', secretEnv });
    const shown = JSON.stringify(describePlan(plan));
    expect(shown).not.toContain('tok-9d8c7b6a');
    expect(shown).toContain('Bearer [secret]');
    expect(describePlan(plan)).not.toHaveProperty('secrets');
  });

  it('refuses an environment the procedure does not serve', () => {
    expect(() => planRun(procedure, { given: { service: 'checkout', instance: 'a' }, env: 'dev', secretEnv })).toThrow(
      new InputError('restart-service does not run in "dev"; it runs in staging, prod'),
    );
  });

  it('refuses bad params before resolving any step', () => {
    expect(() => planRun(procedure, { given: { service: 'checkout', instance: 'web-01;ls' }, env: 'prod', secretEnv })).toThrow(ParamsError);
  });

  it('reports template problems of every step at once', () => {
    const broken = ProcedureSchema.parse({
      ...procedure,
      timeout: 300,
      steps: [
        { name: 'a', run: ['x', '{{nope}}'] },
        { name: 'b', run: ['y', '{{api_token}}'] },
      ],
    });
    let error: unknown;
    try {
      planRun(broken, { given: { service: 'checkout', instance: 'a' }, env: 'prod', secretEnv });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(
      /^restart-service: unknown template variable \{\{nope\}\} in step "a" run\[1\].*; secret api_token cannot be used in step "b" run\[1\]/,
    );
  });
});
