// Program files of the commands folder as the approval binding sees them: the sha256 of their bytes, never a path outside the folder.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ProgramFiles } from '../../core/runs/run-binding.js';
import { InputError } from '../../errors.js';

// An argument such as an inline `sh -c` script is looked up too: one too long or with a NUL byte is no file either.
const missing = (err: unknown): boolean =>
  ['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ERR_INVALID_ARG_VALUE'].includes((err as NodeJS.ErrnoException).code ?? '');

export function createProgramFiles(commandsDir: string): ProgramFiles {
  return {
    digest(relativePath) {
      // Symbolic links are followed as exec would follow them; one leading out of the folder is refused.
      let root: string;
      let real: string;
      try {
        root = realpathSync(commandsDir);
        real = realpathSync(path.resolve(commandsDir, relativePath));
      } catch (err) {
        if (missing(err)) return null;
        throw err;
      }
      // Only regular files are code to bind (or refuse): an argument naming a folder, even the commands folder itself, is neither.
      if (!statSync(real).isFile()) return null;
      if (!real.startsWith(root + path.sep)) {
        const how = path.posix.normalize(relativePath).startsWith('../') ? '' : ' (through a symbolic link)';
        throw new InputError(`${relativePath} leads outside the commands folder${how}; keep the scripts a procedure runs under the commands folder`);
      }
      return createHash('sha256').update(readFileSync(real)).digest('hex');
    },
  };
}
