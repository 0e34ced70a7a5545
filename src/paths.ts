// Locates files shipped with the package (migrations, examples) from compiled or source code alike.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the edgeops sources');
    dir = parent;
  }
  cached = dir;
  return dir;
}

export const migrationsDir = (): string => path.join(packageRoot(), 'migrations');
export const postgresMigrationsDir = (): string => path.join(packageRoot(), 'migrations', 'postgres');
