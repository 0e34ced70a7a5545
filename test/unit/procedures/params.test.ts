// Parameter checking: every type's accept/reject table, secrets only from the environment, all problems at once.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { ParamsError, resolveParams, type ResolveParamsOptions } from '../../../src/core/procedures/params.js';
import { ProcedureSchema, type ProcedureInput } from '../../../src/core/procedures/procedure-schema.js';

function procedure(params: ProcedureInput['params']) {
  return ProcedureSchema.parse({
    name: 'p',
    description: 'test procedure',
    owner: '@team',
    environments: ['prod'],
    params,
    steps: [{ name: 'x', run: ['true'] }],
  });
}

const noSecrets: ResolveParamsOptions = { secretEnv: {} };

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ParamsError);
    expect(err).toBeInstanceOf(InputError);
    return (err as ParamsError).problems;
  }
  throw new Error('expected the parameters to be refused');
}

describe('resolveParams: string', () => {
  const p = procedure({
    instance: { type: 'string', pattern: '[a-z0-9-]{1,40}', required: true },
    note: { type: 'string' },
    short: { type: 'string', max_length: 5 },
  });

  it.each(['web-01', 'a', 'x'.repeat(40)])('accepts %j', (v) => {
    expect(resolveParams(p, { instance: v }, noSecrets).values).toEqual({ instance: v });
  });

  it.each(['web-01;ls', 'web-01 ', ' web-01', 'WEB-01', 'web-01\n', 'x'.repeat(41), '', 'web_01', '$(id)'])(
    'refuses %j against a whole-value pattern',
    (v) => {
      const problems = problemsOf(() => resolveParams(p, { instance: v }, noSecrets));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^instance: .* does not match the pattern \[a-z0-9-\]\{1,40\} \(the whole value must match\)$/);
    },
  );

  it('caps length at 256 characters by default and at max_length when set', () => {
    expect(resolveParams(p, { instance: 'a', note: 'n'.repeat(256) }, noSecrets).values.note).toHaveLength(256);
    expect(problemsOf(() => resolveParams(p, { instance: 'a', note: 'n'.repeat(257) }, noSecrets))).toEqual([
      'note: is 257 characters long; at most 256 are allowed',
    ]);
    expect(problemsOf(() => resolveParams(p, { instance: 'a', short: 'abcdef' }, noSecrets))).toEqual([
      'short: is 6 characters long; at most 5 are allowed',
    ]);
  });

  it('counts characters, not UTF-16 units, against max_length', () => {
    expect(resolveParams(p, { instance: 'a', short: '😀😀😀😀😀' }, noSecrets).values.short).toBe('😀😀😀😀😀');
  });

  it('keeps quotes, spaces, newlines and shell syntax as text', () => {
    const v = `it's "down"; $(rm -rf /)\n\`id\``;
    expect(resolveParams(p, { instance: 'a', note: v }, noSecrets).values.note).toBe(v);
  });
});

describe('resolveParams: int', () => {
  const p = procedure({ lines: { type: 'int', min: 1, max: 1000 }, delta: { type: 'int' } });

  it.each([
    ['1', 1],
    ['50', 50],
    ['1000', 1000],
  ])('accepts %j', (v, n) => {
    expect(resolveParams(p, { lines: v }, noSecrets).values).toEqual({ lines: n });
  });

  it.each([
    ['-5', -5],
    ['0', 0],
  ])('accepts %j for an int without bounds', (v, n) => {
    expect(resolveParams(p, { delta: v }, noSecrets).values).toEqual({ delta: n });
  });

  it('refuses -0 and integers too large to hold exactly', () => {
    expect(problemsOf(() => resolveParams(p, { delta: '-0' }, noSecrets))).toEqual(['delta: "-0" is not a whole number; write plain digits such as 50']);
    expect(problemsOf(() => resolveParams(p, { delta: '9007199254740993' }, noSecrets))).toEqual(['delta: "9007199254740993" is too large']);
  });

  it.each(['1e3', '0x10', ' 5', '5 ', '5.0', '+5', '05', '', 'five', '1_000', '١٢', 'Infinity', 'NaN'])('refuses %j', (v) => {
    expect(problemsOf(() => resolveParams(p, { lines: v }, noSecrets))).toEqual([
      `lines: ${JSON.stringify(v)} is not a whole number; write plain digits such as 50`,
    ]);
  });

  it('refuses values outside min and max', () => {
    expect(problemsOf(() => resolveParams(p, { lines: '0' }, noSecrets))).toEqual(['lines: 0 is below the minimum 1']);
    expect(problemsOf(() => resolveParams(p, { lines: '1001' }, noSecrets))).toEqual(['lines: 1001 is above the maximum 1000']);
  });
});

describe('resolveParams: bool', () => {
  const p = procedure({ force: { type: 'bool' } });

  it.each([
    ['true', true],
    ['yes', true],
    ['1', true],
    ['TRUE', true],
    ['false', false],
    ['no', false],
    ['0', false],
    ['No', false],
  ])('accepts %j as %s', (v, b) => {
    expect(resolveParams(p, { force: v }, noSecrets).values).toEqual({ force: b });
  });

  it.each(['y', 'n', 'on', 'off', '2', '', ' true', 'truee'])('refuses %j', (v) => {
    expect(problemsOf(() => resolveParams(p, { force: v }, noSecrets))).toEqual([
      `force: ${JSON.stringify(v)} is not a yes/no value; write true, false, yes, no, 1 or 0`,
    ]);
  });
});

describe('resolveParams: enum', () => {
  const p = procedure({ service: { type: 'enum', values: ['checkout', 'payments', 'search'], required: true } });

  it.each(['checkout', 'payments', 'search'])('accepts %j', (v) => {
    expect(resolveParams(p, { service: v }, noSecrets).values).toEqual({ service: v });
  });

  it.each(['Checkout', 'checkout ', 'check*', 'billing', ''])('refuses %j', (v) => {
    expect(problemsOf(() => resolveParams(p, { service: v }, noSecrets))).toEqual([
      `service: ${JSON.stringify(v)} is not one of checkout, payments, search`,
    ]);
  });
});

describe('resolveParams: duration', () => {
  const p = procedure({ wait: { type: 'duration', min: '1s', max: '1h' } });

  it.each(['1s', '90s', '5m', '1h', '1m30s', '1500ms'])('accepts %j, kept as written', (v) => {
    expect(resolveParams(p, { wait: v }, noSecrets).values).toEqual({ wait: v });
  });

  it.each(['5', '5 m', ' 5m', '5m ', '-5m', '5min', '1.5h', 'PT5M', ''])('refuses %j', (v) => {
    expect(problemsOf(() => resolveParams(p, { wait: v }, noSecrets))).toEqual([
      `wait: ${JSON.stringify(v)} is not a duration; write e.g. 30s, 5m or 1h30m`,
    ]);
  });

  it('refuses durations outside min and max', () => {
    expect(problemsOf(() => resolveParams(p, { wait: '500ms' }, noSecrets))).toEqual(['wait: 500ms is shorter than the minimum 1s']);
    expect(problemsOf(() => resolveParams(p, { wait: '61m' }, noSecrets))).toEqual(['wait: 61m is longer than the maximum 1h']);
  });
});

describe('resolveParams: secret', () => {
  const p = procedure({
    api_token: { type: 'secret', env: 'PAYMENTS_API_TOKEN' },
    extra: { type: 'secret', env: 'EXTRA_TOKEN', required: false },
    note: { type: 'string' },
  });

  it('reads the value from the bot environment and lists it for masking', () => {
    const r = resolveParams(p, {}, { secretEnv: { PAYMENTS_API_TOKEN: 'tok-123456', EXTRA_TOKEN: 'extra-9876' } });
    expect(r.values).toEqual({ api_token: 'tok-123456', extra: 'extra-9876' });
    expect(r.secrets).toEqual(['tok-123456', 'extra-9876']);
  });

  it('refuses a secret given in chat or on the command line, even with the environment set', () => {
    const problems = problemsOf(() => resolveParams(p, { api_token: 'typed-in-chat' }, { secretEnv: { PAYMENTS_API_TOKEN: 'tok-123456' } }));
    expect(problems).toEqual([
      "api_token is a secret: it is read from the bot's environment variable PAYMENTS_API_TOKEN and can never be given in chat or on the command line",
    ]);
  });

  it('never repeats a refused secret value in the message', () => {
    let message = '';
    try {
      resolveParams(p, { api_token: 'typed-in-chat-zz9' }, { secretEnv: { PAYMENTS_API_TOKEN: 'tok-123456' } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('api_token is a secret');
    expect(message).not.toContain('typed-in-chat-zz9');
    expect(message).not.toContain('tok-123456');
  });

  it('refuses a secret passed as a preset value too', () => {
    expect(problemsOf(() => resolveParams(p, {}, { secretEnv: { PAYMENTS_API_TOKEN: 'tok-123456' }, defaults: { api_token: 'x' } }))).toEqual([
      expect.stringMatching(/^api_token is a secret/),
    ]);
  });

  it('names the variable to set when a required secret is missing or empty; an optional one is left out', () => {
    for (const env of [{}, { PAYMENTS_API_TOKEN: '' }]) {
      expect(problemsOf(() => resolveParams(p, {}, { secretEnv: env }))).toEqual([
        "api_token needs the environment variable PAYMENTS_API_TOKEN set in the bot's environment",
      ]);
    }
    expect(resolveParams(p, {}, { secretEnv: { PAYMENTS_API_TOKEN: 'tok-123456' } }).values).toEqual({ api_token: 'tok-123456' });
  });

  it('refuses a secret too short to be masked', () => {
    expect(problemsOf(() => resolveParams(p, {}, { secretEnv: { PAYMENTS_API_TOKEN: 'abc' } }))).toEqual([
      'api_token: the value of PAYMENTS_API_TOKEN is shorter than 4 characters, too short to be masked in output; set a real secret',
    ]);
  });

  it('does not list secret params among the ones a user may give', () => {
    const problems = problemsOf(() => resolveParams(p, { nope: '1' }, { secretEnv: { PAYMENTS_API_TOKEN: 'tok-123456' } }));
    expect(problems).toEqual(['unknown parameter "nope"; p takes note']);
  });
});

describe('resolveParams: NUL characters', () => {
  const p = procedure({
    s: { type: 'string' },
    i: { type: 'int' },
    b: { type: 'bool' },
    e: { type: 'enum', values: ['a\0b', 'a'] },
    d: { type: 'duration' },
    t: { type: 'secret', env: 'TOKEN', required: false },
  });

  it.each([
    ['s', 'abc\0def'],
    ['i', '5\0'],
    ['b', 'true\0'],
    ['e', 'a\0b'],
    ['d', '5m\0'],
  ])('refuses NUL in %s', (name, v) => {
    expect(problemsOf(() => resolveParams(p, { [name]: v }, noSecrets))).toEqual([`${name}: contains a NUL character, which no parameter may hold`]);
  });

  it('refuses NUL in a secret from the environment', () => {
    expect(problemsOf(() => resolveParams(p, {}, { secretEnv: { TOKEN: 'abcd\0efgh' } }))).toEqual(['t: the value of TOKEN contains a NUL character']);
  });
});

describe('resolveParams: names, required values and defaults', () => {
  const p = procedure({
    service: { type: 'enum', values: ['checkout', 'payments'], required: true },
    instance: { type: 'string', pattern: '[a-z0-9-]{1,40}', required: true },
    lines: { type: 'int', default: 50 },
    force: { type: 'bool', default: false },
    wait: { type: 'duration', default: '30s' },
    reason: { type: 'string', max_length: 200 },
  });

  it('applies the file defaults and leaves optional params without a default unset', () => {
    expect(resolveParams(p, { service: 'checkout', instance: 'web-01' }, noSecrets)).toEqual({
      values: { service: 'checkout', instance: 'web-01', lines: 50, force: false, wait: '30s' },
      secrets: [],
    });
  });

  it('lets given values override defaults and preset values override file defaults', () => {
    const r = resolveParams(
      p,
      { service: 'checkout', instance: 'web-01', lines: '10' },
      {
        secretEnv: {},
        defaults: { lines: 20, force: true, instance: 'all' },
      },
    );
    expect(r.values).toMatchObject({ instance: 'web-01', lines: 10, force: true });
  });

  it('checks preset values like given ones', () => {
    expect(problemsOf(() => resolveParams(p, { service: 'checkout', instance: 'a' }, { secretEnv: {}, defaults: { lines: 1.5 } }))).toEqual([
      'lines (preset value): "1.5" is not a whole number; write plain digits such as 50',
    ]);
  });

  it('refuses an unknown parameter and names the known ones', () => {
    expect(problemsOf(() => resolveParams(p, { service: 'checkout', instance: 'a', Instance: 'b' }, noSecrets))).toEqual([
      'unknown parameter "Instance"; p takes service, instance, lines, force, wait, reason',
    ]);
  });

  it('says when a procedure takes no parameters at all', () => {
    expect(problemsOf(() => resolveParams(procedure({}), { x: '1' }, noSecrets))).toEqual(['unknown parameter "x"; p takes no parameters']);
  });

  it('does not let inherited object keys pass as parameters', () => {
    expect(problemsOf(() => resolveParams(p, { service: 'checkout', instance: 'a', constructor: 'x', __proto__: 'y' }, noSecrets))).toEqual([
      'unknown parameter "constructor"; p takes service, instance, lines, force, wait, reason',
    ]);
  });

  it('reports every problem at once, each saying what to fix', () => {
    let error: unknown;
    try {
      resolveParams(p, { instance: 'web-01;ls', lines: '1e3', colour: 'red', reason: 'r'.repeat(201) }, noSecrets);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ParamsError);
    expect((error as ParamsError).problems).toEqual([
      'unknown parameter "colour"; p takes service, instance, lines, force, wait, reason',
      'service is required: one of checkout, payments',
      'instance: "web-01;ls" does not match the pattern [a-z0-9-]{1,40} (the whole value must match)',
      'lines: "1e3" is not a whole number; write plain digits such as 50',
      'reason: is 201 characters long; at most 200 are allowed',
    ]);
    expect((error as ParamsError).message).toMatch(/^p: 5 parameters were refused: unknown parameter "colour"/);
  });

  it('reports a default in the file that breaks its own rule', () => {
    const bad = procedure({ lines: { type: 'int', max: 10, default: 50 } });
    expect(problemsOf(() => resolveParams(bad, {}, noSecrets))).toEqual(['lines (default in the procedure file): 50 is above the maximum 10']);
  });

  it('shortens a long refused value in the message', () => {
    const [problem] = problemsOf(() => resolveParams(p, { service: 'checkout', instance: 'x'.repeat(10_000) }, noSecrets));
    expect(problem!.length).toBeLessThan(200);
  });
});
