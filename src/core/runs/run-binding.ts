// What an approval is bound to beyond the procedure: the program files under the commands folder that its steps execute.
import path from 'node:path';
import { InputError } from '../../errors.js';
import type { ParamValue } from '../procedures/params.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import { bindingHash, type BoundFile } from './run.js';

/** Reads program files of the commands folder (the port the file system implements). */
export interface ProgramFiles {
  /**
   * sha256 hex of the bytes of the file at `relativePath` inside the commands folder, or null when
   * there is no such file. Throws InputError when the path leads outside the folder (a symbolic link).
   */
  digest(relativePath: string): string | null;
}

/**
 * The program files a procedure's `run:` steps execute from the commands folder, as normalized
 * relative paths, sorted and without repeats. A program without a slash is looked up in PATH and an
 * absolute one is the host's; neither belongs to the procedure's owners, so neither is bound. A
 * relative program that climbs out of the folder is refused: it would run code nobody reviews with
 * the procedure.
 */
export function executedPrograms(procedure: Pick<Procedure, 'steps'>): string[] {
  const found = new Set<string>();
  for (const step of procedure.steps) {
    const program = step.run?.[0];
    if (program === undefined || !program.includes('/') || path.posix.isAbsolute(program)) continue;
    const normalized = path.posix.normalize(program);
    if (normalized === '..' || normalized.startsWith('../')) {
      throw new InputError(`step "${step.name}": its program ${program} is outside the commands folder; keep the scripts a procedure runs under the commands folder`);
    }
    found.add(normalized);
  }
  return [...found].sort();
}

/** The binding of one run and the files it covers. */
export function runBinding(
  procedure: Procedure,
  environment: string,
  params: Record<string, ParamValue>,
  programs: ProgramFiles,
): { hash: string; files: BoundFile[] } {
  const files = executedPrograms(procedure).map((file) => ({ path: file, sha256: programs.digest(file) }));
  return { hash: bindingHash(procedure, environment, params, files), files };
}
