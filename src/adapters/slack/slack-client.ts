// The Slack Web API client as edgeops uses it: no client-side retries (the outbox retries), 429s surfaced, logs to pino.
import { WebClient } from '@slack/web-api';
import type { SlackConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import { slackSdkLogger } from './slack-logger.js';

/** Long enough for a slow Slack, short enough that a hung call does not hold a channel for long. */
export const DEFAULT_SLACK_TIMEOUT_MS = 10_000;

export function createSlackClient(config: SlackConfig, logger: Logger, options: { timeoutMs?: number } = {}): WebClient {
  return new WebClient(config.botToken, {
    slackApiUrl: config.apiUrl,
    // The SDK would otherwise retry for about 30 minutes inside one call, holding the channel and hiding
    // the failure; the outbox retries instead, durably and with its own backoff.
    retryConfig: { retries: 0 },
    // A 429 comes back to us with its Retry-After instead of being waited out inside the SDK.
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs ?? DEFAULT_SLACK_TIMEOUT_MS,
    logger: slackSdkLogger(logger, 'slack-web-api'),
  });
}
