// Argv fuzz: 100k generated values become exactly one literal argv element each, or are refused by type or for beginning an argument with "-".
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessStepRunner } from '../../src/adapters/steps/process-step.js';
import { planRun } from '../../src/core/procedures/plan.js';
import { ProcedureSchema, type Procedure } from '../../src/core/procedures/procedure-schema.js';
import { ParamsError } from '../../src/core/procedures/params.js';
import { InputError } from '../../src/errors.js';

const procedure: Procedure = ProcedureSchema.parse({
  name: 'fuzz',
  description: 'records its argv',
  owner: '@test',
  environments: ['test'],
  params: {
    // text may begin an argument with "-", so every value reaches the program; host may not.
    text: { type: 'string', max_length: 4096, allow_leading_dash: true },
    host: { type: 'string', pattern: '[a-z0-9-]{1,40}' },
  },
  steps: [{ name: 'record', run: ['./record-argv.sh', '{{text}}', 'pre-{{text}}-post', '--', '{{host}}'] }],
});

/** Values an attacker would try, mixed with arbitrary unicode and control characters. */
const hostile = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc
    .array(
      fc.constantFrom(
        ';',
        '&&',
        '|',
        '`',
        '$(',
        ')',
        '${IFS}',
        '\n',
        '\r',
        '\t',
        '"',
        "'",
        '\\',
        '*',
        '?',
        '~',
        '>',
        '<',
        '--',
        ' ',
        'touch PWNED',
        '\0',
        'rm -rf /',
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join('')),
);

describe('argv fuzz', () => {
  it('puts 100,000 generated values into single literal argv elements, or refuses them before anything runs', () => {
    let planned = 0;
    let refused = 0;
    let dashRefused = 0;
    fc.assert(
      fc.property(hostile, fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,40}$/), fc.string({ maxLength: 12 })), (text, host) => {
        let plan;
        try {
          plan = planRun(procedure, { given: { text, host: host || 'web-1' }, env: 'test', secretEnv: {} });
        } catch (err) {
          const nul = text.includes('\0') || host.includes('\0');
          const badHost = !/^[a-z0-9-]{1,40}$/u.test(host || 'web-1');
          if (err instanceof ParamsError) {
            expect(nul || badHost || [...text].length > 4096).toBe(true);
            refused += 1;
            return;
          }
          // Well-typed, but {{host}} fills a whole element and would begin it with "-".
          expect(err).toBeInstanceOf(InputError);
          expect((host || 'web-1').startsWith('-')).toBe(true);
          expect((err as Error).message).toMatch(/would begin an argument with "-"/);
          dashRefused += 1;
          return;
        }
        expect((host || 'web-1').startsWith('-')).toBe(false);
        const step = plan.steps[0]!;
        expect(step.kind).toBe('run');
        if (step.kind !== 'run') return;
        expect(step.argv).toEqual(['./record-argv.sh', text, `pre-${text}-post`, '--', host || 'web-1']);
        planned += 1;
      }),
      { numRuns: 100_000, seed: 20261126 },
    );
    console.info(
      `argv fuzz: 100000 values, ${planned} planned as single elements, ${refused} refused by type, ${dashRefused} refused for a leading "-", 0 injected`,
    );
    expect(planned + refused + dashRefused).toBe(100_000);
    expect(dashRefused).toBeGreaterThan(0);
    // Most values are well typed; of those, the ones whose host begins with "-" are refused, the rest planned.
    expect(planned + dashRefused).toBeGreaterThan(50_000);
    expect(planned).toBeGreaterThan(30_000);
  });

  describe('through real processes', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'edgeops-fuzz-'));
      await copyFile(path.resolve('test/fixtures/steps/record-argv.sh'), path.join(dir, 'record-argv.sh'));
    });
    afterAll(async () => rm(dir, { recursive: true, force: true }));

    it('delivers 300 generated values byte for byte, and nothing they hold is ever executed', async () => {
      const run = createProcessStepRunner({ commandsDir: dir, baseEnv: { PATH: process.env.PATH } });
      const values = fc.sample(
        hostile.filter((v) => !v.includes('\0') && v.length > 0),
        { numRuns: 300, seed: 7 },
      );
      for (const text of values) {
        const plan = planRun(procedure, { given: { text, host: 'web-1' }, env: 'test', secretEnv: {} });
        const step = plan.steps[0]!;
        if (step.kind !== 'run') throw new Error('expected a run step');
        const result = await run({ argv: step.argv, env: step.env, timeoutMs: 10_000 });
        expect(result.outcome).toBe('succeeded');
        const recorded = (await readFile(path.join(dir, 'argv.bin'))).toString('utf8').split('\0').slice(0, -1);
        expect(recorded).toEqual([text, `pre-${text}-post`, '--', 'web-1'].map((v) => Buffer.from(v, 'utf8').toString('utf8')));
      }
      expect((await readdir(dir)).sort()).toEqual(['argv.bin', 'record-argv.sh']);
    });
  });
});
