// What the approval binding reads of the commands folder, on a real file system: regular files inside it, and nothing else.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProgramFiles } from '../../../src/adapters/steps/program-files.js';
import { runBinding } from '../../../src/core/runs/run-binding.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import { InputError } from '../../../src/errors.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

afterEach(() => removeTempDirs());

function folder(): string {
  const dir = makeTempDir('program-files');
  mkdirSync(path.join(dir, 'commands', 'scripts'), { recursive: true });
  writeFileSync(path.join(dir, 'commands', 'scripts', 'fix.sh'), 'echo fix\n');
  writeFileSync(path.join(dir, 'outside.sh'), 'echo outside\n');
  return path.join(dir, 'commands');
}

const procedure = (run: string[]) =>
  ProcedureSchema.parse({ name: 'p', description: 'd', owner: '@test', environments: ['staging'], steps: [{ name: 's', run }] });

describe('the files an approval binds', () => {
  it('binds a script an interpreter is given, and not arguments that are inline scripts, folders or too long to be a path', () => {
    const programs = createProgramFiles(folder());
    const inline = `mkdir -p ./out && ${'echo long; '.repeat(500)}`;
    const { files } = runBinding(procedure(['/bin/sh', './scripts/fix.sh', '-c', inline, '.', 'scripts', 'a\u0000b']), 'staging', {}, programs);
    expect(files).toEqual([{ path: 'scripts/fix.sh', sha256: createHash('sha256').update('echo fix\n').digest('hex') }]);
  });

  it('refuses an argument naming a regular file outside the commands folder', () => {
    const programs = createProgramFiles(folder());
    expect(() => runBinding(procedure(['/bin/sh', '../outside.sh']), 'staging', {}, programs)).toThrow(InputError);
    expect(() => programs.digest('../outside.sh')).toThrow(
      '../outside.sh leads outside the commands folder; keep the scripts a procedure runs under the commands folder',
    );
  });
});
