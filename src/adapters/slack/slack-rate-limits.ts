// Slack's Web API rate limits as edgeops models them: a token bucket per method, per channel for posting.
import { createRateLimiter, type RateLimiter, type RateRule } from '../../core/outbox/rate-limiter.js';

/**
 * Slack's tiers are "per minute per method per workspace, occasional bursts allowed"
 * (api.slack.com/apis/rate-limits): Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min. We hold to the
 * floor of each tier and allow one minute's worth as a burst.
 */
const TIER_2: RateRule = { burst: 20, perMinute: 20 };
const TIER_3: RateRule = { burst: 50, perMinute: 50 };
const TIER_4: RateRule = { burst: 100, perMinute: 100 };

/**
 * The methods edgeops calls, with the tier each method's reference page gives it. chat.postMessage
 * is "special": about one message per second per channel sustained, short bursts allowed; we allow
 * three at once (summary, run start, first result of a new incident), refilled one per second.
 */
export const SLACK_RATE_RULES: Readonly<Record<string, RateRule>> = {
  'chat.postMessage': { burst: 3, perMinute: 60, perChannel: true },
  'chat.update': TIER_3,
  'conversations.create': TIER_2,
  'conversations.invite': TIER_3,
  'conversations.setTopic': TIER_2,
  'conversations.join': TIER_3,
  'pins.add': TIER_2,
  // files.uploadV2 is three steps: these two API calls, and the upload itself, which is not rate limited.
  'files.getUploadURLExternal': TIER_4,
  'files.completeUploadExternal': TIER_4,
};

/** A method not listed above is held to the strictest tier we use. */
export const SLACK_FALLBACK_RULE: RateRule = TIER_2;

/** Slack's own posting pace: about one message per second per channel (EDGEOPS_SLACK_CHANNEL_PACE_MS's default). */
export const SLACK_CHANNEL_PACE_MS = 1_000;

/**
 * Posting into one channel at one message per `channelPaceMs` (bursts of three kept), or unpaced at 0.
 * Unpaced is still a bucket, one too deep ever to run dry, so a 429's pause of the method still holds.
 */
export function postingRule(channelPaceMs: number): RateRule {
  const { burst } = SLACK_RATE_RULES['chat.postMessage']!;
  if (channelPaceMs <= 0) return { burst: Number.MAX_SAFE_INTEGER, perMinute: Number.MAX_SAFE_INTEGER, perChannel: true };
  return { burst, perMinute: 60_000 / channelPaceMs, perChannel: true };
}

/** Slack's limits as above; `channelPaceMs` (EDGEOPS_SLACK_CHANNEL_PACE_MS, docs/configuration.md) sets the per-channel posting pace. */
export const createSlackRateLimiter = (options: { channelPaceMs?: number } = {}): RateLimiter =>
  createRateLimiter(
    { ...SLACK_RATE_RULES, 'chat.postMessage': postingRule(options.channelPaceMs ?? SLACK_CHANNEL_PACE_MS) },
    SLACK_FALLBACK_RULE,
  );
