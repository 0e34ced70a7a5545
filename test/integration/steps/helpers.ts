// Shared helpers for the step integration tests: temp folders, pid files, liveness of processes.
import { watch } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixturesDir = path.join(repoRoot, 'test/fixtures/steps');
export const commandsDir = path.join(repoRoot, 'commands');

export async function tempDir(prefix = 'edgeops-steps-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Resolves once every named file exists in `dir` (written atomically by the fixture scripts). */
export function waitForFiles(dir: string, names: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const missing = () => names.filter((n) => !existsSync(path.join(dir, n)));
    const watcher = watch(dir, () => {
      if (missing().length === 0) {
        watcher.close();
        resolve();
      }
    });
    watcher.on('error', reject);
    if (missing().length === 0) {
      watcher.close();
      resolve();
    }
  });
}

export async function readPids(dir: string, names: string[]): Promise<number[]> {
  return Promise.all(names.map(async (n) => Number((await readFile(path.join(dir, n), 'utf8')).trim())));
}

/**
 * Whether a process still runs. A killed process whose parent is gone may linger as a zombie when
 * PID 1 does not reap (as in some containers); a zombie runs nothing, so it counts as dead.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Kills test leftovers so a failing test does not leave processes behind. */
export function killQuietly(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Files called PWNED anywhere under the given folders (not following links). */
export async function findPwned(dirs: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of dirs) {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.name === 'PWNED') found.push(path.join(e.parentPath, e.name));
  }
  return found;
}
