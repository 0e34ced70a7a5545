// The import-boundary check (.dependency-cruiser.cjs): each rule refuses a broken import, and the real tree passes.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

const DEPCRUISE = path.join(PACKAGE_ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = path.join(PACKAGE_ROOT, '.dependency-cruiser.cjs');
const KNOWN = path.join(PACKAGE_ROOT, '.dependency-cruiser-known-violations.json');

const ResultSchema = z.object({
  summary: z.object({
    error: z.number(),
    violations: z.array(z.object({ from: z.string(), to: z.string(), rule: z.object({ name: z.string(), severity: z.string() }) })),
  }),
});

/** Runs the same CLI as `npm run lint:deps` over `dirs` in `cwd`, with the project's rules. */
async function cruise(cwd: string, dirs: string[], extra: string[] = []): Promise<z.infer<typeof ResultSchema>['summary']> {
  const { stdout } = await promisify(execFile)(process.execPath, [DEPCRUISE, '--config', CONFIG, ...extra, '-T', 'json', ...dirs], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  return ResultSchema.parse(JSON.parse(stdout)).summary;
}

// A small tree laid out like src/ that obeys every rule: the CLI wires the app, the app wires
// an adapter, a store and a core service; the core uses only errors and node:crypto.
const CLEAN_TREE: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  'src/cli.ts': "import { app } from './app.js';\nexport const main = app;\n",
  'src/app.ts':
    "import { listener } from './adapters/slack/listener.js';\nimport { db } from './storage/db.js';\nimport { service } from './core/service.js';\nimport { InputError } from './errors.js';\nexport const app = [listener, db, service, InputError];\n",
  'src/errors.ts': 'export class InputError extends Error {}\n',
  'src/core/service.ts':
    "import { createHash } from 'node:crypto';\nimport { InputError } from '../errors.js';\nexport const service = [createHash, InputError];\n",
  'src/adapters/slack/listener.ts': "import { service } from '../../core/service.js';\nexport const listener = service;\n",
  'src/storage/db.ts': "import { service } from '../core/service.js';\nexport const db = service;\n",
};

function writeTree(files: Record<string, string>): string {
  const dir = makeTempDir('boundaries');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

afterEach(() => removeTempDirs());

describe('import-boundary check', () => {
  it('passes a tree whose core imports only itself, errors and node:crypto and whose adapters import only the core', async () => {
    const summary = await cruise(writeTree(CLEAN_TREE), ['src']);
    expect(summary.violations).toEqual([]);
    expect(summary.error).toBe(0);
  });

  it.each<{ rule: string; broken: Record<string, string>; from: string; to: string }>([
    {
      rule: 'core-stays-pure',
      broken: { 'src/core/service.ts': "import { db } from '../storage/db.js';\nexport const service = db;\n" },
      from: 'src/core/service.ts',
      to: 'src/storage/db.ts',
    },
    {
      rule: 'core-stays-pure',
      broken: { 'src/core/service.ts': "import { readFileSync } from 'node:fs';\nexport const service = readFileSync;\n" },
      from: 'src/core/service.ts',
      to: 'fs',
    },
    {
      rule: 'adapters-not-to-storage',
      broken: { 'src/adapters/slack/listener.ts': "import { db } from '../../storage/db.js';\nexport const listener = db;\n" },
      from: 'src/adapters/slack/listener.ts',
      to: 'src/storage/db.ts',
    },
    {
      rule: 'adapters-not-to-composition-root',
      broken: {
        'src/adapters/slack/listener.ts': "import type { app } from '../../app.js';\nexport const listener: typeof app | undefined = undefined;\n",
      },
      from: 'src/adapters/slack/listener.ts',
      to: 'src/app.ts',
    },
    {
      rule: 'no-orphans',
      broken: { 'src/core/forgotten.ts': 'export const forgotten = 1;\n' },
      from: 'src/core/forgotten.ts',
      to: 'src/core/forgotten.ts',
    },
  ])('refuses one broken import with the rule $rule ($from → $to)', async ({ rule, broken, from, to }) => {
    const summary = await cruise(writeTree({ ...CLEAN_TREE, ...broken }), ['src']);
    expect(summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }))).toContainEqual({ rule, from, to });
    expect(summary.violations.every((v) => v.rule.name === rule || v.rule.name === 'no-cycles')).toBe(true);
    expect(summary.error).toBeGreaterThan(0);
  });

  it('refuses an import cycle with the rule no-cycles', async () => {
    const summary = await cruise(
      writeTree({
        ...CLEAN_TREE,
        'src/storage/db.ts': "import { service } from '../core/service.js';\nimport { app } from '../app.js';\nexport const db = [service, app];\n",
      }),
      ['src'],
    );
    expect(summary.violations).toContainEqual(expect.objectContaining({ rule: { name: 'no-cycles', severity: 'error' } }));
  });

  it('passes the real tree apart from the recorded known violations', { timeout: 180_000 }, async () => {
    const summary = await cruise(PACKAGE_ROOT, ['src', 'test', 'bench'], ['--ignore-known', KNOWN]);
    expect(summary.violations.filter((v) => v.rule.severity !== 'ignore')).toEqual([]);
    expect(summary.error).toBe(0);
  });
});
