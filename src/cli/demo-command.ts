// `edgeops demo` (`npm run demo`): a scripted incident in local mode, from a signed PagerDuty webhook over loopback HTTP to the postmortem.
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createConsoleSession, type ConsoleSession } from '../adapters/console/console-session.js';
import { createHttpServer, listen, type RouteHandler } from '../adapters/http/http-server.js';
import { mountPlatform, type Platform } from '../adapters/http/platform-routes.js';
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

/** The PagerDuty incident that opens the story; its id is drawn per run, so a reused EDGEOPS_DB opens a new incident too. */
export const DEMO_PAGE = {
  title: 'Checkout errors after deploy',
  priority: 'P2',
  urgency: 'high',
  service: { id: 'PCHKOUT', name: DEMO_TARGET.service },
} as const;

const DEMO_SCRIPT = './scripts/demo-service.sh';
const WEBHOOK_PATH = '/webhooks/pagerduty';
/** Longer than processing's retries of a failing event (1 + 2 + 4 + 8 s) take to give up on it. */
const PAGERDUTY_DEADLINE_MS = 20_000;

export interface WebhookReply {
  status: number;
  body: string;
}

/** What the acts of the story share: the app, the console session, and what earlier acts found out. */
export interface DemoStage {
  app: App;
  /** A line of narration between the typed commands. */
  say(text: string): void;
  /** Types lines into the console, each printed after the prompt as a terminal would show it. */
  type(...lines: string[]): Promise<void>;
  /**
   * Sends a PagerDuty webhook body to the demo's HTTP server, signed as PagerDuty signs it with the
   * demo's webhook secret, and prints the request and the answer. Channel posts its processing
   * makes print after the answer, as the sender sees its 202 first.
   */
  sendWebhook(body: string, summary: string): Promise<WebhookReply>;
  /** Waits until stored PagerDuty events are processed and every run started so far has ended, then prints what they posted. */
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

/** A PagerDuty Webhooks V3 `incident.triggered` body, serialised once: these exact bytes are signed and sent. */
export function triggeredEventBody(pdIncidentId: string, eventId: string, occurredAt: string): string {
  const { service } = DEMO_PAGE;
  const serviceRef = {
    id: service.id,
    summary: service.name,
    type: 'service_reference',
    html_url: `https://example.pagerduty.com/services/${service.id}`,
  };
  return JSON.stringify({
    event: {
      id: eventId,
      event_type: 'incident.triggered',
      resource_type: 'incident',
      occurred_at: occurredAt,
      agent: serviceRef,
      client: null,
      data: {
        id: pdIncidentId,
        type: 'incident',
        self: `https://api.pagerduty.com/incidents/${pdIncidentId}`,
        html_url: `https://example.pagerduty.com/incidents/${pdIncidentId}`,
        number: 1,
        status: 'triggered',
        title: DEMO_PAGE.title,
        service: serviceRef,
        assignees: [{ id: 'PUSR001', summary: 'Checkout on-call', type: 'user_reference' }],
        escalation_policy: { id: 'PEPCHK1', summary: 'Checkout', type: 'escalation_policy_reference' },
        priority: { id: 'PPRIO02', summary: DEMO_PAGE.priority, type: 'priority_reference' },
        urgency: DEMO_PAGE.urgency,
        resolve_reason: null,
      },
    },
  });
}

/** Whatever opens the incident comes first; here PagerDuty does, as in production. */
export const pagerdutyAct: DemoAct = {
  title: 'PagerDuty pages: a signed incident.triggered arrives over HTTP',
  async play(stage) {
    const pdId = `P${randomBytes(3).toString('hex').toUpperCase()}`;
    const body = triggeredEventBody(pdId, randomUUID(), new Date(stage.app.clock.now()).toISOString());
    const { service, priority, urgency, title } = DEMO_PAGE;
    const reply = await stage.sendWebhook(body, `incident.triggered ${pdId} "${title}" (${priority}, ${urgency} urgency) on service ${service.name}`);
    check(reply.status === 202, `the webhook was answered ${reply.status}, not 202: ${reply.body}`);
    await stage.settle();

    stage.incident = await stage.app.pagerduty.incidentFor(pdId);
    check(stage.incident, `no incident was opened for PagerDuty incident ${pdId}`);
    check(stage.incident.pagerdutyUrl, `${stage.incident.id} has no link to PagerDuty`);
    const triggered = (await stage.app.runs.forIncident(stage.incident.id)).filter((r) => r.source === 'pagerduty');
    check(triggered.length > 0, `PagerDuty's event started no diagnostic in ${stage.incident.id}`);
    for (const run of triggered) check(run.state === 'succeeded', `${run.id} ${run.procedure} ended ${run.state}${run.error ? `: ${run.error}` : ''}`);
    const { id, severity, pagerdutyUrl } = stage.incident;
    const runs = triggered.map((r) => `${r.id} ${r.procedure}`).join(', ');
    stage.say(
      `${id} was opened from PagerDuty ${pdId} (${pagerdutyUrl}), SEV${severity} from priority ${priority}; its trigger ran ${runs} as ${triggered[0]!.requestedBy}.`,
    );
    stage.say(
      `No PagerDuty API token in the demo, so nothing is written back to PagerDuty: ${triggered.length === 1 ? 'that result is' : 'those results are'} not added to ${pdId} as a note, and the ack and resolve below are not mirrored.`,
    );
  },
};

export const STORY: DemoAct[] = [
  pagerdutyAct,
  {
    title: 'The on-call SRE joins the incident channel, acknowledges and takes command',
    async play(stage) {
      const { id } = stage.incident!;
      const sre = DEMO_CAST.sre.id;
      await stage.type(userLine(DEMO_CAST.sre), `/channel ${id}`, '/incident ack', `/incident role commander @${sre}`);
      const incident = await stage.app.incidents.get(id);
      check(incident.acknowledgedAt !== null, `${id} was not acknowledged`);
      check(incident.roles.commander === sre, `${sre} is not the commander of ${id}`);
    },
  },
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
      stage.restart = (await stage.app.runs.forIncident(stage.incident!.id))
        .filter((r) => r.procedure === 'restart-service' && r.state === 'pending_approval' && r.requestedBy === DEMO_CAST.developer.id)
        .at(-1);
      check(stage.restart, 'the restart was not held for approval');
      stage.say('The developer tries to approve their own request:');
      await stage.type(`/runbook approve ${stage.restart.id}`);
      check((await stage.app.runs.get(stage.restart.id)).state === 'pending_approval', `${stage.restart.id} left pending_approval without an approver`);
    },
  },
  {
    title: 'The SRE approves; the restart runs',
    async play(stage) {
      const id = stage.restart!.id;
      await stage.type(userLine(DEMO_CAST.sre), `/runbook approve ${id}`);
      await stage.settle();
      const run = await stage.app.runs.get(id);
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
      check((await stage.app.incidents.get(stage.incident!.id)).status === 'resolved', `${stage.incident!.id} is not resolved`);
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

/** Resolves true once no stored PagerDuty event waits for processing (checked each time processing queues messages), false at the deadline. */
async function pagerdutyProcessed(app: App, deadlineMs: number): Promise<boolean> {
  const done = async (): Promise<boolean> => (await app.pagerduty.unfinished()) === 0;
  if (await done()) return true;
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), deadlineMs);
    const unsubscribe = app.onMessages(() => {
      done().then(
        (ok) => {
          if (ok) finish(true);
        },
        () => undefined,
      );
    });
  });
}

/** One POST on its own connection (closed after the answer), as PagerDuty's sender makes it. */
function post(url: string, body: string, headers: Record<string, string>): Promise<WebhookReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const demoCommand: Subcommand = async (argv, io) => {
  if (argv.length > 0) {
    write(io.stderr, `edgeops demo: takes no arguments (got ${argv.join(' ')}); EDGEOPS_DB and EDGEOPS_DEMO_STATE choose where it keeps things`);
    return 1;
  }
  const root = packageRoot();
  const tempDir = (label: string): string => mkdtempSync(path.join(tmpdir(), `edgeops-demo-${label}-`));
  // A fresh database each time (unless asked for one): INC-1 and R-1 in the story are then really the first.
  const dbPath = io.env.EDGEOPS_DB || path.join(tempDir('db'), 'edgeops.db');
  // The demo never talks to Slack or PagerDuty: their settings in the shell must neither turn it away nor be used.
  const env = Object.fromEntries(Object.entries(io.env).filter(([name]) => !/^(SLACK|PAGERDUTY)_/.test(name)));
  // Drawn per run and never shown: the demo's own webhook sender is the only one that can sign for it.
  const webhookSecret = randomBytes(32).toString('hex');
  const demoEnv = (publicUrl?: string) => ({
    ...env,
    EDGEOPS_DB: dbPath,
    EDGEOPS_POLICIES: path.join(root, 'policies'),
    EDGEOPS_COMMANDS: path.join(root, 'commands'),
    // Loopback on a free port: the demo must not clash with a running edgeops, nor listen beyond this machine.
    HOST: '127.0.0.1',
    PORT: '0',
    PAGERDUTY_WEBHOOK_SECRETS: webhookSecret,
    ...(publicUrl ? { EDGEOPS_PUBLIC_URL: publicUrl } : {}),
  });
  const preliminary = bootConfig({ ...io, env: demoEnv() });
  const { key } = resolveAuditKey({ fromEnv: preliminary.auditKey, dataDir: preliminary.dataDir, generate: true });
  const { logger, logFile } = bootLogger(preliminary, 'file', key, io.env);
  const shipped = bootCatalog(preliminary);

  const print = (text: string): void => write(io.stdout, text);
  const givenState = io.env.EDGEOPS_DEMO_STATE;
  const stateDir = givenState || tempDir('service');
  const runner = createProcessStepRunner({ commandsDir: preliminary.commandsDir, baseEnv: io.env });
  const service = (action: 'start' | 'stop') =>
    runner({ argv: [DEMO_SCRIPT, action, '--', DEMO_TARGET.service, DEMO_TARGET.instance], env: { EDGEOPS_DEMO_STATE: stateDir }, timeoutMs: 30_000 });
  let started = false;
  // Ctrl-C mid-story must not leave the demo service running in the background.
  const interrupted = (): void => {
    if (started) {
      spawnSync(path.join(preliminary.commandsDir, DEMO_SCRIPT), ['stop', '--', DEMO_TARGET.service, DEMO_TARGET.instance], {
        cwd: preliminary.commandsDir,
        env: { PATH: io.env.PATH, EDGEOPS_DEMO_STATE: stateDir },
        stdio: 'ignore',
      });
    }
    if (!givenState) rmSync(stateDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  // The server listens before the app exists, so the links the bot posts name its real port; the
  // route table is read per request, and the platform's routes join it before any request is sent.
  const routes: Record<string, RouteHandler> = {};
  let platform: Platform | undefined;
  const server: Server = createHttpServer({
    routes,
    logger,
    onResponse: (route, method, status, seconds) => platform?.metrics.observeResponse(route, method, status, seconds),
  });
  let app: App | undefined;
  let session: ConsoleSession | undefined;
  try {
    let httpUrl: string;
    try {
      httpUrl = await listen(server, preliminary.port, preliminary.host);
    } catch (err) {
      write(io.stderr, `edgeops demo: cannot listen on ${preliminary.host}: ${(err as Error).message}`);
      return 1;
    }
    const config = bootConfig({ ...io, env: demoEnv(httpUrl) });
    const catalog = withDemoState(shipped, stateDir);
    app = createApp({ config, logger, auditKey: key, catalog: () => catalog, env: io.env, exportsDir: path.resolve(io.cwd, 'exports') });
    await app.runs.recoverInterrupted();
    // Health, metrics, run output and PagerDuty webhooks, as `edgeops serve` mounts them in local mode.
    platform = mountPlatform(app, { auditKey: key });
    Object.assign(routes, platform.routes);
    platform.start();
    print(
      [
        'edgeops demo — a scripted incident in LOCAL MODE: PagerDuty calls the HTTP server; people type into the console that stands in for Slack.',
        `  database      ${config.dbPath}`,
        `  policies      ${config.policiesDir}`,
        `  procedures    ${config.commandsDir}`,
        `  http          ${httpUrl} (PagerDuty webhooks, /healthz, run output links; up while the demo runs)`,
        `  logs          ${logFile}`,
        `  demo service  ${stateDir}`,
        '',
      ].join('\n'),
    );
    started = true;
    const up = await service('start');
    print(`The stand-in for production: ${up.output.trim()}`);
    check(up.outcome === 'succeeded', `the demo service did not start: ${up.error ?? up.outcome}`);

    const staged = createStage(app, print, { url: `${httpUrl}${WEBHOOK_PATH}`, secret: webhookSecret });
    session = staged.session;
    for (const [index, act] of STORY.entries()) {
      print(`\n── ${index + 1}. ${act.title} ──`);
      await act.play(staged.stage);
    }
    const incident = staged.stage.incident!;
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
    await platform?.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await app?.runs.idle();
    if (started) {
      const down = await service('stop');
      print(`\nDemo service: ${down.output.trim() || down.error}`);
    }
    // Posts of the last runs print from setImmediate callbacks: let them run while the database is open.
    await new Promise((resolve) => setImmediate(resolve));
    session?.close();
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    app?.close();
    // The database stays, for `edgeops audit verify` and `edgeops export`; the service's pidfile and log go.
    if (!givenState) rmSync(stateDir, { recursive: true, force: true });
  }
};

function createStage(app: App, print: (text: string) => void, webhook: { url: string; secret: string }): { stage: DemoStage; session: ConsoleSession } {
  // While a webhook is in flight, what the console would print waits for its answer.
  let held: string[] | null = null;
  const session = createConsoleSession(app, {
    actor: DEMO_CAST.sre,
    write: (text) => (held ? held.push(text) : print(text)),
  });
  const stage: DemoStage = {
    app,
    say: print,
    async type(...lines) {
      for (const line of lines) {
        print(`${session.prompt()}${line}`);
        await session.handleLine(line);
      }
    },
    async sendWebhook(body, summary) {
      const signature = `v1=${createHmac('sha256', webhook.secret).update(body).digest('hex')}`;
      print(
        [
          `PagerDuty → POST ${webhook.url}`,
          `    ${summary}`,
          `    X-PagerDuty-Signature: ${signature.slice(0, 15)}…  (HMAC-SHA256 of the body with the demo's webhook secret)`,
        ].join('\n'),
      );
      held = [];
      const headers = { 'x-pagerduty-signature': signature, 'x-webhook-id': randomUUID(), 'user-agent': 'PagerDuty-Webhook/V3.0' };
      const reply = await post(webhook.url, body, headers).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
      const waiting = held;
      held = null;
      if (reply instanceof Error) throw new DemoStoryError(`the webhook could not be sent to ${webhook.url}: ${reply.message}`);
      print(`  ← ${reply.status} ${reply.body}`);
      for (const text of waiting) print(text);
      return reply;
    },
    async settle() {
      check(
        await pagerdutyProcessed(app, PAGERDUTY_DEADLINE_MS),
        `PagerDuty events were still unprocessed after ${PAGERDUTY_DEADLINE_MS / 1000} s; the log has why`,
      );
      await app.runs.idle();
      await session.flush();
    },
  };
  return { stage, session };
}
