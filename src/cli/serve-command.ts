// `edgeops serve` (what `npm start` runs): Slack when configured, otherwise local mode with the console.
import { runConsole } from '../adapters/console/run-console.js';
import { startHttpServer } from '../adapters/http/http-server.js';
import { mountPlatform } from '../adapters/http/platform-routes.js';
import { startSlackServer, type SlackServer } from '../adapters/slack/slack-server.js';
import type { SlackConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { bootApp, bootConfig } from './bootstrap.js';
import { write, type Subcommand } from './cli-io.js';
import { DEFAULT_LOCAL_USER } from './console-command.js';

const stopSignal = (): Promise<void> =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

async function serveSlack(slack: SlackConfig, io: Parameters<Subcommand>[1]): Promise<number> {
  const booted = await bootApp(io, {
    generateKey: false,
    logTo: 'stdout',
    watchCatalog: true,
    recoverRuns: true,
    schedule: true,
    exportDelivery: 'chat',
    checkpointInBackground: true,
  });
  const { app } = booted;
  const platform = mountPlatform(app, { auditKey: booted.auditKey });
  let server: SlackServer;
  try {
    server = await startSlackServer(app, slack, {
      routes: platform.routes,
      onResponse: platform.metrics.observeResponse,
      bodyBudget: platform.bodyBudget,
    });
  } catch (err) {
    await booted.close();
    if (err instanceof ConfigError) throw err;
    write(io.stderr, `edgeops serve: cannot start the Slack app: ${(err as Error).message}`);
    return 1;
  }
  platform.start();
  app.logger.info({ url: server.url, mode: `slack-${server.mode}` }, 'listening');
  write(
    io.stderr,
    server.mode === 'http'
      ? `edgeops — SLACK MODE (HTTP): Slack sends to ${app.config.publicUrl}/slack/events; health at ${server.url}/healthz. Logs are JSON on stdout.`
      : `edgeops — SLACK MODE (Socket Mode): connected to Slack; health at ${server.url}/healthz. Logs are JSON on stdout.`,
  );
  await stopSignal();
  app.logger.info('stopping');
  await platform.stop();
  await server.stop();
  await booted.close();
  return 0;
}

export const serveCommand: Subcommand = async (argv, io) => {
  if (argv.length > 0) {
    write(io.stderr, `edgeops serve: takes no arguments (got ${argv.join(' ')}); configure it with environment variables`);
    return 1;
  }
  const config = bootConfig(io);
  if (config.slack) return serveSlack(config.slack, io);
  const booted = await bootApp(io, {
    generateKey: true,
    logTo: 'file',
    watchCatalog: true,
    recoverRuns: true,
    schedule: true,
    checkpointInBackground: true,
  });
  const { app, logFile, interrupted } = booted;
  // Health, metrics, run output and PagerDuty webhooks; events stored by an earlier run are processed on start.
  const platform = mountPlatform(app, { auditKey: booted.auditKey });
  const { server, url } = startHttpServer({
    routes: platform.routes,
    logger: app.logger,
    port: config.port,
    host: config.host,
    onResponse: platform.metrics.observeResponse,
  });
  let httpUrl: string;
  try {
    httpUrl = await url;
  } catch (err) {
    await booted.close();
    write(io.stderr, `edgeops serve: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
    return 1;
  }
  platform.start();
  app.logger.info({ url: httpUrl, mode: 'local' }, 'listening');
  const stopped = stopSignal();
  const consoleDone = runConsole(app, io, { user: DEFAULT_LOCAL_USER, groups: '', logFile, httpUrl, interrupted });
  const interactive = 'isTTY' in io.stdin && io.stdin.isTTY === true;
  // A terminal's /quit ends the bot; closed piped input (a container) leaves the HTTP server serving.
  await (interactive ? Promise.race([consoleDone, stopped]) : Promise.all([consoleDone.catch(() => undefined), stopped]));
  await platform.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await booted.close();
  return 0;
};
