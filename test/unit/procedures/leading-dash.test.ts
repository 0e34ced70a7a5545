// A template variable never begins an argv element with "-" unless its param says allow_leading_dash: true.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { planRun } from '../../../src/core/procedures/plan.js';
import { ProcedureSchema, type ProcedureInput } from '../../../src/core/procedures/procedure-schema.js';
import { checkProcedureTemplates, createTemplateContext, leadingVariable, resolveStep } from '../../../src/core/procedures/template.js';

function procedure(params: ProcedureInput['params'], run: string[]) {
  return ProcedureSchema.parse({
    name: 'sort-file',
    description: 'sorts a file',
    owner: '@team',
    environments: ['prod'],
    params,
    steps: [{ name: 'sort', run }],
  });
}

/** The argv of the procedure's one step, or the refusal's message. */
function argvOrRefusal(p: ReturnType<typeof procedure>, values: Record<string, string | number>, incident = {}): string[] | string {
  try {
    const resolved = resolveStep(p.steps[0]!, createTemplateContext(p, values, { env: 'prod', incident }));
    if (resolved.kind !== 'run') throw new Error('expected a run step');
    return resolved.argv;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
}

describe('a value beginning an argv element', () => {
  const file = procedure({ file: { type: 'string' }, extra: { type: 'string' } }, ['sort', '{{file}}']);

  it('refuses "--output=/tmp/x" filling a whole element, naming the param and allow_leading_dash', () => {
    expect(argvOrRefusal(file, { file: '--output=/tmp/x' })).toBe(
      'step "sort" run[1]: {{file}} is "--output=/tmp/x", which would begin an argument with "-" that the program could read as an option; give file a value that does not start with "-" (the procedure file can allow it with allow_leading_dash: true on file)',
    );
    expect(argvOrRefusal(file, { file: '-' })).toMatch(/\{\{file\}\} is "-", which would begin an argument with "-"/);
  });

  it('passes the value when the param says allow_leading_dash: true', () => {
    const dashed = procedure({ file: { type: 'string', allow_leading_dash: true } }, ['sort', '{{file}}']);
    expect(argvOrRefusal(dashed, { file: '--output=/tmp/x' })).toEqual(['sort', '--output=/tmp/x']);
  });

  it('passes values that do not start with "-", and dashes inside or after the first character', () => {
    expect(argvOrRefusal(file, { file: 'a--b' })).toEqual(['sort', 'a--b']);
    expect(argvOrRefusal(file, { file: ' -x' })).toEqual(['sort', ' -x']);
  });

  it("passes a dash that is the file's own text: --name={{x}} and -{{x}}", () => {
    const p = procedure({ file: { type: 'string' } }, ['sort', '--output={{file}}', '-{{file}}', 'x{{file}}']);
    expect(argvOrRefusal(p, { file: '-rf' })).toEqual(['sort', '--output=-rf', '--rf', 'x-rf']);
  });

  it('judges the first variable with a value when earlier ones are empty: {{a}}{{b}} with a empty', () => {
    const p = procedure({ file: { type: 'string' }, extra: { type: 'string', allow_leading_dash: true } }, ['sort', '{{extra}}{{file}}']);
    expect(argvOrRefusal(p, { extra: '', file: '-x' })).toMatch(/^step "sort" run\[1\]: \{\{file\}\} is "-x"/);
    expect(argvOrRefusal(p, { extra: '-y', file: '-x' })).toEqual(['sort', '-y-x']);
  });

  it('refuses a negative int filling a whole element unless allowed (head -n {{n}} would take -5 as an option)', () => {
    const n = procedure({ n: { type: 'int' } }, ['head', '{{n}}']);
    expect(argvOrRefusal(n, { n: -5 })).toMatch(/\{\{n\}\} is "-5", which would begin an argument with "-"/);
    expect(argvOrRefusal(n, { n: 5 })).toEqual(['head', '5']);
    const allowed = procedure({ n: { type: 'int', allow_leading_dash: true } }, ['head', '{{n}}']);
    expect(argvOrRefusal(allowed, { n: -5 })).toEqual(['head', '-5']);
  });

  it('refuses an incident variable beginning an element, with no way to allow it', () => {
    const p = procedure({}, ['sort', '{{incident.pagerduty_id}}']);
    expect(argvOrRefusal(p, {}, { id: 'INC-1', pagerdutyId: '--output=/tmp/x' })).toBe(
      'step "sort" run[1]: {{incident.pagerduty_id}} is "--output=/tmp/x", which would begin an argument with "-" that the program could read as an option; {{incident.pagerduty_id}} may never begin an argument with "-"',
    );
  });

  it('gives {{incident.service}} its service-name form, which never begins with "-"', () => {
    const p = procedure({}, ['sort', '{{incident.service}}']);
    expect(argvOrRefusal(p, {}, { service: '--output=/tmp/x' })).toEqual(['sort', 'output tmp x']);
    expect(argvOrRefusal(p, {}, { service: 'Checkout (EU)' })).toEqual(['sort', 'Checkout EU']);
    expect(argvOrRefusal(p, {}, { service: 'checkout' })).toEqual(['sort', 'checkout']);
  });

  it('refuses the whole run plan before anything runs, with the other problems', () => {
    const p = procedure({ file: { type: 'string' } }, ['sort', '{{file}}']);
    expect(() => planRun(p, { given: { file: '--output=/tmp/x' }, env: 'prod', secretEnv: {} })).toThrow(
      /^sort-file: step "sort" run\[1\]: \{\{file\}\} is "--output=\/tmp\/x", which would begin an argument/,
    );
  });

  it('names the variable supplying the first character', () => {
    const vars = new Map([
      ['a', ''],
      ['b', '-x'],
      ['c', 'y'],
    ]);
    expect(leadingVariable('{{a}}{{b}}', vars)).toBe('b');
    expect(leadingVariable('{{ c }}{{b}}', vars)).toBe('c');
    expect(leadingVariable('--{{b}}', vars)).toBeUndefined();
    expect(leadingVariable('{{a}}', vars)).toBeUndefined();
  });
});

describe('allow_leading_dash in the procedure file', () => {
  it('is accepted on string, int and enum params', () => {
    const p = procedure(
      {
        s: { type: 'string', allow_leading_dash: true },
        i: { type: 'int', allow_leading_dash: false },
        e: { type: 'enum', values: ['-v', '-q'], allow_leading_dash: true },
      },
      ['prog', '{{s}}', '{{i}}', '{{e}}'],
    );
    expect(p.params.s).toMatchObject({ allow_leading_dash: true });
    expect(checkProcedureTemplates(p)).toEqual([]);
  });

  it.each([
    ['secret', { type: 'secret', env: 'API_TOKEN', allow_leading_dash: true }, 'a secret never fills an argument'],
    ['bool', { type: 'bool', allow_leading_dash: true }, 'a bool fills in as true or false'],
    ['duration', { type: 'duration', allow_leading_dash: true }, 'a duration such as 30s never starts with "-"'],
  ] as const)('is refused on a %s param, saying why', (type, def, why) => {
    const result = ProcedureSchema.safeParse({
      name: 'x',
      description: 'x',
      owner: '@team',
      environments: ['prod'],
      params: { p: def },
      steps: [{ name: 's', run: ['true'] }],
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues).toEqual([
      expect.objectContaining({
        path: ['params', 'p', 'allow_leading_dash'],
        message: expect.stringMatching(new RegExp(`^allow_leading_dash makes no sense on a ${type} parameter: ${why}.*; remove it$`)),
      }),
    ]);
  });

  it('reports an enum value or default that begins an element with "-" without allow_leading_dash', () => {
    const p = procedure({ level: { type: 'enum', values: ['info', '-v'] }, n: { type: 'int', default: -1 } }, ['prog', '{{level}}', '--n={{n}}', '{{n}}']);
    expect(checkProcedureTemplates(p)).toEqual([
      {
        path: ['steps', 0, 'run', 1],
        message: expect.stringContaining('{{level}} begins this argument and may be "-v", which would be refused at run time'),
      },
      { path: ['steps', 0, 'run', 3], message: expect.stringContaining('{{n}} begins this argument and may be "-1"') },
    ]);
  });
});
