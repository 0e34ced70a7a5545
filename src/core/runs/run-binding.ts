// What an approval is bound to beyond the procedure: the program files under the commands folder that its steps execute.
import { InputError } from '../../errors.js';
import type { ParamValue } from '../procedures/params.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import { templateVariables } from '../procedures/template.js';
import { isAbsolutePosix, normalizePosix } from './posix-path.js';
import { bindingHash, type BoundFile } from './run.js';

/** Reads program files of the commands folder (the port the file system implements). */
export interface ProgramFiles {
  /**
   * sha256 hex of the bytes of the regular file at `relativePath` inside the commands folder, or null
   * when there is no such file (or it is not a regular file). Throws InputError when a regular file
   * it names lies outside the folder (by `../` or a symbolic link).
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
    if (program === undefined || !program.includes('/') || isAbsolutePosix(program)) continue;
    const normalized = normalizePosix(program);
    if (normalized === '..' || normalized.startsWith('../')) {
      throw new InputError(
        `step "${step.name}": its program ${program} is outside the commands folder; keep the scripts a procedure runs under the commands folder`,
      );
    }
    found.add(normalized);
  }
  return [...found].sort();
}

/**
 * The argv elements after the program that may name a file in the commands folder (steps run there):
 * written by the author with no variable in them, relative, and not yet bound as a program. An
 * interpreter's script (`["/bin/sh", "./scripts/fix.sh"]`, `["python3", "tools/x.py"]`) is code
 * the approval must cover as much as a program is; which of them are files only the folder can tell.
 */
export function argumentPaths(procedure: Pick<Procedure, 'steps'>): string[] {
  const found = new Set<string>();
  for (const step of procedure.steps) {
    for (const arg of step.run?.slice(1) ?? []) {
      if (arg === '' || isAbsolutePosix(arg) || templateVariables(arg).length > 0) continue;
      found.add(normalizePosix(arg));
    }
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
  const executed = executedPrograms(procedure);
  const files: BoundFile[] = executed.map((file) => ({ path: file, sha256: programs.digest(file) }));
  // An argument is bound only when it is a file there; one that appears or goes away changes the binding too.
  for (const arg of argumentPaths(procedure)) {
    if (executed.includes(arg)) continue;
    const digest = programs.digest(arg);
    if (digest !== null) files.push({ path: arg, sha256: digest });
  }
  return { hash: bindingHash(procedure, environment, params, files), files };
}
