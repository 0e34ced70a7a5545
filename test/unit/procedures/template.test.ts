// Templating: values stay inside their argv element, URL part or JSON string; unknown variables are errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { ProcedureSchema, type ProcedureInput } from '../../../src/core/procedures/procedure-schema.js';
import {
  checkProcedureTemplates,
  createTemplateContext,
  renderBody,
  renderTemplate,
  renderUrl,
  resolveConcurrencyKey,
  resolveStep,
  templateVariables,
  type TemplateContext,
} from '../../../src/core/procedures/template.js';

function procedure(overrides: Partial<ProcedureInput> = {}) {
  return ProcedureSchema.parse({
    name: 'restart-service',
    description: 'test procedure',
    owner: '@team',
    environments: ['staging', 'prod'],
    params: {
      service: { type: 'enum', values: ['checkout', 'payments'] },
      instance: { type: 'string' },
      reason: { type: 'string' },
      count: { type: 'int' },
      api_token: { type: 'secret', env: 'API_TOKEN', required: false },
    },
    steps: [{ name: 'x', run: ['true'] }],
    ...overrides,
  });
}

function context(values: Record<string, string | number | boolean>, p = procedure()): TemplateContext {
  return createTemplateContext(p, values, { env: 'prod', incident: { id: 'INC-7', pagerdutyId: 'PABC123', service: 'Checkout API' } });
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('templateVariables', () => {
  it('lists each variable once, in order of first use', () => {
    expect(templateVariables('{{service}}-{{ env }}/{{incident.id}}:{{service}}')).toEqual(['service', 'env', 'incident.id']);
  });

  it('leaves Go-template text such as docker --format alone', () => {
    expect(templateVariables('{{.State.Status}} {{ json .Config }} {{}} {x} {{1abc}}')).toEqual([]);
  });

  it('finds nothing in plain text', () => {
    expect(templateVariables('df -h')).toEqual([]);
  });
});

describe('renderTemplate', () => {
  it('substitutes params, env and incident variables', () => {
    const ctx = context({ service: 'checkout', count: 3 });
    expect(renderTemplate('{{service}}/{{env}}/{{incident.id}}/{{incident.pagerduty_id}}/{{incident.service}}/{{count}}', ctx)).toBe(
      'checkout/prod/INC-7/PABC123/Checkout API/3',
    );
  });

  it('fills declared params that were not set, and incident variables outside an incident, with empty text', () => {
    const ctx = createTemplateContext(procedure(), {}, { env: 'staging' });
    expect(renderTemplate('[{{reason}}][{{incident.id}}][{{env}}]', ctx)).toBe('[][][staging]');
  });

  it('refuses unknown variables, naming them and the known ones', () => {
    const message = refusal(() => renderTemplate('{{instance}} {{instanse}} {{incident.title}}', context({}), { where: 'step "x" run[1]' }));
    expect(message).toMatch(/^unknown template variables \{\{instanse\}\}, \{\{incident\.title\}\} in step "x" run\[1\]; known: service, instance/);
  });

  it('does not expand a value that itself looks like a template', () => {
    expect(renderTemplate('{{reason}}', context({ reason: '{{service}} {{api_token}}' }))).toBe('{{service}} {{api_token}}');
  });

  it('refuses a secret where it would be visible unless told otherwise', () => {
    const ctx = context({ api_token: 'tok-123456' });
    expect(refusal(() => renderTemplate('--token={{api_token}}', ctx, { where: 'here' }))).toMatch(/^secret api_token cannot be used in here/);
    expect(renderTemplate('Bearer {{api_token}}', ctx, { allowSecrets: true })).toBe('Bearer tok-123456');
  });

  it('refuses a param named env', () => {
    const p = procedure({ params: { env: { type: 'string' } } });
    expect(refusal(() => createTemplateContext(p, {}, { env: 'prod' }))).toMatch(/cannot be named "env"/);
  });
});

describe('resolveStep: run', () => {
  const hostile = ['; touch PWNED', '$(touch PWNED)', '`touch PWNED`', 'a\ntouch PWNED', '--rm -rf /', `"'" \\ '`, '   ', '', '*', 'x'.repeat(10_000)];

  /** `reason` may begin an argument with "-" here, so every hostile value reaches the argv. */
  const dashing = procedure({ params: { reason: { type: 'string', max_length: 65536, allow_leading_dash: true } } });

  it.each(hostile)('keeps %j as exactly one argv element', (value) => {
    const step = procedure().steps[0]!;
    const resolved = resolveStep({ ...step, run: ['./scripts/x.sh', '--', '{{reason}}', 'pre-{{reason}}-post'] }, context({ reason: value }, dashing));
    expect(resolved).toMatchObject({ kind: 'run', argv: ['./scripts/x.sh', '--', value, `pre-${value}-post`] });
  });

  it('keeps argv length and every literal part for any value (property)', () => {
    const step = procedure().steps[0]!;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 40 }), (value, literal) => {
        const template = `${literal.replaceAll('{', '(')}{{reason}}`;
        const resolved = resolveStep({ ...step, run: ['prog', template, '{{reason}}'] }, context({ reason: value }, dashing));
        if (resolved.kind !== 'run') throw new Error('expected a run step');
        expect(resolved.argv).toEqual(['prog', `${literal.replaceAll('{', '(')}${value}`, value]);
      }),
    );
  });

  it('resolves env values and carries name, timeout and on_error', () => {
    const p = procedure({
      steps: [
        { name: 'restart', run: ['./r.sh', '{{service}}'], env: { API_TOKEN: '{{api_token}}', WHY: '{{reason}}' }, timeout: '1m', on_error: 'continue' },
      ],
    });
    expect(resolveStep(p.steps[0]!, context({ service: 'checkout', api_token: 'tok-123456', reason: 'a; b' }, p))).toEqual({
      kind: 'run',
      name: 'restart',
      argv: ['./r.sh', 'checkout'],
      env: { API_TOKEN: 'tok-123456', WHY: 'a; b' },
      timeoutMs: 60_000,
      onError: 'continue',
    });
  });

  it('refuses variables in the program', () => {
    const step = { ...procedure().steps[0]!, run: ['./scripts/{{service}}.sh'] };
    expect(refusal(() => resolveStep(step, context({ service: 'checkout' })))).toBe(
      'step "x": the program (run[0]) cannot contain template variables; pass values as arguments',
    );
  });

  it('refuses a secret in argv, which every local user can read in the process list', () => {
    const step = { ...procedure().steps[0]!, run: ['curl', '-H', 'Authorization: {{api_token}}'] };
    expect(refusal(() => resolveStep(step, context({ api_token: 'tok-123456' })))).toMatch(/^secret api_token cannot be used in step "x" run\[2\]/);
  });
});

describe('renderUrl', () => {
  const ctx = (values: Record<string, string>) => context(values);

  it('percent-encodes values in the path and query, keeping each inside its component', () => {
    expect(renderUrl('https://api.internal/instances/{{instance}}?reason={{reason}}', ctx({ instance: '../admin', reason: 'a&b=c #d' }))).toBe(
      'https://api.internal/instances/..%2Fadmin?reason=a%26b%3Dc%20%23d',
    );
  });

  it('accepts host-safe values in the host', () => {
    expect(renderUrl('https://{{service}}.internal/healthz', ctx({ service: 'checkout' }))).toBe('https://checkout.internal/healthz');
    expect(renderUrl('http://{{instance}}:8080/', ctx({ instance: 'web-01.internal' }))).toBe('http://web-01.internal:8080/');
  });

  it.each(['evil.com/', 'x@evil.com', 'evil.com:80', 'a b', 'evil.com?', 'evil.com#'])('refuses %j in the host', (value) => {
    expect(refusal(() => renderUrl('https://{{instance}}.internal/healthz', ctx({ instance: value })))).toMatch(/cannot be used in the host part/);
  });

  it('takes a whole base URL as written', () => {
    expect(renderUrl('{{reason}}', ctx({ reason: 'http://127.0.0.1:3000/healthz' }))).toBe('http://127.0.0.1:3000/healthz');
    expect(renderUrl('{{reason}}/healthz', ctx({ reason: 'http://127.0.0.1:3000' }))).toBe('http://127.0.0.1:3000/healthz');
  });

  it.each(['file:///etc/passwd', 'ftp://x/', 'javascript:alert(1)', 'not a url', 'http://a b/'])('refuses %j as the URL', (value) => {
    expect(refusal(() => renderUrl('{{reason}}', ctx({ reason: value })))).toMatch(/only http and https|not a valid URL|spaces or control/);
  });

  it('refuses secrets in URLs, which are logged and posted', () => {
    expect(refusal(() => renderUrl('https://x.internal/?t={{api_token}}', context({ api_token: 'tok-123456' })))).toMatch(/^secret api_token/);
  });
});

describe('renderBody', () => {
  it('escapes values inside the strings of a JSON body', () => {
    const body = renderBody('{"reason": "{{reason}}", "n": 1}', context({ reason: 'x", "admin": true, "y": "' }));
    expect(JSON.parse(body)).toEqual({ reason: 'x", "admin": true, "y": "', n: 1 });
  });

  it('inserts values as written in a text body', () => {
    expect(renderBody('reason={{reason}}', context({ reason: 'a b' }))).toBe('reason=a b');
  });
});

describe('resolveStep: http', () => {
  it('resolves url, headers, body and expected statuses', () => {
    const p = procedure({
      steps: [
        {
          name: 'health',
          http: {
            method: 'POST',
            url: 'https://{{service}}.internal/restart/{{instance}}',
            headers: { Authorization: 'Bearer {{api_token}}' },
            body: '{"by": "{{incident.id}}"}',
            expect_status: [200, 204],
          },
        },
      ],
    });
    expect(resolveStep(p.steps[0]!, context({ service: 'payments', instance: 'a b', api_token: 'tok-123456' }, p))).toEqual({
      kind: 'http',
      name: 'health',
      onError: 'abort',
      method: 'POST',
      url: 'https://payments.internal/restart/a%20b',
      headers: { Authorization: 'Bearer tok-123456' },
      body: '{"by":"INC-7"}',
      expectStatus: [200, 204],
    });
  });

  it('refuses a header that would gain a line break', () => {
    const p = procedure({ steps: [{ name: 'h', http: { url: 'https://x.internal/', headers: { 'X-Reason': '{{reason}}' } } }] });
    expect(refusal(() => resolveStep(p.steps[0]!, context({ reason: 'a\r\nX-Admin: yes' }, p)))).toMatch(/header X-Reason would contain a line break/);
  });
});

describe('resolveConcurrencyKey', () => {
  it('defaults to name-env', () => {
    expect(resolveConcurrencyKey(procedure(), context({}))).toBe('restart-service-prod');
  });

  it('renders the concurrency template', () => {
    const p = procedure({ concurrency: '{{service}}-{{env}}' });
    expect(resolveConcurrencyKey(p, context({ service: 'checkout' }, p))).toBe('checkout-prod');
  });

  it('refuses secrets and unknown variables', () => {
    const p = procedure({ concurrency: '{{api_token}}' });
    expect(refusal(() => resolveConcurrencyKey(p, context({ api_token: 'tok-123456' }, p)))).toMatch(/^secret api_token cannot be used in concurrency/);
    const q = procedure({ concurrency: '{{nope}}' });
    expect(refusal(() => resolveConcurrencyKey(q, context({}, q)))).toMatch(/^unknown template variable \{\{nope\}\} in concurrency/);
  });
});

describe('checkProcedureTemplates', () => {
  it('finds nothing wrong in a sound procedure', () => {
    const p = procedure({
      concurrency: '{{service}}-{{env}}',
      steps: [
        { name: 'a', run: ['./a.sh', '--', '{{instance}}', '{{incident.pagerduty_id}}'], env: { T: '{{api_token}}' } },
        { name: 'b', http: { url: 'https://{{service}}.internal/', headers: { A: '{{api_token}}' }, body: '{{reason}}' } },
      ],
    });
    expect(checkProcedureTemplates(p)).toEqual([]);
  });

  it('reports every problem with where it is', () => {
    const p = procedure({
      params: { env: { type: 'string' }, token: { type: 'secret', env: 'T' } },
      concurrency: '{{token}}',
      steps: [
        { name: 'a', run: ['./{{env}}.sh', '{{nope}}', '{{token}}'], env: { X: '{{missing}}' } },
        { name: 'b', http: { url: 'https://x.internal/{{token}}', headers: { H: '{{gone}}' } } },
      ],
    });
    expect(checkProcedureTemplates(p).map((x) => [x.path.join('.'), x.message.replace(/;.*/, '')])).toEqual([
      ['params.env', 'a parameter cannot be named "env": {{env}} is the environment the procedure runs in'],
      ['concurrency', 'secret {{token}} cannot be used here, where it would be visible'],
      ['steps.0.run.0', 'the program (run[0]) cannot contain template variables'],
      ['steps.0.run.1', 'unknown template variable {{nope}}'],
      ['steps.0.run.2', 'secret {{token}} cannot be used here, where it would be visible'],
      ['steps.0.env.X', 'unknown template variable {{missing}}'],
      ['steps.1.http.url', 'secret {{token}} cannot be used here, where it would be visible'],
      ['steps.1.http.headers.H', 'unknown template variable {{gone}}'],
    ]);
  });
});
