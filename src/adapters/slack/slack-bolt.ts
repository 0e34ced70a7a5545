// The Bolt app: our receiver (HTTP route or Socket Mode), our logger, the listeners; no logic of its own.
import { App as BoltApp, type AnyMiddlewareArgs, type Middleware, type Receiver } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { SlackConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import type { GroupDirectory } from './group-directory.js';
import { registerActionListeners } from './listeners/action-listener.js';
import { registerCommandListeners } from './listeners/command-listener.js';
import type { SlackListenerPorts } from './listeners/listener-deps.js';
import { registerReactionListeners } from './listeners/reaction-listener.js';
import { slackSdkLogger } from './slack-logger.js';
import { fromWorkspace, teamOf } from './slack-receiver.js';

/** Who the bot is in Slack (from `auth.test`), once known; Bolt uses it to ignore the bot's own events. */
export interface BotIdentity {
  botId?: string;
  botUserId?: string;
  teamId?: string;
}

export interface SlackBoltOptions {
  app: SlackListenerPorts;
  config: SlackConfig;
  receiver: Receiver;
  /** The Web API client the listeners call (retries off, our API URL). */
  client: WebClient;
  directory: GroupDirectory;
  /** Wakes the outbox sender after a listener queued messages. */
  kick: () => void;
  logger: Logger;
  identity?: () => BotIdentity;
  ackBudgetMs?: number;
}

export function createSlackBolt(options: SlackBoltOptions): BoltApp {
  const { config, logger } = options;
  const identity: () => BotIdentity = options.identity ?? (() => ({}));
  const bolt = new BoltApp({
    receiver: options.receiver,
    // Our own authorize answers from memory: Bolt's default would call auth.test before acking.
    authorize: async () => {
      const { botId, botUserId } = identity();
      return { botToken: config.botToken, ...(botId ? { botId } : {}), ...(botUserId ? { botUserId } : {}) };
    },
    logger: slackSdkLogger(logger, 'bolt'),
    // Bolt's own client serves only `say`, which the listeners do not use; it gets the same limits anyway.
    clientOptions: { slackApiUrl: config.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true },
    convoStore: false,
    ignoreSelf: true,
  });

  if (config.teamId !== undefined) bolt.use(onlyTeam(config.teamId, logger));
  // Listener failures reach the receiver, which logs them once and answers 500 if nothing was sent.
  bolt.error(async (err) => {
    throw err;
  });

  const deps = {
    app: options.app,
    client: options.client,
    directory: options.directory,
    kick: options.kick,
    logger: logger.child({ component: 'slack' }),
    ...(options.ackBudgetMs === undefined ? {} : { ackBudgetMs: options.ackBudgetMs }),
  };
  registerCommandListeners(bolt, deps);
  registerActionListeners(bolt, deps);
  registerReactionListeners(bolt, deps);
  return bolt;
}

/**
 * The HTTP receiver refuses other workspaces with 403 before Bolt sees them; Socket Mode has no such
 * gate, so the same rule is kept here for both.
 */
function onlyTeam(teamId: string, logger: Logger): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const body = args.body as Record<string, unknown>;
    if (fromWorkspace(body, teamId)) {
      await args.next();
      return;
    }
    logger.warn({ team: teamOf(body) ?? null }, 'slack request refused: another workspace');
    if ('ack' in args && typeof args.ack === 'function') await args.ack();
  };
}
