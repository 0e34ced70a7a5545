// The one mapping from errors to what the Slack user reads, and the ways a late answer reaches them.
import type { RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { ErrorCode, isEdgeopsError } from '../../../errors.js';
import type { Logger } from '../../../log.js';

/** The text a user sees for a failed request; unexpected errors are logged and not shown. */
export function errorReply(err: unknown, logger: Logger): string {
  if (isEdgeopsError(err)) {
    switch (err.code) {
      case ErrorCode.Input:
        return `✗ ${err.message}`;
      case ErrorCode.NotAllowed:
        return `⛔ Not allowed: ${err.message}`;
      case ErrorCode.NotFound:
        return `✗ Not found: ${err.message}`;
      case ErrorCode.Conflict:
        return `⚠ ${err.message}`;
      case ErrorCode.Unavailable:
        return `⏳ ${err.message}; try again in a minute`;
      default:
        break;
    }
  }
  logger.error({ err }, 'slack request failed inside edgeops');
  return '✗ Something went wrong inside edgeops; nothing more was done. The bot log has the details.';
}

export interface LateReplyTarget {
  respond?: RespondFn;
  client: WebClient;
  channel: string;
  user: string;
}

/**
 * Answers the user after the ack: through response_url when the payload has one (it works in
 * channels the bot is not in), else as an ephemeral message. Failures are logged, never thrown:
 * the request itself already succeeded or failed on its own.
 */
export async function replyLater(target: LateReplyTarget, text: string, logger: Logger): Promise<void> {
  try {
    if (target.respond) {
      await target.respond({ response_type: 'ephemeral', replace_original: false, text });
      return;
    }
    await target.client.chat.postEphemeral({ channel: target.channel, user: target.user, text });
  } catch (err) {
    logger.warn({ err, channel: target.channel }, 'could not send the answer to the user');
  }
}
