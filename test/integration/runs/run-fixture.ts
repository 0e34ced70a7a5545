// A throwaway catalog and app for run tests: real SQLite (or PostgreSQL), real child processes, an adjustable clock.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApp, type AppOptions, type Backend, type ComposedApp, type ComposedApp as App } from '../../../src/app.js';
import { consoleText } from '../../../src/adapters/console/console-text.js';
import { bootCatalog } from '../../../src/cli/bootstrap.js';
import type { Catalog } from '../../../src/catalog/load-catalog.js';
import { loadConfig } from '../../../src/config.js';
import type { CommandContext } from '../../../src/core/commands/command-context.js';
import { createLogger } from '../../../src/log.js';
import { openTestBackend, type BackendKind, type TestBackend } from '../../helpers/backends.js';

export const POLICY = `version: 1
roles:
  sre: { users: [U0SRE0001, U0SRE0002, U0SRE0003] }
  dev: { users: [U0DEV0001], groups: [S0DEVS] }
rules:
  - roles: ["*"]
    allow: [incident.declare, incident.update, incident.note, runbook.list]
  - roles: [dev]
    allow: [run, dry-run]
    procedures: [echo-args, slow, leaky, short-fuse]
  - roles: [dev]
    allow: [run, dry-run]
    procedures: [guarded]
    environments: [prod]
    approval: { roles: [sre], count: 1, expires: 10m }
  - roles: [dev]
    allow: [run]
    procedures: [two-keys]
    approval: { roles: [sre], count: 2 }
  - roles: [sre]
    allow: ["*"]
`;

const RECORD = `#!/bin/sh
# Writes its argv, one NUL-terminated element each, so tests see exactly what arrived.
mkdir -p ./out
printf '%s\\0' "$@" > ./out/args
echo "recorded $# arguments"
`;

export const PROCEDURES: Record<string, string> = {
  'echo-args': `name: echo-args
description: Records its argument
owner: "@test"
environments: [staging]
params:
  msg: { type: string, max_length: 20000, required: true }
steps:
  - name: record
    run: ["./scripts/record.sh", "{{msg}}"]
`,
  guarded: `name: guarded
description: Appends a line to a marker file
owner: "@test"
environments: [staging, prod]
params:
  target: { type: enum, values: [a, b], required: true }
steps:
  - name: mark
    run: ["/bin/sh", "-c", "mkdir -p ./out && echo ran >> ./out/guarded-$0", "{{target}}"]
`,
  'two-keys': `name: two-keys
description: Needs two approvals
owner: "@test"
environments: [prod]
steps:
  - name: mark
    run: ["/bin/sh", "-c", "mkdir -p ./out && echo ran >> ./out/two-keys"]
`,
  slow: `name: slow
description: Sleeps
owner: "@test"
environments: [staging]
concurrency: "slow-{{env}}"
params:
  seconds: { type: int, min: 1, max: 60, default: 30 }
steps:
  - name: sleep
    run: ["/bin/sleep", "{{seconds}}"]
`,
  'short-fuse': `name: short-fuse
description: Outlives its whole-run timeout
owner: "@test"
environments: [staging]
timeout: 1s
steps:
  - name: sleep
    run: ["/bin/sleep", "30"]
`,
  'orphan-maker': `name: orphan-maker
description: Leaves a grandchild behind and waits
owner: "@test"
environments: [staging]
steps:
  - name: spawn
    run: ["/bin/sh", "-c", "mkdir -p ./out; sleep 300 & echo $! > ./out/grandchild; echo $$ > ./out/child; wait"]
`,
  leaky: `name: leaky
description: Prints its secret, which must never be seen
owner: "@test"
environments: [staging]
params:
  token: { type: secret, env: TEST_CANARY }
steps:
  - name: print
    run: ["/bin/sh", "-c", "echo token=$TOKEN; echo $TOKEN >&2"]
    env: { TOKEN: "{{token}}" }
`,
};

export interface RunFixture {
  app: App;
  dir: string;
  commandsDir: string;
  dbPath: string;
  now: { value: number };
  /** Re-reads the catalog from disk (as the watcher does after an edit). */
  reloadCatalog(): void;
  ctx(user: string, groups?: string[], channelId?: string | null): CommandContext;
  say(ctx: CommandContext, command: string, text: string): Promise<string>;
}

/** Writes the test policy and procedures into `dir`; returns their folders. */
export function writeRunCatalog(dir: string): { policiesDir: string; commandsDir: string } {
  const policiesDir = path.join(dir, 'policies');
  const commandsDir = path.join(dir, 'commands');
  mkdirSync(policiesDir, { recursive: true });
  mkdirSync(path.join(commandsDir, 'scripts'), { recursive: true });
  writeFileSync(path.join(policiesDir, 'test.yaml'), POLICY);
  for (const [name, text] of Object.entries(PROCEDURES)) writeFileSync(path.join(commandsDir, `${name}.yaml`), text);
  writeFileSync(path.join(commandsDir, 'scripts', 'record.sh'), RECORD);
  chmodSync(path.join(commandsDir, 'scripts', 'record.sh'), 0o755);
  return { policiesDir, commandsDir };
}

type FixtureOptions = { env?: Record<string, string>; realClock?: boolean };

export function makeRunFixture(dir: string, options: FixtureOptions = {}): RunFixture {
  return buildRunFixture(dir, options, (appOptions) => createApp(appOptions));
}

/** The run fixture on a backend of either kind, with its tables readable on both; `close()` ends it. */
export interface BackendRunFixture extends Omit<RunFixture, 'app'> {
  app: ComposedApp<Backend>;
  backend: TestBackend;
  query<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function makeRunFixtureOn(kind: BackendKind, dir: string, options: FixtureOptions = {}): Promise<BackendRunFixture> {
  const now = { value: Date.parse('2026-05-01T09:00:00.000Z') };
  const clock = options.realClock ? { now: () => Date.now() } : { now: () => now.value };
  const backend = await openTestBackend(kind, { file: path.join(dir, 'data', 'edgeops.db'), auditKey: 'a'.repeat(64), clock, label: 'runs' });
  const fixture = buildRunFixture(dir, options, (appOptions) => createApp({ ...appOptions, backend: backend.store }), now);
  return {
    ...fixture,
    backend,
    query: (sql, ...params) => backend.query(sql, ...params),
    async close() {
      fixture.app.close();
      await backend.close();
    },
  };
}

function buildRunFixture<A extends ComposedApp<Backend>>(
  dir: string,
  options: FixtureOptions,
  create: (appOptions: AppOptions & { backend?: undefined }) => A,
  now: { value: number } = { value: Date.parse('2026-05-01T09:00:00.000Z') },
): Omit<RunFixture, 'app'> & { app: A } {
  const { policiesDir, commandsDir } = writeRunCatalog(dir);

  const dbPath = path.join(dir, 'data', 'edgeops.db');
  let catalog: Catalog = bootCatalog({ policiesDir, commandsDir });
  const app = create({
    config: loadConfig({ EDGEOPS_DB: dbPath, EDGEOPS_POLICIES: policiesDir, EDGEOPS_COMMANDS: commandsDir }, { cwd: dir }),
    logger: createLogger({ level: 'silent' }),
    auditKey: 'a'.repeat(64),
    catalog: () => catalog,
    env: { PATH: process.env.PATH, ...options.env },
    exportsDir: path.join(dir, 'exports'),
    killGraceMs: 500,
    ...(options.realClock ? {} : { clock: { now: () => now.value } }),
  });
  return {
    app,
    dir,
    commandsDir,
    dbPath,
    now,
    reloadCatalog: () => {
      catalog = bootCatalog({ policiesDir, commandsDir });
    },
    ctx: (user, groups = [], channelId = 'C0GENERAL') => ({ actor: { id: user, groups }, source: 'console', channelId }),
    async say(ctx, command, text) {
      try {
        return consoleText((await app.handle(ctx, command, text)).text);
      } catch (err) {
        return `✗ ${(err as Error).name}: ${(err as Error).message}`;
      }
    },
  };
}
