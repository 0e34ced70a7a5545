// A PagerDuty-facing edgeops on loopback: temp catalog and database, the real HTTP server, signed webhook events.
import { createHmac, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHttpServer, listen } from '../../../src/adapters/http/http-server.js';
import { mountPagerduty, type MountedPagerduty, type MountPagerdutyOptions } from '../../../src/adapters/pagerduty/index.js';
import { createApp, type Backend, type ComposedApp, type ComposedApp as App } from '../../../src/app.js';
import { bootCatalog } from '../../../src/cli/bootstrap.js';
import { loadConfig, type Config } from '../../../src/config.js';
import { systemClock, type Clock } from '../../../src/core/ports.js';
import { createLogger } from '../../../src/log.js';
import type { Store } from '../../../src/storage/store.js';
import { openTestBackend, type BackendKind, type TestBackend } from '../../helpers/backends.js';
import type { TestDatabase } from '../../helpers/postgres.js';

export const SECRET = 'pd-test-secret-0123456789abcdef';
export const OLD_SECRET = 'pd-old-secret-fedcba9876543210';
export const PD_API = 'http://pagerduty.test';
export const FROM = 'edgeops-bot@example.com';
export const TOKEN = 'pd-test-token-u+abcdef';
export const SRE = 'U0SRE0001';

export const POLICY = `version: 1
roles:
  sre: { users: [${SRE}] }
  pagerduty: { pagerduty_services: ["*"] }
rules:
  - roles: ["*"]
    allow: [incident.declare, incident.update, incident.note, runbook.list]
  - roles: [pagerduty]
    allow: [run]
    procedures: ["diag-*"]
    environments: ["*"]
  - roles: [sre]
    allow: ["*"]
`;

/** A trivial diagnostic: appends the PagerDuty incident and a label to ./out/ran, so each execution is counted. */
export const DIAG_ECHO = `name: diag-echo
description: Records that it ran, for which PagerDuty incident
owner: "@test"
environments: [staging, prod]
concurrency: "diag-echo-{{incident.pagerduty_id}}-{{label}}"
params:
  label: { type: string, pattern: "[a-z-]{1,20}", required: true }
steps:
  - name: record
    run: ["/bin/sh", "-c", "mkdir -p ./out && echo \\"$1 $2\\" >> ./out/ran && echo \\"checked $1\\"", "sh", "{{incident.pagerduty_id}}", "{{label}}"]
triggers:
  - pagerduty: { event: incident.triggered, service: "Checkout*" }
    env: staging
    with: { label: triggered }
  - pagerduty: { event: incident.acknowledged, service: "PCHK*" }
    with: { label: acked }
`;

/** Never allowed to PagerDuty by the policy: its trigger is refused, and recorded so. */
export const RESTART_ALL = `name: restart-all
description: Restarts everything (not for automation)
owner: "@test"
environments: [prod]
steps:
  - name: restart
    run: ["/bin/sh", "-c", "mkdir -p ./out && echo restarted >> ./out/restarted"]
triggers:
  - pagerduty: { event: incident.triggered, service: "Refused*" }
`;

export const sign = (body: string | Buffer, secret: string = SECRET): string => `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;

export interface ServiceRef {
  id: string;
  name: string;
}

export const CHECKOUT: ServiceRef = { id: 'PCHK001', name: 'Checkout API' };
export const SEARCH: ServiceRef = { id: 'PSRCH01', name: 'Search' };

export interface IncidentOptions {
  title?: string;
  service?: ServiceRef;
  urgency?: 'high' | 'low';
  priority?: string | null;
  status?: string;
  assignees?: string[];
}

export function incidentData(pdId: string, o: IncidentOptions = {}): Record<string, unknown> {
  const service = o.service ?? CHECKOUT;
  return {
    id: pdId,
    type: 'incident',
    self: `https://api.pagerduty.com/incidents/${pdId}`,
    html_url: `https://acme.pagerduty.com/incidents/${pdId}`,
    number: 1,
    status: o.status ?? 'triggered',
    title: o.title ?? `Errors on ${service.name}`,
    service: { id: service.id, summary: service.name, type: 'service_reference', html_url: `https://acme.pagerduty.com/services/${service.id}` },
    assignees: (o.assignees ?? ['Ada Oncall']).map((name, i) => ({ id: `PUSR${i}`, summary: name, type: 'user_reference' })),
    escalation_policy: { id: 'PEP0001', summary: 'Checkout EP', type: 'escalation_policy_reference' },
    priority: o.priority === null || o.priority === undefined ? null : { id: 'PPRI01', summary: o.priority, type: 'priority_reference' },
    urgency: o.urgency ?? 'high',
    resolve_reason: null,
  };
}

export interface EventOptions {
  id?: string;
  agent?: string | null;
  agentId?: string;
}

/** A V3 webhook body (serialised once: these exact bytes are signed and sent). */
export function eventBody(type: string, data: Record<string, unknown> | null, o: EventOptions = {}): string {
  const agent =
    o.agent === null
      ? null
      : { id: o.agentId ?? 'PAGENT1', summary: o.agent ?? 'Ada Oncall', type: 'user_reference', html_url: 'https://acme.pagerduty.com/users/PAGENT1' };
  return JSON.stringify({
    event: {
      id: o.id ?? randomUUID(),
      event_type: type,
      resource_type: type.startsWith('incident') ? 'incident' : 'pagey',
      occurred_at: '2026-05-01T09:00:00.000Z',
      agent,
      client: null,
      data,
    },
  });
}

export const triggeredBody = (pdId: string, o: IncidentOptions & EventOptions = {}): string => eventBody('incident.triggered', incidentData(pdId, o), o);

export interface Reply {
  status: number;
  body: string;
}

/** Keep-alive for bursts, as PagerDuty's senders reuse connections. */
const agent = new Agent({ keepAlive: true, maxSockets: 32 });

export function post(url: string, body: string | Buffer, headers: Record<string, string | string[]>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.setHeader('content-type', 'application/json');
    req.setHeader('content-length', Buffer.byteLength(body));
    req.end(body);
  });
}

export interface HarnessOptions {
  /** Reuse a folder (and its database) from an earlier harness: a restart. */
  dir?: string;
  secrets?: string;
  /** Configure PAGERDUTY_API_TOKEN (writes go to PD_API). */
  token?: boolean;
  from?: boolean;
  /** Start the worker and the delivery (default true). */
  start?: boolean;
  procedures?: Record<string, string>;
  mount?: MountPagerdutyOptions;
  /** Extra environment (Slack settings). */
  env?: Record<string, string>;
  /** Build on this backend, a fresh one (a new PostgreSQL database); unset: the SQLite file, opened by the app. */
  backend?: BackendKind;
  /** On PostgreSQL, this database (written by an earlier process) instead of a new one; dropped by `close()`. */
  database?: TestDatabase;
  /** The app's and the store's clock; real time by default. */
  clock?: Clock;
}

export interface Harness<B extends Backend = Store> {
  app: ComposedApp<B>;
  config: Config;
  pd: MountedPagerduty;
  server: Server;
  dir: string;
  /** `http://127.0.0.1:PORT/webhooks/pagerduty` */
  webhookUrl: string;
  /** Sends a body signed with the configured secret. */
  deliver(body: string, headers?: Record<string, string>): Promise<Reply>;
  /** Lines ./out/ran got from the diagnostic (one per execution). */
  ran(): string[];
  /** Everything processed and every run ended. */
  settle(): Promise<void>;
  /** Rows of one statement (`?` placeholders), on whichever backend the harness runs. */
  query<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** Stops the server and PagerDuty parts and closes the database; keeps the folder. */
  stop(): Promise<void>;
  /** stop(), and removes the folder. */
  close(): Promise<void>;
}

export function writeCatalog(dir: string, procedures: Record<string, string> = { 'diag-echo': DIAG_ECHO }): void {
  mkdirSync(path.join(dir, 'policies'), { recursive: true });
  mkdirSync(path.join(dir, 'commands', 'scripts'), { recursive: true });
  writeFileSync(path.join(dir, 'policies', 'default.yaml'), POLICY);
  for (const [name, text] of Object.entries(procedures)) writeFileSync(path.join(dir, 'commands', `${name}.yaml`), text);
  writeFileSync(path.join(dir, 'commands', 'scripts', 'noop.sh'), '#!/bin/sh\nexit 0\n');
  chmodSync(path.join(dir, 'commands', 'scripts', 'noop.sh'), 0o755);
}

export function harnessEnv(dir: string, options: Pick<HarnessOptions, 'secrets' | 'token' | 'from' | 'env'> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
    EDGEOPS_POLICIES: path.join(dir, 'policies'),
    EDGEOPS_COMMANDS: path.join(dir, 'commands'),
    EDGEOPS_AUDIT_KEY: 'k'.repeat(64),
    PAGERDUTY_WEBHOOK_SECRETS: options.secrets ?? `${SECRET},${OLD_SECRET}`,
    PAGERDUTY_API_URL: PD_API,
    ...(options.token ? { PAGERDUTY_API_TOKEN: TOKEN } : {}),
    ...(options.from !== false ? { PAGERDUTY_FROM: FROM } : {}),
    ...options.env,
  };
}

export async function startHarness(options?: HarnessOptions & { backend?: undefined }): Promise<Harness>;
export async function startHarness(options: HarnessOptions & { backend: BackendKind }): Promise<Harness<Backend>>;
export async function startHarness(options: HarnessOptions = {}): Promise<Harness<Backend>> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'edgeops-pd-'));
  if (!options.dir) writeCatalog(dir, options.procedures);
  const config = loadConfig(harnessEnv(dir, options), { cwd: dir });
  const catalog = bootCatalog(config);
  const logger = createLogger({ level: process.env.EDGEOPS_TEST_LOG ?? 'silent', destination: process.stderr });
  const clock = options.clock ?? systemClock;
  const appOptions = { config, logger, auditKey: config.auditKey!, catalog: () => catalog, env: { PATH: process.env.PATH }, killGraceMs: 500, clock };
  const backend: TestBackend | undefined = options.backend
    ? await openTestBackend(options.backend, {
        file: config.dbPath,
        auditKey: config.auditKey!,
        clock,
        label: 'pd',
        ...(options.database ? { database: options.database } : {}),
      })
    : undefined;
  const app: ComposedApp<Backend> = backend ? createApp({ ...appOptions, backend: backend.store }) : createApp(appOptions);
  await app.runs.recoverInterrupted();
  const pd = mountPagerduty(app, config, logger, { delivery: { perChannelIntervalMs: 0, idlePollMs: 50 }, workerIdlePollMs: 50, ...options.mount });
  const server = createHttpServer({ routes: pd.routes, logger });
  const base = await listen(server, 0, '127.0.0.1');
  if (options.start !== false) pd.start();
  const webhookUrl = `${base}/webhooks/pagerduty`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await pd.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await app.runs.idle();
    app.close();
    await backend?.close();
  };
  return {
    app,
    config,
    pd,
    server,
    dir,
    webhookUrl,
    deliver: (body, headers = {}) => post(webhookUrl, body, { 'x-pagerduty-signature': sign(body), ...headers }),
    ran() {
      try {
        return readLines(path.join(dir, 'commands', 'out', 'ran'));
      } catch {
        return [];
      }
    },
    async settle() {
      for (let i = 0; i < 50; i += 1) {
        await pd.processed();
        await app.runs.idle();
        const counts = await app.store.pagerdutyEvents.countByState();
        if (counts.pending === 0 && counts.applied === 0) {
          await pd.processed();
          await app.runs.idle();
          return;
        }
      }
      throw new Error('PagerDuty events did not settle');
    },
    query: <T>(sql: string, ...params: unknown[]): Promise<T[]> =>
      backend ? backend.query<T>(sql, ...params) : Promise.resolve(app.store.kind === 'sqlite' ? (app.store.db.prepare(sql).all(...params) as T[]) : []),
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** Rows of a table, for assertions. */
export function rows<T>(app: App, sql: string, ...params: unknown[]): T[] {
  return app.store.db.prepare(sql).all(...params) as T[];
}
