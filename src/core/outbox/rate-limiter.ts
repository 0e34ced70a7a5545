// Token buckets per method (and per channel where the receiver counts per channel), with pauses it imposes.

/** One bucket: `burst` calls at once, refilled at `perMinute`; per channel or for the whole workspace. */
export interface RateRule {
  burst: number;
  perMinute: number;
  perChannel?: boolean;
}

/** A call about to be made: its method, and the channel it is about when the rule counts per channel. */
export interface PlannedCall {
  method: string;
  channel?: string;
}

export interface RateLimiter {
  /** Milliseconds from `now` until every planned call may go (0: now). Takes nothing. */
  delay(calls: PlannedCall[], now: number): number;
  /** Spends one token per call. A bucket may go below zero, so a call made anyway is still counted. */
  take(calls: PlannedCall[], now: number): void;
  /** The receiver said wait (429 Retry-After): nothing of this method goes before `until`. */
  pause(method: string, until: number): void;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Pure: time comes in as `now`, so the same limiter runs on a fake clock in tests. Unknown methods
 * use `fallback`. Buckets start full: a new process may send a burst at once.
 */
export function createRateLimiter(rules: Readonly<Record<string, RateRule>>, fallback: RateRule): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const pausedUntil = new Map<string, number>();

  const ruleOf = (method: string): RateRule => rules[method] ?? fallback;
  const keyOf = (call: PlannedCall): string => {
    const rule = ruleOf(call.method);
    return rule.perChannel && call.channel ? `${call.method}@${call.channel}` : call.method;
  };

  /** The bucket filled up to `now`. */
  function bucket(key: string, rule: RateRule, now: number): Bucket {
    const b = buckets.get(key) ?? { tokens: rule.burst, at: now };
    const refilled = Math.min(rule.burst, b.tokens + (Math.max(0, now - b.at) * rule.perMinute) / 60_000);
    const next = { tokens: refilled, at: Math.max(b.at, now) };
    buckets.set(key, next);
    return next;
  }

  /** Tokens each bucket needs for these calls, with the rule of each. */
  function needs(calls: PlannedCall[]): Map<string, { rule: RateRule; count: number; method: string }> {
    const out = new Map<string, { rule: RateRule; count: number; method: string }>();
    for (const call of calls) {
      const key = keyOf(call);
      const entry = out.get(key) ?? { rule: ruleOf(call.method), count: 0, method: call.method };
      entry.count += 1;
      out.set(key, entry);
    }
    return out;
  }

  return {
    delay(calls, now) {
      let wait = 0;
      for (const [key, { rule, count, method }] of needs(calls)) {
        const paused = pausedUntil.get(method);
        if (paused !== undefined) {
          if (paused > now) wait = Math.max(wait, paused - now);
          else pausedUntil.delete(method);
        }
        // More than a burst's worth can never be there at once: a full bucket is the most to wait for.
        const wanted = Math.min(count, rule.burst);
        const b = bucket(key, rule, now);
        if (b.tokens < wanted) wait = Math.max(wait, Math.ceil(((wanted - b.tokens) * 60_000) / rule.perMinute));
      }
      return wait;
    },
    take(calls, now) {
      for (const [key, { rule, count }] of needs(calls)) bucket(key, rule, now).tokens -= count;
    },
    pause(method, until) {
      pausedUntil.set(method, Math.max(pausedUntil.get(method) ?? 0, until));
    },
  };
}
