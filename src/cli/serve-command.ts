// `edgeops serve` (what `npm start` runs): Slack when configured, otherwise local mode with the console.
import type { Server } from 'node:http';
import { createHttpServer, healthRoute, listen } from '../adapters/http/http-server.js';
import { runConsole } from '../adapters/console/run-console.js';
import type { App } from '../app.js';
import { bootApp, bootConfig } from './bootstrap.js';
import { write, type Subcommand } from './cli-io.js';
import { DEFAULT_LOCAL_USER } from './console-command.js';

export function startHttp(app: App): { server: Server; url: Promise<string> } {
  const server = createHttpServer({
    logger: app.logger,
    routes: {
      'GET /healthz': healthRoute(() => {
        const reasons: string[] = [];
        if (!app.store.writable()) reasons.push('database is not writable');
        return { ok: reasons.length === 0, reasons };
      }),
    },
  });
  return { server, url: listen(server, app.config.port, app.config.host) };
}

export const serveCommand: Subcommand = async (argv, io) => {
  if (argv.length > 0) {
    write(io.stderr, `edgeops serve: takes no arguments (got ${argv.join(' ')}); configure it with environment variables`);
    return 1;
  }
  const config = bootConfig(io);
  if (config.slack) {
    write(io.stderr, 'edgeops serve: the Slack adapter is not part of this build yet; unset SLACK_* to run in local mode');
    return 1;
  }
  const booted = bootApp(io, { generateKey: true, logTo: 'file', watchCatalog: true, recoverRuns: true });
  const { app, logFile, interrupted } = booted;
  const { server, url } = startHttp(app);
  let httpUrl: string;
  try {
    httpUrl = await url;
  } catch (err) {
    booted.close();
    write(io.stderr, `edgeops serve: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
    return 1;
  }
  app.logger.info({ url: httpUrl, mode: 'local' }, 'listening');
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const consoleDone = runConsole(app, io, { user: DEFAULT_LOCAL_USER, groups: '', logFile, httpUrl, interrupted });
  const interactive = Boolean((io.stdin as NodeJS.ReadStream).isTTY);
  // A terminal's /quit ends the bot; closed piped input (a container) leaves the HTTP server serving.
  await (interactive ? Promise.race([consoleDone, stopped]) : Promise.all([consoleDone.catch(() => undefined), stopped]));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  booted.close();
  return 0;
};
