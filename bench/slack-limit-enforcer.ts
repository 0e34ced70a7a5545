// Slack's rate limits as a fake Slack Web API enforces them: written apart from edgeops' own limiter, to check it.

/** Per method: calls allowed at once, and per minute after that; per channel or per workspace. */
interface Limit {
  burst: number;
  perMinute: number;
  perChannel: boolean;
}

const tier = (perMinute: number): Limit => ({ burst: perMinute, perMinute, perChannel: false });

/**
 * What Slack documents: chat.postMessage about one a second per channel with short bursts; the
 * tiered methods per workspace (Tier 2 20/min, Tier 3 50/min, Tier 4 100/min).
 */
export const ENFORCED_LIMITS: Readonly<Record<string, Limit>> = {
  'chat.postMessage': { burst: 3, perMinute: 60, perChannel: true },
  'chat.update': tier(50),
  'conversations.create': tier(20),
  'conversations.invite': tier(50),
  'conversations.setTopic': tier(20),
  'conversations.join': tier(50),
  'pins.add': tier(20),
  'files.getUploadURLExternal': tier(100),
  'files.completeUploadExternal': tier(100),
};

export interface Verdict {
  ok: boolean;
  /** Seconds to wait, when refused (the Retry-After header). */
  retryAfter?: number;
}

export interface LimitEnforcer {
  /** Counts a call arriving at `now` and says whether Slack would take it. */
  check(method: string, channel: string | undefined, now: number): Verdict;
  /** Calls refused with 429 so far, by method. */
  readonly refused: Record<string, number>;
}

/**
 * `tolerance` (in tokens) forgives calls that arrive a little early: over real sockets two calls
 * sent a second apart may arrive a few milliseconds closer together.
 */
export function createLimitEnforcer(options: { tolerance?: number } = {}): LimitEnforcer {
  // At least a rounding error's worth: a refill computed in floating point may fall a hair short of a whole token.
  const tolerance = Math.max(1e-6, options.tolerance ?? 0);
  const buckets = new Map<string, { tokens: number; at: number }>();
  const retryUntil = new Map<string, number>();
  const refused: Record<string, number> = {};

  return {
    refused,
    check(method, channel, now) {
      const limit = ENFORCED_LIMITS[method];
      if (!limit) return { ok: true };
      const refuse = (waitMs: number): Verdict => {
        refused[method] = (refused[method] ?? 0) + 1;
        return { ok: false, retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) };
      };
      // A method told to wait stays refused until the wait is over, as Slack does.
      const until = retryUntil.get(method) ?? 0;
      if (now < until) return refuse(until - now);
      const key = limit.perChannel ? `${method} ${channel ?? ''}` : method;
      const b = buckets.get(key) ?? { tokens: limit.burst, at: now };
      b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) * limit.perMinute) / 60_000);
      b.at = now;
      buckets.set(key, b);
      if (b.tokens < 1 - tolerance) {
        const waitMs = ((1 - b.tokens) * 60_000) / limit.perMinute;
        retryUntil.set(method, now + Math.ceil(waitMs / 1000) * 1000);
        return refuse(waitMs);
      }
      b.tokens -= 1;
      return { ok: true };
    },
  };
}
