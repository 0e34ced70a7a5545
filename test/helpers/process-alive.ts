// Whether a process of this host lives, for tests that kill processes and check what is left.
import { readFileSync } from 'node:fs';

/** Alive and not a zombie (a killed process may linger unreaped where PID 1 does not reap). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
