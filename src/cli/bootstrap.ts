// Shared start-up for CLI subcommands: config, logger, audit key, catalog and the app, in that order.
import path from 'node:path';
import pino from 'pino';
import { createApp, startBackground, type App, type AppOptions, type Backend, type ComposedApp } from '../app.js';
import { resolveAuditKey } from '../audit-key.js';
import { formatCatalogError } from '../catalog/catalog-error.js';
import { createCatalogWatcher, type CatalogWatcher } from '../catalog/catalog-watcher.js';
import { loadCatalog, type Catalog } from '../catalog/load-catalog.js';
import { botCredentials, type Config, type Env } from '../config.js';
import { bootConfig } from './cli-config.js';
import { systemClock, type Clock } from '../core/ports.js';
import type { Run } from '../core/runs/run.js';
import { ConfigError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { PRIVATE_FILE_MODE, makePrivateDir, tightenFileMode } from '../private-files.js';
import { probeStepUser, resolveStepUser, type StepUser } from '../adapters/steps/step-user.js';
import { thisReplica } from '../storage/postgres/replica-heartbeat.js';
import { PostgresStore } from '../storage/postgres/postgres-store.js';
import { write, type CliIo } from './cli-io.js';

export interface BootOptions {
  /** Local mode may generate the audit key; other commands must find the existing one. */
  generateKey: boolean;
  /** Where logs go: stdout (servers), or a file in the data folder (interactive console). */
  logTo: 'stdout' | 'file';
  /** Long-running processes follow edits of policies and procedures. */
  watchCatalog?: boolean;
  /** Processes that execute runs first mark runs left by a dead process as interrupted. */
  recoverRuns?: boolean;
  /** Long-running processes run reminders, approval expiry and scheduled procedures. */
  schedule?: boolean;
  /** Servers checkpoint the database's log on a worker thread, never inside a command's commit. */
  checkpointInBackground?: boolean;
  /** Where `/incident export` goes: a local file (the default), or an upload to the incident channel (Slack). */
  exportDelivery?: 'file' | 'chat';
  clock?: Clock;
}

export interface Booted {
  app: App;
  logFile?: string;
  /** Runs found interrupted by the previous stop (recoverRuns), to tell the user about. */
  interrupted: Run[];
  /** The audit key in use (signed output links derive their key from it). */
  auditKey: string;
  /** Stops watching and closes the database. */
  close(): Promise<void>;
}

export { bootConfig };

/** The logger; `auditKey` is the key in use, masked in every line with the bot's other credentials. */
export function bootLogger(config: Config, logTo: BootOptions['logTo'], auditKey?: string, env?: Env): { logger: Logger; logFile?: string } {
  const maskValues = botCredentials(config, { auditKey, env });
  if (logTo === 'stdout') return { logger: createLogger({ level: config.logLevel, maskValues }) };
  const logFile = path.join(config.dataDir, 'edgeops.log');
  // The log names incidents and users: private like the database beside it.
  makePrivateDir(config.dataDir);
  tightenFileMode(logFile);
  return {
    logger: createLogger({ level: config.logLevel, destination: pino.destination({ dest: logFile, sync: false, mode: PRIVATE_FILE_MODE }), maskValues }),
    logFile,
  };
}

/** Loads policies and procedures; an invalid catalog stops the start with every error listed. */
export function bootCatalog(config: Pick<Config, 'policiesDir' | 'commandsDir'>): Catalog {
  const result = loadCatalog({ policiesDir: config.policiesDir, commandsDir: config.commandsDir });
  if (!result.ok) throw new ConfigError(result.errors.map((e) => formatCatalogError(e)));
  return result.catalog;
}

/**
 * Follows edits of policies and procedures for a running app: a valid edit is recorded as
 * `policy_reloaded`, after which every run waiting for approval that the new catalog would not let
 * go ahead is denied; a bad edit is recorded as `policy_reload_failed` and the last good catalog stays.
 * The app must read its catalog through the returned watcher's `current()`.
 */
export function watchAppCatalog(
  app: Pick<App, 'logger' | 'runs' | 'catalogLog'>,
  options: { policiesDir: string; commandsDir: string; initial: Catalog; debounceMs?: number },
): CatalogWatcher {
  const { logger } = app;
  const watcher: CatalogWatcher = createCatalogWatcher({
    policiesDir: options.policiesDir,
    commandsDir: options.commandsDir,
    initial: options.initial,
    logger,
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    onChange: (catalog) => {
      // The reload is on the log before the denials it causes.
      app.catalogLog
        .reloaded(catalog)
        .then(() => app.runs.revalidateWaiting())
        .then(
          (voided) => {
            for (const run of voided) logger.info({ runId: run.id, procedure: run.procedure, reason: run.error }, 'waiting run denied after a reload');
          },
          (err: unknown) => logger.error({ err }, 'could not re-check the runs waiting for approval after a reload'),
        );
    },
    onReloadFailed: (errors) => {
      app.catalogLog
        .reloadFailed(
          errors.map((e) => formatCatalogError(e)),
          watcher.current().policyHash,
        )
        .catch((err: unknown) => logger.error({ err }, 'could not record the failed reload on the audit log'));
    },
  });
  return watcher;
}

/**
 * Proves at start that steps can run as EDGEOPS_STEP_USER (and be stopped); throws ConfigError
 * naming the problem otherwise. Warns about the bot's files that user can still read.
 */
async function checkStepUser(stepUser: StepUser, config: Config, protectedPaths: string[], io: CliIo, logger: Logger): Promise<void> {
  const report = await probeStepUser(stepUser, { commandsDir: config.commandsDir, protectedPaths });
  for (const file of report.readable) {
    logger.warn({ file, stepUser: stepUser.label }, 'steps can read this file of the bot');
    write(io.stderr, `edgeops: warning: steps run as ${stepUser.label} can read ${file}; make the data folder 0700 and its files 0600, owned by the bot`);
  }
  logger.info({ stepUser: stepUser.label }, 'steps run as another user');
}

export async function bootApp(io: CliIo, options: BootOptions): Promise<Booted> {
  const config = bootConfig(io);
  const stepUser = config.stepUser ? resolveStepUser(config.stepUser, io.env) : undefined;
  // Every process on one PostgreSQL database appends to one chain: a key file of this process's own
  // would write links no other process (nor `audit verify`) can check (docs/configuration.md).
  if (config.postgres && !config.auditKey) {
    throw new ConfigError([
      'EDGEOPS_AUDIT_KEY: required with EDGEOPS_DATABASE_URL (at least 32 characters, e.g. `openssl rand -hex 32`); set the same key for every process on the database',
    ]);
  }
  const { key, file: keyFile } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: config.dataDir, generate: options.generateKey });
  const { logger, logFile } = bootLogger(config, options.logTo, key, io.env);
  const initial = bootCatalog(config);
  let watcher: CatalogWatcher | undefined;
  // EDGEOPS_DATABASE_URL selects PostgreSQL for everything; unset, the SQLite file (docs/configuration.md).
  // Each process on PostgreSQL is a replica of its own: the runs it executes are written as its, and
  // its heartbeat (started in startBackground) tells the others it is alive.
  const postgres = config.postgres
    ? await PostgresStore.open({ target: config.postgres, auditKey: key, clock: options.clock ?? systemClock, replica: thisReplica() })
    : undefined;
  if (postgres) logger.info({ backend: 'postgres', database: postgres.target.display }, 'using PostgreSQL');
  else logger.info({ backend: 'sqlite', database: config.dbPath }, 'using SQLite');
  const appOptions: AppOptions = {
    config,
    logger,
    auditKey: key,
    clock: options.clock,
    catalog: () => watcher?.current() ?? initial,
    env: io.env,
    exportsDir: path.resolve(io.cwd, 'exports'),
    exportDelivery: options.exportDelivery,
    ...(stepUser ? { stepUser } : {}),
  };
  const composed: ComposedApp<Backend> = postgres ? createApp({ ...appOptions, backend: postgres }) : createApp({ ...appOptions, backend: undefined });
  const closeStore = async (): Promise<void> => {
    composed.close();
    await postgres?.close();
  };
  if (stepUser) {
    const files = postgres ? [] : [config.dbPath, `${config.dbPath}-wal`];
    try {
      await checkStepUser(stepUser, config, [...files, ...(keyFile ? [keyFile] : [])], io, logger);
    } catch (err) {
      await closeStore();
      throw err;
    }
  }
  const background = await startBackground(composed, {
    checkpointInBackground: options.checkpointInBackground ?? false,
    recoverRuns: options.recoverRuns ?? false,
    schedule: options.schedule ?? false,
  });
  const app: App = composed;
  const { interrupted } = background;
  if (options.watchCatalog) watcher = watchAppCatalog(app, { policiesDir: config.policiesDir, commandsDir: config.commandsDir, initial });
  return {
    app,
    logFile,
    interrupted,
    auditKey: key,
    async close() {
      await background.stop();
      watcher?.close();
      await closeStore();
    },
  };
}
