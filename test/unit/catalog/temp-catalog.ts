// Test helper: a catalog folder pair in a fresh temporary directory, removed after the test.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';

export interface TempCatalog {
  root: string;
  policiesDir: string;
  commandsDir: string;
  /** Writes `relative` (e.g. `policies/a.yaml`) under the root. */
  write(relative: string, text: string): string;
  remove(relative: string): void;
}

export function tempCatalog(files: Record<string, string> = {}): TempCatalog {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeops-catalog-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  const policiesDir = path.join(root, 'policies');
  const commandsDir = path.join(root, 'commands');
  mkdirSync(policiesDir);
  mkdirSync(commandsDir);
  const write = (relative: string, text: string) => {
    const file = path.join(root, relative);
    writeFileSync(file, text);
    return file;
  };
  for (const [relative, text] of Object.entries(files)) write(relative, text);
  return { root, policiesDir, commandsDir, write, remove: (relative) => rmSync(path.join(root, relative), { force: true }) };
}

export const MINIMAL_POLICY = `version: 1
roles:
  sre-oncall: { users: [U0SRE0001] }
  developer: { groups: [S03DEVS] }
rules:
  - roles: [sre-oncall]
    allow: ["*"]
  - roles: [developer]
    allow: [run]
    procedures: [restart-service]
    environments: [prod]
    approval: { roles: [sre-oncall] }
`;

export { RESTART_SERVICE } from '../../fixtures/restart-service.js';
