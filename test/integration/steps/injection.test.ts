// Hostile parameter values reach the program as one literal argv element, or are refused before anything runs.
import { copyFile, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createProcessStepRunner } from '../../../src/adapters/steps/process-step.js';
import { ParamsError, resolveParams } from '../../../src/core/procedures/params.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import { createTemplateContext, resolveStep } from '../../../src/core/procedures/template.js';
import { commandsDir, findPwned, fixturesDir, repoRoot, tempDir } from './helpers.js';

const procedure = ProcedureSchema.parse({
  name: 'record',
  description: 'records its argv',
  owner: '@team',
  environments: ['prod'],
  params: {
    // text may begin an argument with "-", so every payload reaches the program; capped and instance may not.
    text: { type: 'string', max_length: 20_000, allow_leading_dash: true },
    capped: { type: 'string' },
    instance: { type: 'string', pattern: '[a-z0-9-]{1,40}' },
  },
  steps: [{ name: 'record', run: ['./record-argv.sh', '--', '{{text}}', 'x{{text}}x', '{{capped}}', '{{instance}}'] }],
});

let dir: string;
let removeDir: () => Promise<void>;
let runStep: ReturnType<typeof createProcessStepRunner>;

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir('edgeops-injection-'));
  await copyFile(path.join(fixturesDir, 'record-argv.sh'), path.join(dir, 'record-argv.sh'));
  runStep = createProcessStepRunner({ commandsDir: dir, baseEnv: process.env });
});

afterAll(async () => {
  const pwned = await findPwned([dir, fixturesDir, commandsDir]);
  await removeDir();
  // Checked once more after everything ran: no payload ever executed anywhere.
  expect(pwned).toEqual([]);
  expect(existsSync(path.join(repoRoot, 'PWNED'))).toBe(false);
  expect(existsSync(path.join(process.cwd(), 'PWNED'))).toBe(false);
});

/** Resolves the params and the step the way a run does, runs it, and returns the argv the program saw. */
async function argvSeen(given: Record<string, string>): Promise<string[]> {
  const { values } = resolveParams(procedure, given, { secretEnv: {} });
  const step = resolveStep(procedure.steps[0]!, createTemplateContext(procedure, values, { env: 'prod' }));
  if (step.kind !== 'run') throw new Error('expected a run step');
  await rm(path.join(dir, 'argv.bin'), { force: true });
  const result = await runStep({ argv: step.argv, env: step.env, timeoutMs: 10_000 });
  expect(result.outcome).toBe('succeeded');
  const raw = await readFile(path.join(dir, 'argv.bin'), 'utf8');
  return raw.split('\0').slice(0, -1);
}

const payloads = [
  '; touch PWNED',
  '$(touch PWNED)',
  '`touch PWNED`',
  '| touch PWNED',
  '&& touch PWNED',
  '\ntouch PWNED\n',
  'a\r\ntouch PWNED',
  '${IFS}touch${IFS}PWNED',
  '--',
  '--output=PWNED',
  '-rf',
  `'"; touch PWNED; echo "'`,
  '"quoted" and \\"escaped\\"',
  '   ',
  '',
  '*',
  '../../../PWNED',
  '{{instance}}',
  'ünïcödé ✓ 😀',
  'x'.repeat(10 * 1024),
];

describe('parameter values in argv', () => {
  it.each(payloads.map((p) => [p.length > 40 ? `${p.slice(0, 20)}… (${p.length} chars)` : JSON.stringify(p), p]))(
    '%s arrives as exactly one literal element',
    async (_label, payload) => {
      const argv = await argvSeen({ text: payload, capped: 'c', instance: 'web-01' });
      expect(argv).toEqual(['--', payload, `x${payload}x`, 'c', 'web-01']);
      expect(await findPwned([dir])).toEqual([]);
    },
  );

  it('keeps any printable or control text (but NUL) as one element (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => !s.includes('\0')),
        async (payload) => {
          const argv = await argvSeen({ text: payload });
          expect(argv).toEqual(['--', payload, `x${payload}x`, '', '']);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('values refused before anything runs', () => {
  const spawnSpy = vi.fn((...args: Parameters<typeof runStep>) => runStep(...args));

  async function attempt(given: Record<string, string>): Promise<ParamsError> {
    try {
      const { values } = resolveParams(procedure, given, { secretEnv: {} });
      const step = resolveStep(procedure.steps[0]!, createTemplateContext(procedure, values, { env: 'prod' }));
      if (step.kind === 'run') await spawnSpy({ argv: step.argv, env: step.env, timeoutMs: 10_000 });
    } catch (err) {
      expect(spawnSpy).not.toHaveBeenCalled();
      expect(err).toBeInstanceOf(ParamsError);
      return err as ParamsError;
    }
    throw new Error('expected the values to be refused');
  }

  it('refuses a pattern-checked value with a command tacked on', async () => {
    const err = await attempt({ instance: 'web-01;ls' });
    expect(err.problems).toEqual(['instance: "web-01;ls" does not match the pattern [a-z0-9-]{1,40} (the whole value must match)']);
  });

  it('refuses NUL, which could end an argument early', async () => {
    const err = await attempt({ text: 'web-01\0--force' });
    expect(err.problems).toEqual(['text: contains a NUL character, which no parameter may hold']);
  });

  it('refuses a value that would begin an argument with "-" where the param does not allow it', async () => {
    const { values } = resolveParams(procedure, { capped: '--output=PWNED', instance: 'web-01' }, { secretEnv: {} });
    expect(() => resolveStep(procedure.steps[0]!, createTemplateContext(procedure, values, { env: 'prod' }))).toThrow(
      'step "record" run[4]: {{capped}} is "--output=PWNED", which would begin an argument with "-"',
    );
    expect(spawnSpy).not.toHaveBeenCalled();
    expect(await findPwned([dir])).toEqual([]);
  });

  it('refuses a 10 KB value over the default 256-character cap', async () => {
    const err = await attempt({ capped: 'x'.repeat(10 * 1024) });
    expect(err.problems).toEqual(['capped: is 10240 characters long; at most 256 are allowed']);
  });
});
