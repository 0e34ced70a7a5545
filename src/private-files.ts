// Files and folders that hold incident data (database, logs, key, exports): readable by their owner only, whatever the umask.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` and any missing parents with mode 0700. A folder that exists already is left as
 * it is: it may be shared (`/tmp`, a mounted volume), and the files in it are made private anyway.
 */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Narrows an existing file that group or others may read (left so by an earlier version) to 0600; no file, nothing done. */
export function tightenFileMode(file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((mode & 0o077) !== 0) chmodSync(file, PRIVATE_FILE_MODE);
}

/**
 * Makes sure `file` exists with mode 0600 before anything else opens it: created empty (mode set at
 * creation, so it is never readable by others even for an instant), or narrowed if it was wider.
 */
export function ensurePrivateFile(file: string): void {
  try {
    closeSync(openSync(file, 'wx', PRIVATE_FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    tightenFileMode(file);
  }
}
