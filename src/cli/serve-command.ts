// `edgeops serve` (what `npm start` runs): Slack when configured, otherwise local mode with the console.
import type { Server } from 'node:http';
import { SocketModeReceiver } from '@slack/bolt';
import { ErrorCode as SlackErrorCode, type WebClient } from '@slack/web-api';
import { createHttpServer, healthRoute, listen, type RouteHandler } from '../adapters/http/http-server.js';
import { runConsole } from '../adapters/console/run-console.js';
import { mountPagerduty } from '../adapters/pagerduty/index.js';
import { createGroupDirectory, policyGroupIds, slackGroupMembers } from '../adapters/slack/group-directory.js';
import { createSlackBolt, type BotIdentity } from '../adapters/slack/slack-bolt.js';
import { createSlackClient } from '../adapters/slack/slack-client.js';
import { startSlackDelivery } from '../adapters/slack/slack-delivery.js';
import { slackSdkLogger } from '../adapters/slack/slack-logger.js';
import { SlackReceiver } from '../adapters/slack/slack-receiver.js';
import type { App } from '../app.js';
import type { SlackConfig } from '../config.js';
import type { Clock } from '../core/ports.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { bootApp, bootConfig } from './bootstrap.js';
import { write, type Subcommand } from './cli-io.js';
import { DEFAULT_LOCAL_USER } from './console-command.js';

export function startHttp(app: App, routes: Record<string, RouteHandler> = {}): { server: Server; url: Promise<string> } {
  const server = createHttpServer({
    logger: app.logger,
    routes: {
      'GET /healthz': healthRoute(() => {
        const reasons: string[] = [];
        if (!app.store.writable()) reasons.push('database is not writable');
        return { ok: reasons.length === 0, reasons };
      }),
      ...routes,
    },
  });
  return { server, url: listen(server, app.config.port, app.config.host) };
}

/** Slack's answers to auth.test that mean the token itself is wrong, not that Slack is unreachable. */
const BAD_TOKEN = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type']);
/** While Slack cannot be reached at start, auth.test is retried this often in the background. */
const WHOAMI_RETRY_MS = 30_000;
/** At start, how long to wait for user-group membership before serving anyway (commands then answer late). */
const WARM_WAIT_MS = 3_000;
/** Kicks of the outbox sender closer together than this are merged: each kick costs it a scan of the outbox. */
const KICK_COALESCE_MS = 25;

/** Calls `fn` at once, then at most once per `ms` however often it is asked (the last ask is never lost). */
function coalesce(fn: () => void, ms: number): { call(): void; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let again = false;
  const run = (): void => {
    fn();
    timer = setTimeout(() => {
      timer = undefined;
      if (again) {
        again = false;
        run();
      }
    }, ms);
    timer.unref();
  };
  return {
    call: () => {
      if (timer) again = true;
      else run();
    },
    cancel: () => clearTimeout(timer),
  };
}

export interface SlackServerOptions {
  /** The Web API client; by default one made from the configuration (retries off, SLACK_API_URL). */
  client?: WebClient;
  /** Clock of the user-group cache. */
  clock?: Clock;
  /** The clock request signatures are checked against (milliseconds since the epoch). */
  now?: () => number;
  /** Passed to the outbox sender (tests shorten the per-channel pace). */
  delivery?: { clock?: Clock; sleep?: (ms: number) => Promise<void>; perChannelIntervalMs?: number; concurrency?: number };
  ackBudgetMs?: number;
  unackedAfterMs?: number;
}

export interface SlackServer {
  mode: 'http' | 'socket';
  /** Base URL of our HTTP server (`/healthz`, and `/slack/events` in HTTP mode). */
  url: string;
  /** Delivers every message due now; resolves when the outbox sender is idle. */
  drain(): Promise<void>;
  /** Stops accepting, lets acks and replies in progress finish, stops delivery. The caller closes the database. */
  stop(): Promise<void>;
}

/** Who the bot is; a token Slack refuses (or of another workspace than SLACK_TEAM_ID) stops the start. */
async function whoAmI(client: WebClient, slack: SlackConfig, logger: Logger): Promise<BotIdentity | undefined> {
  try {
    const r = await client.auth.test();
    if (slack.teamId !== undefined && r.team_id !== slack.teamId && r.enterprise_id !== slack.teamId) {
      throw new ConfigError([`SLACK_TEAM_ID: is ${slack.teamId}, but SLACK_BOT_TOKEN belongs to workspace ${r.team_id ?? 'unknown'}`]);
    }
    logger.info({ botUserId: r.user_id, teamId: r.team_id }, 'connected to Slack');
    return { botId: r.bot_id, botUserId: r.user_id, teamId: r.team_id };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as { code?: string }).code;
    const slackError = (err as { data?: { error?: string } }).data?.error;
    if (code === SlackErrorCode.PlatformError && slackError !== undefined && BAD_TOKEN.has(slackError)) {
      throw new ConfigError([`SLACK_BOT_TOKEN: Slack refused it (${slackError}); copy the Bot User OAuth Token of the installed app`]);
    }
    logger.warn({ err }, 'Slack cannot be reached to check the bot token; serving anyway and retrying');
    return undefined;
  }
}

export async function startSlackServer(app: App, slack: SlackConfig, options: SlackServerOptions = {}): Promise<SlackServer> {
  const logger = app.logger;
  const client = options.client ?? createSlackClient(slack, logger);
  const identity: BotIdentity = (await whoAmI(client, slack, logger)) ?? {};
  let whoAmITimer: NodeJS.Timeout | undefined;
  const retryWhoAmI = (): void => {
    whoAmITimer = setTimeout(() => {
      whoAmI(client, slack, logger).then(
        (found) => (found ? Object.assign(identity, found) : retryWhoAmI()),
        (err: unknown) => logger.error({ err }, 'Slack refused the bot token; commands still arrive but replies will fail'),
      );
    }, WHOAMI_RETRY_MS);
    whoAmITimer.unref();
  };
  if (identity.botUserId === undefined) retryWhoAmI();

  const delivery = startSlackDelivery({ app, client, logger, ...options.delivery });
  const kick = coalesce(() => delivery.kick(), KICK_COALESCE_MS);
  const unsubscribe = app.onMessages(() => kick.call());
  const directory = createGroupDirectory({
    listMembers: slackGroupMembers(client),
    policyGroups: () => policyGroupIds(app.catalog().policy),
    clock: options.clock ?? app.clock,
    logger,
  });

  const mode = slack.appToken ? 'socket' : 'http';
  const httpReceiver =
    mode === 'http'
      ? new SlackReceiver({
          signingSecret: slack.signingSecret,
          ...(slack.teamId === undefined ? {} : { teamId: slack.teamId }),
          logger,
          ...(options.now ? { now: options.now } : {}),
          ...(options.unackedAfterMs === undefined ? {} : { unackedAfterMs: options.unackedAfterMs }),
        })
      : undefined;
  const receiver =
    httpReceiver ??
    new SocketModeReceiver({
      appToken: slack.appToken!,
      logger: slackSdkLogger(logger, 'socket-mode'),
      installerOptions: { clientOptions: { slackApiUrl: slack.apiUrl } },
    });
  const bolt = createSlackBolt({
    app,
    config: slack,
    receiver,
    client,
    directory,
    kick: () => kick.call(),
    logger,
    identity: () => identity,
    ...(options.ackBudgetMs === undefined ? {} : { ackBudgetMs: options.ackBudgetMs }),
  });

  // Membership is read before serving, so the first commands answer inside their ack; a slow Slack delays this little.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, WARM_WAIT_MS);
    timer.unref();
    void directory.warm().then(() => {
      clearTimeout(timer);
      resolve();
    });
  });

  const { server, url } = startHttp(app, httpReceiver ? { 'POST /slack/events': httpReceiver.handle } : {});
  const stopAll = async (): Promise<void> => {
    clearTimeout(whoAmITimer);
    const closed = new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    await bolt.stop().catch((err: unknown) => logger.warn({ err }, 'slack receiver did not stop cleanly'));
    server.closeAllConnections();
    await closed;
    unsubscribe();
    kick.cancel();
    await delivery.stop();
  };
  let httpUrl: string;
  try {
    httpUrl = await url;
    await bolt.start();
  } catch (err) {
    await stopAll();
    throw err;
  }
  // Messages left by a previous run go out now.
  delivery.kick();
  return { mode, url: httpUrl, drain: () => delivery.drain(), stop: stopAll };
}

async function serveSlack(slack: SlackConfig, io: Parameters<Subcommand>[1]): Promise<number> {
  const booted = bootApp(io, { generateKey: false, logTo: 'stdout', watchCatalog: true, recoverRuns: true, exportDelivery: 'chat' });
  const { app } = booted;
  let server: SlackServer;
  try {
    server = await startSlackServer(app, slack);
  } catch (err) {
    booted.close();
    if (err instanceof ConfigError) throw err;
    write(io.stderr, `edgeops serve: cannot start the Slack app: ${(err as Error).message}`);
    return 1;
  }
  app.logger.info({ url: server.url, mode: `slack-${server.mode}` }, 'listening');
  write(
    io.stderr,
    server.mode === 'http'
      ? `edgeops — SLACK MODE (HTTP): Slack sends to ${app.config.publicUrl}/slack/events; health at ${server.url}/healthz. Logs are JSON on stdout.`
      : `edgeops — SLACK MODE (Socket Mode): connected to Slack; health at ${server.url}/healthz. Logs are JSON on stdout.`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  app.logger.info('stopping');
  await server.stop();
  booted.close();
  return 0;
}

export const serveCommand: Subcommand = async (argv, io) => {
  if (argv.length > 0) {
    write(io.stderr, `edgeops serve: takes no arguments (got ${argv.join(' ')}); configure it with environment variables`);
    return 1;
  }
  const config = bootConfig(io);
  if (config.slack) return serveSlack(config.slack, io);
  const booted = bootApp(io, { generateKey: true, logTo: 'file', watchCatalog: true, recoverRuns: true });
  const { app, logFile, interrupted } = booted;
  // PagerDuty webhooks on the same HTTP server; events stored by an earlier run are processed on start.
  const pagerduty = mountPagerduty(app, config, app.logger);
  const { server, url } = startHttp(app, pagerduty.routes);
  let httpUrl: string;
  try {
    httpUrl = await url;
  } catch (err) {
    booted.close();
    write(io.stderr, `edgeops serve: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
    return 1;
  }
  pagerduty.start();
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
  await pagerduty.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  booted.close();
  return 0;
};
