// `edgeops demo` (`npm run demo`): a scripted incident in local mode, typed into the same console session users get.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createConsoleSession, type ConsoleSession } from '../adapters/console/console-session.js';
import { createProcessStepRunner } from '../adapters/steps/process-step.js';
import { createApp, type App } from '../app.js';
import { resolveAuditKey } from '../audit-key.js';
import type { Catalog } from '../catalog/load-catalog.js';
import type { Incident } from '../core/incidents/incident.js';
import type { Actor } from '../core/ports.js';
import type { Run } from '../core/runs/run.js';
import { packageRoot } from '../paths.js';
import { bootCatalog, bootConfig, bootLogger } from './bootstrap.js';
import { write, type Subcommand } from './cli-io.js';

/** The people in the story; the shipped policy (policies/default.yaml) gives them their roles. */
export const DEMO_CAST = {
  sre: { id: 'U01SRE0001', groups: [] } satisfies Actor,
  developer: { id: 'U0DEV0001', groups: ['S03DEVS'] } satisfies Actor,
};

/** The demo service instance the story diagnoses and restarts (commands/scripts/demo-service.sh). */
export const DEMO_TARGET = { service: 'checkout', instance: 'web-01' } as const;

const DEMO_SCRIPT = './scripts/demo-service.sh';

/** What the acts of the story share: the app, the console session, and what earlier acts found out. */
export interface DemoStage {
  app: App;
  /** A line of narration between the typed commands. */
  say(text: string): void;
  /** Types lines into the console, each printed after the prompt as a terminal would show it. */
  type(...lines: string[]): Promise<void>;
  /** Waits until every run started so far has ended, then prints what they posted. */
  settle(): Promise<void>;
  /** The incident of the story, once the opening act has opened it. */
  incident?: Incident;
  /** The run waiting for approval, once requested. */
  restart?: Run;
}

export interface DemoAct {
  title: string;
  play(stage: DemoStage): Promise<void>;
}

/** A part of the story did not go as scripted; the output above it shows why. */
class DemoStoryError extends Error {}

function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new DemoStoryError(message);
}

const userLine = (actor: Actor): string => `/as ${actor.id}${actor.groups.length > 0 ? ` ${actor.groups.join(',')}` : ''}`;

/** Whatever opens the incident comes first, so another opening (a PagerDuty trigger) can take this place. */
export const declareAct: DemoAct = {
  title: 'The on-call SRE declares an incident',
  async play(stage) {
    const before = new Set(stage.app.incidents.listOpen().map((i) => i.id));
    await stage.type(userLine(DEMO_CAST.sre), '/incident declare Checkout errors after deploy sev=2 service=checkout', '/incident ack');
    stage.incident = stage.app.incidents.listOpen().find((i) => !before.has(i.id));
    check(stage.incident, 'the incident was not declared');
  },
};

export const STORY: DemoAct[] = [
  declareAct,
  {
    title: 'A developer looks at the instance’s log: diagnostics are self-service',
    async play(stage) {
      const { service, instance } = DEMO_TARGET;
      await stage.type(userLine(DEMO_CAST.developer), `/runbook run diag-logs service=${service} instance=${instance} lines=5 env=prod`);
      await stage.settle();
      await stage.type('/incident note web-01 serves errors since the deploy; a restart should clear its bad cache');
    },
  },
  {
    title: 'The developer asks to restart the instance in prod, which needs an SRE’s approval',
    async play(stage) {
      const { service, instance } = DEMO_TARGET;
      await stage.type(`/runbook run restart-service service=${service} instance=${instance} env=prod reason="bad cache after deploy"`);
      stage.restart = stage.app.runs
        .forIncident(stage.incident!.id)
        .filter((r) => r.procedure === 'restart-service' && r.state === 'pending_approval' && r.requestedBy === DEMO_CAST.developer.id)
        .at(-1);
      check(stage.restart, 'the restart was not held for approval');
      stage.say('The developer tries to approve their own request:');
      await stage.type(`/runbook approve ${stage.restart.id}`);
      check(stage.app.runs.get(stage.restart.id).state === 'pending_approval', `${stage.restart.id} left pending_approval without an approver`);
    },
  },
  {
    title: 'The SRE approves; the restart runs',
    async play(stage) {
      const id = stage.restart!.id;
      await stage.type(userLine(DEMO_CAST.sre), `/runbook approve ${id}`);
      await stage.settle();
      const run = stage.app.runs.get(id);
      check(run.state === 'succeeded', `${id} restart-service ended ${run.state}${run.error ? `: ${run.error}` : ''}`);
    },
  },
  {
    title: 'The SRE updates and resolves the incident, then exports the postmortem',
    async play(stage) {
      await stage.type(
        '/incident update "web-01 restarted and healthy; error rate back to baseline" status=monitoring',
        '/incident resolve Restarted checkout web-01 to clear a bad cache left by the deploy',
        '/incident timeline limit=500',
        '/incident export',
      );
      check(stage.app.incidents.get(stage.incident!.id).status === 'resolved', `${stage.incident!.id} is not resolved`);
    },
  },
];

/** The shipped procedures with the demo service's state folder in every step's environment, as steps see nothing else of ours. */
function withDemoState(catalog: Catalog, stateDir: string): Catalog {
  const procedures = new Map(
    [...catalog.procedures].map(([name, procedure]) => [
      name,
      { ...procedure, steps: procedure.steps.map((step) => (step.run ? { ...step, env: { ...step.env, EDGEOPS_DEMO_STATE: stateDir } } : step)) },
    ]),
  );
  return { ...catalog, procedures };
}

const relativeToCwd = (cwd: string, file: string): string => {
  const rel = path.relative(cwd, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : `./${rel}`;
};

export const demoCommand: Subcommand = async (argv, io) => {
  if (argv.length > 0) {
    write(io.stderr, `edgeops demo: takes no arguments (got ${argv.join(' ')}); EDGEOPS_DB and EDGEOPS_DEMO_STATE choose where it keeps things`);
    return 1;
  }
  const root = packageRoot();
  const tempDir = (label: string): string => mkdtempSync(path.join(tmpdir(), `edgeops-demo-${label}-`));
  // A fresh database each time (unless asked for one): INC-1 and R-1 in the story are then really the first.
  const dbPath = io.env.EDGEOPS_DB || path.join(tempDir('db'), 'edgeops.db');
  // The demo never talks to Slack; a Slack setup in the shell must not turn it away.
  const env = Object.fromEntries(Object.entries(io.env).filter(([name]) => !name.startsWith('SLACK_')));
  const config = bootConfig({
    ...io,
    env: { ...env, EDGEOPS_DB: dbPath, EDGEOPS_POLICIES: path.join(root, 'policies'), EDGEOPS_COMMANDS: path.join(root, 'commands') },
  });
  const { logger, logFile } = bootLogger(config, 'file');
  const { key } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: config.dataDir, generate: true });
  const shipped = bootCatalog(config);

  const print = (text: string): void => write(io.stdout, text);
  const givenState = io.env.EDGEOPS_DEMO_STATE;
  const stateDir = givenState || tempDir('service');
  const runner = createProcessStepRunner({ commandsDir: config.commandsDir, baseEnv: io.env });
  const service = (action: 'start' | 'stop') =>
    runner({ argv: [DEMO_SCRIPT, action, '--', DEMO_TARGET.service, DEMO_TARGET.instance], env: { EDGEOPS_DEMO_STATE: stateDir }, timeoutMs: 30_000 });
  let started = false;
  // Ctrl-C mid-story must not leave the demo service running in the background.
  const interrupted = (): void => {
    if (started) {
      spawnSync(path.join(config.commandsDir, DEMO_SCRIPT), ['stop', '--', DEMO_TARGET.service, DEMO_TARGET.instance], {
        cwd: config.commandsDir,
        env: { PATH: io.env.PATH, EDGEOPS_DEMO_STATE: stateDir },
        stdio: 'ignore',
      });
    }
    if (!givenState) rmSync(stateDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  let app: App | undefined;
  try {
    const catalog = withDemoState(shipped, stateDir);
    app = createApp({ config, logger, auditKey: key, catalog: () => catalog, env: io.env, exportsDir: path.resolve(io.cwd, 'exports') });
    app.runs.recoverInterrupted();
    print(
      [
        'edgeops demo — a scripted incident in LOCAL MODE, typed into the console that stands in for Slack.',
        `  database      ${config.dbPath}`,
        `  policies      ${config.policiesDir}`,
        `  procedures    ${config.commandsDir}`,
        `  logs          ${logFile}`,
        `  demo service  ${stateDir}`,
        '',
      ].join('\n'),
    );
    started = true;
    const up = await service('start');
    print(`The stand-in for production: ${up.output.trim()}`);
    check(up.outcome === 'succeeded', `the demo service did not start: ${up.error ?? up.outcome}`);

    const stage = createStage(app, createConsoleSession(app, { actor: DEMO_CAST.sre, write: print }), print);
    for (const [index, act] of STORY.entries()) {
      print(`\n── ${index + 1}. ${act.title} ──`);
      await act.play(stage);
    }
    const incident = stage.incident!;
    const exported = path.resolve(io.cwd, 'exports', `${incident.id}.md`);
    print(
      [
        '',
        `${incident.id} resolved. Postmortem: ${relativeToCwd(io.cwd, exported)}`,
        `Audit log: ${config.dbPath} — check it with: edgeops audit verify --db ${config.dbPath}`,
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    if (!(err instanceof DemoStoryError)) throw err;
    write(io.stderr, `edgeops demo: ${err.message}`);
    return 1;
  } finally {
    await app?.runs.idle();
    if (started) {
      const down = await service('stop');
      print(`\nDemo service: ${down.output.trim() || down.error}`);
    }
    // Posts of the last runs print from setImmediate callbacks: let them run while the database is open.
    await new Promise((resolve) => setImmediate(resolve));
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    app?.close();
    // The database stays, for `edgeops audit verify` and `edgeops export`; the service's pidfile and log go.
    if (!givenState) rmSync(stateDir, { recursive: true, force: true });
  }
};

function createStage(app: App, session: ConsoleSession, print: (text: string) => void): DemoStage {
  return {
    app,
    say: print,
    async type(...lines) {
      for (const line of lines) {
        print(`${session.prompt()}${line}`);
        await session.handleLine(line);
      }
    },
    async settle() {
      await app.runs.idle();
      session.flush();
    },
  };
}
