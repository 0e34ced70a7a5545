// Interfaces the core needs from the outside world: time and a unit of work over the store.

export interface Clock {
  /** Milliseconds since the Unix epoch, UTC. A property, not a method: callers hand `clock.now` on as a plain function. */
  now: () => number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Runs `fn` atomically, though it may await between its writes (an asynchronous backend such as
 * PostgreSQL). Contract: no other transaction interleaves with it (what it reads and writes is as if
 * it ran alone); a throw or rejection anywhere in `fn` rolls back every row it wrote; a
 * `transaction` called from inside `fn` (awaited, in the same async flow) joins the outer one as a
 * savepoint (its throw undoes only its own rows, unless the outer one rethrows) instead of waiting
 * for it; it resolves only once the commit has succeeded.
 */
export interface UnitOfWork {
  transaction<T>(fn: () => Promise<T>): Promise<T>;
}

/** Who is behind a request, as the policy sees them. */
export interface Actor {
  /** Slack user ID (`U…`/`W…`), `pagerduty:<service>`, `scheduler` or `system`. */
  id: string;
  /** Slack user-group IDs (`S…`) the user belongs to. */
  groups: string[];
  /** For PagerDuty-triggered runs: the service name or ID. */
  pagerdutyService?: string;
}

/** Where a request came from, recorded on every audit row. */
export type Source = 'slack' | 'console' | 'cli' | 'pagerduty' | 'scheduler' | 'system' | 'portal';

/** The policy decision that allowed an action: recorded with the action it allowed. */
export interface Authorization {
  policy_hash: string;
  rules: string[];
}

/** Who does something, from where, and on what authority. */
export interface By {
  actor: Actor;
  source: Source;
  authorization?: Authorization;
}
