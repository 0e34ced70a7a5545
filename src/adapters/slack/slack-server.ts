// The Slack-mode server: Bolt over our receiver (or Socket Mode), the outbox sender, user groups.
import { SocketModeReceiver } from '@slack/bolt';
import { ErrorCode as SlackErrorCode, type WebClient } from '@slack/web-api';
import type { App } from '../../app-ports.js';
import type { SlackConfig } from '../../config.js';
import type { RateLimiter } from '../../core/outbox/rate-limiter.js';
import type { Clock } from '../../core/ports.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { BodyBudget } from '../http/body-budget.js';
import { startHttpServer, type RouteHandler } from '../http/http-server.js';
import { appHealthRoute, type HealthPorts } from '../http/platform-routes.js';
import { createGroupDirectory, policyGroupIds, slackGroupMembers } from './group-directory.js';
import type { SlackListenerPorts } from './listeners/listener-deps.js';
import { createSlackBolt, type BotIdentity } from './slack-bolt.js';
import { createSlackClient } from './slack-client.js';
import { startSlackDelivery, type SlackDeliveryPorts } from './slack-delivery.js';
import { slackSdkLogger } from './slack-logger.js';
import { SlackReceiver } from './slack-receiver.js';

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
  /** More routes on the same HTTP server (health, metrics, PagerDuty webhooks…). */
  routes?: Record<string, RouteHandler>;
  /** Told about every HTTP response (route, method, status), for metrics. */
  onResponse?: (route: string, method: string, status: number, seconds: number) => void;
  /** The Web API client; by default one made from the configuration (retries off, SLACK_API_URL). */
  client?: WebClient;
  /** Clock of the user-group cache. */
  clock?: Clock;
  /** The clock request signatures are checked against (milliseconds since the epoch). */
  now?: () => number;
  /** Passed to the outbox sender (tests lift Slack's rate limits or shorten the per-channel pace). */
  delivery?: { clock?: Clock; sleep?: (ms: number) => Promise<void>; perChannelIntervalMs?: number; concurrency?: number; limiter?: RateLimiter };
  ackBudgetMs?: number;
  unackedAfterMs?: number;
  /** The cap on unverified bodies held at once that the other routes share (`Platform.bodyBudget`). */
  bodyBudget?: BodyBudget;
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

/** What the Slack server is given: its listeners' and delivery's services, health, and where users' groups are read. */
export type SlackServerPorts = SlackListenerPorts &
  SlackDeliveryPorts &
  HealthPorts &
  Pick<App, 'config' | 'logger' | 'onMessages' | 'useGroupDirectory'>;

export async function startSlackServer(app: SlackServerPorts, slack: SlackConfig, options: SlackServerOptions = {}): Promise<SlackServer> {
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

  const delivery = startSlackDelivery({ app, client, logger, channelPaceMs: app.config.slackChannelPaceMs, ...options.delivery });
  const kick = coalesce(() => delivery.kick(), KICK_COALESCE_MS);
  const unsubscribe = app.onMessages(() => kick.call());
  const directory = createGroupDirectory({
    listMembers: slackGroupMembers(client),
    policyGroups: () => policyGroupIds(app.catalog().policy),
    clock: options.clock ?? app.clock,
    logger,
  });
  app.useGroupDirectory((userId) => directory.groupsOf(userId));

  const mode = slack.appToken ? 'socket' : 'http';
  const httpReceiver =
    mode === 'http'
      ? new SlackReceiver({
          signingSecret: slack.signingSecret,
          ...(slack.teamId === undefined ? {} : { teamId: slack.teamId }),
          logger,
          ...(options.now ? { now: options.now } : {}),
          ...(options.unackedAfterMs === undefined ? {} : { unackedAfterMs: options.unackedAfterMs }),
          ...(options.bodyBudget ? { bodyBudget: options.bodyBudget } : {}),
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

  const { server, url } = startHttpServer({
    routes: {
      ...(options.routes ?? { 'GET /healthz': appHealthRoute(app) }),
      ...(httpReceiver ? { 'POST /slack/events': httpReceiver.handle } : {}),
    },
    logger,
    port: app.config.port,
    host: app.config.host,
    ...(options.onResponse ? { onResponse: options.onResponse } : {}),
  });
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

