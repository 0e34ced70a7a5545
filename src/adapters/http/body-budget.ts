// The bytes of request bodies held before their signature is checked, capped across every request at once.

/**
 * What many slow, unsigned bodies may hold in memory together. Slack's bodies are a few KB and
 * PagerDuty's at most 256 KB, so honest traffic stays far below this even in a burst.
 */
export const UNVERIFIED_BODY_BUDGET_BYTES = 32 * 1024 * 1024;
/** Seconds a sender refused for lack of budget is asked to wait; held bodies finish or time out by then. */
export const BODY_BUDGET_RETRY_AFTER_S = 5;

export interface BodyBudget {
  /** Takes `bytes` from the budget; false, and nothing taken, when that would go over it. */
  take(bytes: number): boolean;
  /** Gives back bytes taken earlier. */
  give(bytes: number): void;
  /** Bytes taken now. */
  inUse(): number;
  readonly limitBytes: number;
}

export function createBodyBudget(limitBytes: number = UNVERIFIED_BODY_BUDGET_BYTES): BodyBudget {
  if (!Number.isSafeInteger(limitBytes) || limitBytes <= 0) throw new Error(`body budget must be a positive number of bytes (got ${limitBytes})`);
  let used = 0;
  return {
    limitBytes,
    take(bytes) {
      if (used + bytes > limitBytes) return false;
      used += bytes;
      return true;
    },
    give(bytes) {
      used = Math.max(0, used - bytes);
    },
    inUse: () => used,
  };
}
