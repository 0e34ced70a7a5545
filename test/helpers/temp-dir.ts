// Temporary folders for tests: made on demand, removed together once the test is over.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];

/** A fresh empty folder under the system temp folder; `removeTempDirs` deletes it. */
export function makeTempDir(label = 'test'): string {
  const dir = mkdtempSync(path.join(tmpdir(), `edgeops-${label}-`));
  made.push(dir);
  return dir;
}

/** Deletes every folder made so far; call it from `afterEach`. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
