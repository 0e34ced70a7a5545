// What every Slack listener is given: the services it uses, the Web API client, identity and the delivery kick.
import type { WebClient } from '@slack/web-api';
import type { App } from '../../../app-ports.js';
import type { Actor } from '../../../core/ports.js';
import type { Logger } from '../../../log.js';
import type { GroupDirectory } from '../group-directory.js';

/** The services Slack's listeners call: commands, runs' approvals, pins, and the deferred sync of command writes. */
export type SlackListenerPorts = Pick<App, 'handle' | 'commandWrites' | 'runs' | 'visibility' | 'incidents' | 'access' | 'pins'>;

export interface ListenerDeps {
  app: SlackListenerPorts;
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
