// Shared start-up for CLI subcommands: config, logger, audit key and the app, in that order.
import path from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../app.js';
import { resolveAuditKey } from '../audit-key.js';
import { loadConfig, type Config } from '../config.js';
import type { AccessControl } from '../core/access.js';
import type { Clock } from '../core/ports.js';
import { createLogger, type Logger } from '../log.js';
import type { CliIo } from './cli-io.js';

export interface BootOptions {
  /** Local mode may generate the audit key; other commands must find the existing one. */
  generateKey: boolean;
  /** Where logs go: stdout (servers), or a file in the data folder (interactive console). */
  logTo: 'stdout' | 'file';
  clock?: Clock;
}

export function bootConfig(io: CliIo): Config {
  return loadConfig(io.env, { cwd: io.cwd });
}

export function bootLogger(config: Config, logTo: BootOptions['logTo']): { logger: Logger; logFile?: string } {
  if (logTo === 'stdout') return { logger: createLogger({ level: config.logLevel }) };
  const logFile = path.join(config.dataDir, 'edgeops.log');
  return { logger: createLogger({ level: config.logLevel, destination: pino.destination({ dest: logFile, mkdir: true, sync: false }) }), logFile };
}

/** Access for everyone until the policy catalog is wired in. */
const openAccess: AccessControl = { require: () => undefined, may: () => true };

export function bootApp(io: CliIo, options: BootOptions): { app: App; logFile?: string } {
  const config = bootConfig(io);
  const { logger, logFile } = bootLogger(config, options.logTo);
  const { key } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: config.dataDir, generate: options.generateKey });
  const app = createApp({
    config,
    logger,
    auditKey: key,
    clock: options.clock,
    access: openAccess,
    exportsDir: path.resolve(io.cwd, 'exports'),
  });
  return { app, logFile };
}
