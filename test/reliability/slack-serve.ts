// edgeops in Slack mode composed as `edgeops serve` composes it (Slack receiver + health, metrics, output links, PagerDuty webhooks), on loopback, its log captured.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { mountPlatform, type Platform } from '../../src/adapters/http/platform-routes.js';
import { startSlackServer, type SlackServer } from '../../src/adapters/slack/slack-server.js';
import { createApp, type AppOptions, type Backend, type ComposedApp } from '../../src/app.js';
import { bootCatalog, watchAppCatalog } from '../../src/cli/bootstrap.js';
import type { CatalogWatcher } from '../../src/catalog/catalog-watcher.js';
import { systemClock, type Clock } from '../../src/core/ports.js';
import { botCredentials, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { verifyPostgresDatabase } from '../../src/storage/postgres/verify-postgres-database.js';
import type { Store } from '../../src/storage/store.js';
import { verifyAuditDatabase, type DatabaseVerdict } from '../../src/storage/verify-audit-database.js';
import { openTestBackend, type BackendKind, type TestBackend } from '../helpers/backends.js';
import { FakeSlack, SLACK_API_URL } from '../fixtures/slack/fake-slack.js';
import { SIGNING_SECRET } from '../fixtures/slack/slack-harness.js';

export const PAGERDUTY_SECRET = 'pd-reliability-secret-0123456789abcdef';
export const PAGERDUTY_OLD_SECRET = 'pd-reliability-old-secret-fedcba98765';
export const AUDIT_KEY = 'r'.repeat(64);

/** The fake Slack, also listing every body sent to it. */
export class RecordingSlack extends FakeSlack {
  /** The bytes of every file uploaded, with the upload URL's path. */
  get uploadBodies(): Array<{ path: string; body: string }> {
    return this.uploads.map((u) => ({ path: u.path, body: u.body }));
  }

  /** Every body the bot sent to Slack so far, decoded: Web API calls, response_url replies, uploads. */
  sentBodies(): string[] {
    return [
      ...this.calls.map((c) => `${c.method} ${JSON.stringify(c.args)}`),
      ...this.responds.map((r) => `${r.path} ${JSON.stringify(r.body)}`),
      ...this.uploadBodies.map((u) => `${u.path} ${u.body}`),
    ];
  }
}

export interface ServeOptions {
  /** A folder holding `policies/` and `commands/`; copied, so steps write only into the temp folder. */
  catalog: string;
  /** The bot's environment beyond PATH (what secret params are read from). */
  env?: Record<string, string>;
  /** The clock Slack signatures are checked against; real time by default. */
  now?: () => number;
  /** Follow edits of the copied policies and procedures on disk, as `edgeops serve` does. */
  watchCatalog?: boolean;
  /** Members of each Slack user group, as the fake Slack answers `usergroups.users.list`. */
  groups?: Record<string, string[]>;
  /** Clock of the user-group cache (advance it to make the directory read Slack again). */
  groupsClock?: Clock;
  /** The app's clock (audit rows, the outbox, scheduled work); real time by default. */
  clock?: Clock;
  /** More configuration variables (EDGEOPS_…, SLACK_…) on top of the defaults here. */
  config?: Record<string, string>;
  /** Build on a fresh store of this kind (a new PostgreSQL database); unset: the SQLite file, opened by the app. */
  backend?: BackendKind;
}

export interface Served<B extends Backend = Store> {
  app: ComposedApp<B>;
  server: SlackServer;
  platform: Platform;
  slack: RecordingSlack;
  dir: string;
  dbPath: string;
  /** `http://127.0.0.1:PORT` */
  baseUrl: string;
  eventsUrl: string;
  webhookUrl: string;
  /** Every log line written so far (JSON, level debug). */
  logLines(): string[];
  /** The database file and its WAL, as they are on disk now (SQLite). */
  dbBytes(): Buffer;
  /** Rows of one statement (`?` placeholders), on whichever backend the app runs. */
  query<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** Stops serving and closes the database; the folder stays for inspection. */
  stop(): Promise<void>;
  /** stop(), then removes the folder. */
  close(): Promise<void>;
}

export async function startServe(options: ServeOptions & { backend?: undefined }): Promise<Served>;
export async function startServe(options: ServeOptions & { backend: BackendKind }): Promise<Served<Backend>>;
export async function startServe(options: ServeOptions): Promise<Served<Backend>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-reliability-'));
  cpSync(path.join(options.catalog, 'policies'), path.join(dir, 'policies'), { recursive: true });
  cpSync(path.join(options.catalog, 'commands'), path.join(dir, 'commands'), { recursive: true });
  const dbPath = path.join(dir, 'data', 'edgeops.db');
  const config = loadConfig(
    {
      PORT: '0',
      HOST: '127.0.0.1',
      EDGEOPS_DB: dbPath,
      EDGEOPS_POLICIES: path.join(dir, 'policies'),
      EDGEOPS_COMMANDS: path.join(dir, 'commands'),
      EDGEOPS_AUDIT_KEY: AUDIT_KEY,
      EDGEOPS_PUBLIC_URL: 'https://edgeops.test',
      SLACK_BOT_TOKEN: 'xoxb-reliability-token',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL,
      PAGERDUTY_WEBHOOK_SECRETS: `${PAGERDUTY_SECRET},${PAGERDUTY_OLD_SECRET}`,
      LOG_LEVEL: 'debug',
      ...options.config,
    },
    { cwd: dir },
  );
  const lines: string[] = [];
  // The most talkative level: whatever any level would write is here. The bot's credentials are masked as `edgeops serve` masks them.
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void lines.push(line) },
    maskValues: botCredentials(config, { auditKey: AUDIT_KEY }),
  });
  const catalog = bootCatalog(config);
  let watcher: CatalogWatcher | undefined;
  const backend: TestBackend | undefined = options.backend
    ? await openTestBackend(options.backend, { file: dbPath, auditKey: AUDIT_KEY, clock: options.clock ?? systemClock, label: 'serve' })
    : undefined;
  const appOptions: AppOptions & { backend?: undefined } = {
    config,
    logger,
    auditKey: AUDIT_KEY,
    catalog: () => watcher?.current() ?? catalog,
    env: { PATH: process.env.PATH, ...options.env },
    exportsDir: path.join(dir, 'exports'),
    exportDelivery: 'chat',
    ...(options.clock ? { clock: options.clock } : {}),
  };
  const app: ComposedApp<Backend> = backend ? createApp({ ...appOptions, backend: backend.store }) : createApp(appOptions);
  await app.runs.recoverInterrupted();
  const slack = new RecordingSlack();
  if (options.groups) slack.groups = { ...options.groups };
  slack.install();
  const platform = mountPlatform(app, { auditKey: AUDIT_KEY, pagerduty: { delivery: { perChannelIntervalMs: 0, idlePollMs: 50 }, workerIdlePollMs: 50 } });
  let server: SlackServer;
  try {
    server = await startSlackServer(app, config.slack!, {
      routes: platform.routes,
      onResponse: platform.metrics.observeResponse,
      bodyBudget: platform.bodyBudget,
      delivery: { perChannelIntervalMs: 0 },
      ...(options.now ? { now: options.now } : {}),
      ...(options.groupsClock ? { clock: options.groupsClock } : {}),
    });
  } catch (err) {
    slack.uninstall();
    app.close();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  platform.start();
  if (options.watchCatalog)
    watcher = watchAppCatalog(app, { policiesDir: config.policiesDir, commandsDir: config.commandsDir, initial: catalog, debounceMs: 50 });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      watcher?.close();
      await platform.stop();
      await server.stop();
      await app.runs.idle();
      app.close();
      slack.uninstall();
      try {
        assertAuditHolds(app.store.kind === 'postgres' ? await verifyPostgresDatabase(app.store.session, AUDIT_KEY) : verifySqliteFile(dbPath));
      } finally {
        await backend?.close();
      }
    })());
  return {
    app,
    server,
    platform,
    slack,
    dir,
    dbPath,
    baseUrl: server.url,
    eventsUrl: `${server.url}/slack/events`,
    webhookUrl: `${server.url}/webhooks/pagerduty`,
    logLines: () => [...lines],
    dbBytes: () => Buffer.concat([dbPath, `${dbPath}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f))),
    query: <T>(sql: string, ...params: unknown[]): Promise<T[]> =>
      backend ? backend.query<T>(sql, ...params) : Promise.resolve(app.store.kind === 'sqlite' ? (app.store.db.prepare(sql).all(...params) as T[]) : []),
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Every served scenario ends with the check `edgeops audit verify` makes: an intact chain, and the
 * tables exports read (incidents, runs, steps, approvals) exactly as the audit rows say.
 */
function assertAuditHolds(verdict: DatabaseVerdict): void {
  if (!verdict.chain.ok) throw new Error(`audit chain broken after the scenario: ${JSON.stringify(verdict.chain)}`);
  if (verdict.mismatches.length > 0)
    throw new Error(`audit verify found projections that differ from the log:\n${JSON.stringify(verdict.mismatches, null, 1)}`);
}

/** The SQLite file read as `edgeops audit verify --db` reads it: after the app closed it. */
function verifySqliteFile(dbPath: string): DatabaseVerdict {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return verifyAuditDatabase(db, AUDIT_KEY);
  } finally {
    db.close();
  }
}
