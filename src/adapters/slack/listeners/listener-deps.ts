// What every Slack listener is given: the core app, the Web API client, identity and the delivery kick.
import type { WebClient } from '@slack/web-api';
import type { App } from '../../../app.js';
import type { Actor } from '../../../core/ports.js';
import type { Logger } from '../../../log.js';
import type { GroupDirectory } from '../group-directory.js';

export interface ListenerDeps {
  app: App;
  client: WebClient;
  directory: GroupDirectory;
  /** Tells the outbox sender that new messages are waiting. */
  kick: () => void;
  logger: Logger;
  /** How long a command may take before its answer goes through response_url instead of the ack. */
  ackBudgetMs?: number;
}

/** The actor is always Slack's user ID, never a name; groups come from the directory. */
export const slackActor = (userId: string, groups: string[]): Actor => ({ id: userId, groups });

/** Slack user IDs: `U…`, or `W…` on Enterprise Grid. */
export { USER_ID as SLACK_USER_ID } from '../../../core/user-id.js';
