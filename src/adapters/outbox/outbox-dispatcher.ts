// Delivers one target's outbox: channels in parallel, each by priority then in order, paced, retried, resumable.
import type { AuditLog } from '../../core/audit/audit-log.js';
import { incidentOfChannelKey } from '../../core/outbox/channel-key.js';
import type { ChannelLeases } from '../../core/outbox/channel-leases.js';
import type { Outbox, OutboxItem, OutboxTarget } from '../../core/outbox/outbox.js';
import type { Clock, UnitOfWork } from '../../core/ports.js';
import type { Logger } from '../../log.js';

/** What one delivery attempt came to; the dispatcher turns it into outbox state. */
export type DeliveryResult =
  /** `receipt`: what the receiver called the message, kept so a later message can update it. */
  | { kind: 'sent'; receipt?: string }
  /**
   * Nothing was sent: the receiver's rate limits say not before `atMs`. Not an attempt, nothing is
   * recorded; the channel simply waits (in memory: a restart only forgets the wait).
   */
  | { kind: 'later'; atMs: number }
  /** The receiver asked us to wait (HTTP 429 `Retry-After`): nothing of the channel goes out before then. */
  | { kind: 'retry'; afterMs: number; error: string }
  /** Outage, 5xx, network, timeout: retried with exponential backoff, for as long as it takes. */
  | { kind: 'transient'; error: string }
  /** The receiver will never take this message: recorded on the audit log and skipped. */
  | { kind: 'permanent'; error: string };

export type Deliver = (item: OutboxItem) => Promise<DeliveryResult>;

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 5 * 60_000 };

export interface OutboxDispatcherOptions {
  target: OutboxTarget;
  outbox: Outbox;
  audit: AuditLog;
  uow: UnitOfWork;
  deliver: Deliver;
  logger: Logger;
  clock: Clock;
  /** How the background loop waits; tests pass a fake one driven by a fake clock. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). */
  random?: () => number;
  /** Least time between two messages of one channel (default 1 s, Slack's posting rate). */
  perChannelIntervalMs?: number;
  /** Channels delivered at the same time (default 4). */
  concurrency?: number;
  backoff?: Partial<BackoffOptions>;
  /** Longest idle wait: messages queued by another process are picked up at least this often (default 5 s). */
  idlePollMs?: number;
  /**
   * Replicas sharing one outbox: a channel is sent only under its lease, so one replica at a time
   * delivers it, in order and paced. None (one process): every channel is this dispatcher's.
   */
  leases?: ChannelLeases;
  /**
   * How long a lease lasts unrenewed (default 30 s): how long a dead replica's channels wait before
   * another replica takes them. Renewed every third of it while the channel is in flight or paced.
   */
  leaseMs?: number;
}

export interface OutboxDispatcher {
  /** Wakes the loop now (messages were queued). */
  kick(): void;
  /** Stops taking new messages and waits for those in flight to be recorded. */
  stop(): Promise<void>;
  /** Delivers everything whose turn has come, then resolves once nothing is in flight. */
  drain(): Promise<void>;
}

/** Past this many attempts a transient failure is logged as an error: someone should look. */
const LOUD_AFTER_ATTEMPTS = 8;
/** When a result could not be recorded, the channel pauses this long instead of resending at once. */
const UNRECORDED_PAUSE_MS = 30_000;

/** Exponential backoff with "equal jitter": half the step is fixed, so retries never bunch up at zero. */
export function backoffDelay(attempts: number, random: () => number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const step = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(attempts, 0), 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

export function startOutboxDispatcher(options: OutboxDispatcherOptions): OutboxDispatcher {
  const { target, outbox, audit, uow, deliver, clock } = options;
  const logger = options.logger.child({ component: 'outbox', target });
  const random = options.random ?? Math.random;
  const interval = Math.max(0, options.perChannelIntervalMs ?? 1_000);
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
  const leases = options.leases;
  const leaseMs = Math.max(1, options.leaseMs ?? 30_000);
  const renewEveryMs = leaseMs / 3;
  // With leases, the loop wakes often enough to renew them in time, however long it may otherwise idle.
  const idlePollMs = Math.max(1, Math.min(options.idlePollMs ?? 5_000, leases ? renewEveryMs : Infinity));

  /** Channel → its delivery in flight; at most one per channel keeps each channel in order. */
  const inFlight = new Map<string, Promise<void>>();
  /** Channel → when its next message may go (pacing lives in memory: a restart only forgets one interval). */
  const pacedUntil = new Map<string, number>();
  /**
   * Channel → when (in `ticks`) its last delivery was recorded. A read of the outbox that began before
   * that may still show the message just sent as the channel's head (the read awaits a database that
   * answers later), so such a head is read again rather than sent twice.
   */
  const settledAt = new Map<string, number>();
  let ticks = 0;
  /** The last pump left out a stale head: `drain` pumps again rather than stop short of it. */
  let skippedStale = false;
  /** Channel → until when this dispatcher's lease on it lasts (with leases only). */
  const held = new Map<string, number>();
  let renewedAt = Number.NEGATIVE_INFINITY;
  let stopping = false;
  let kicked = false;
  let wake: (() => void) | null = null;

  function kick(): void {
    kicked = true;
    const w = wake;
    wake = null;
    w?.();
  }

  /**
   * Pumps run one at a time (the loop's and `drain`'s): two at once could both read a head before
   * either has put it in flight, and send it twice.
   */
  let pumping: Promise<unknown> = Promise.resolve();
  function pump(): Promise<number> {
    const next = pumping.then(pumpOnce);
    pumping = next.catch(() => undefined);
    return next;
  }

  /**
   * Keeps the leases of channels in flight or paced, a third of a lease at a time: another replica
   * must not take a channel while this one still sends it, nor before its pacing allows.
   */
  async function renewLeases(lease: ChannelLeases, now: number): Promise<void> {
    for (const [channel, until] of held) if (until <= now && !inFlight.has(channel)) held.delete(channel);
    if (now - renewedAt < renewEveryMs) return;
    const busy = [...new Set([...inFlight.keys(), ...pacedUntil.keys()])];
    renewedAt = now;
    if (busy.length === 0) return;
    const kept = new Set(await lease.renew(target, busy, now + leaseMs));
    for (const channel of busy) {
      if (kept.has(channel)) held.set(channel, now + leaseMs);
      else {
        held.delete(channel);
        logger.warn({ channel }, 'lost the lease of an outbox channel this replica was still delivering; another replica may send it too');
      }
    }
  }

  /**
   * Starts a delivery for every channel whose head is due, not in flight and not paced; returns how
   * many. A head that went stale while it was read is not sent: the kick of the delivery that made it
   * stale brings the next pump, which reads it afresh.
   */
  async function pumpOnce(): Promise<number> {
    if (stopping) return 0;
    skippedStale = false;
    const readFrom = ticks;
    for (const [channel, at] of settledAt) if (at <= readFrom) settledAt.delete(channel);
    const now = clock.now();
    for (const [channel, until] of pacedUntil) if (until <= now) pacedUntil.delete(channel);
    if (leases) await renewLeases(leases, now);
    const free = concurrency - inFlight.size;
    if (free <= 0) return 0;
    // Heads in flight or paced are skipped, so ask for enough rows that skipping them still fills every free slot.
    const heads = await outbox.due(target, now, concurrency + inFlight.size + pacedUntil.size, leases?.holder);
    const ready: OutboxItem[] = [];
    for (const item of heads) {
      if (ready.length === free) break;
      if (inFlight.has(item.channel) || pacedUntil.has(item.channel)) continue;
      if ((settledAt.get(item.channel) ?? -1) > readFrom) {
        skippedStale = true;
        continue;
      }
      ready.push(item);
    }
    // Another replica may have taken some of these channels since they were read: only those whose
    // lease this one holds now go out (it keeps them while it delivers, see renewLeases).
    let mine = ready;
    if (leases && ready.length > 0) {
      const until = now + leaseMs;
      const taken = new Set(
        await leases.take(
          target,
          ready.map((item) => item.channel),
          now,
          until,
        ),
      );
      for (const channel of taken) held.set(channel, until);
      mine = ready.filter((item) => taken.has(item.channel));
    }
    // Settled while the lease was being taken: stale as well.
    const fresh = mine.filter((item) => (settledAt.get(item.channel) ?? -1) <= readFrom);
    if (fresh.length < mine.length) skippedStale = true;
    mine = fresh;
    // Rows just read may have been committed with their disk sync still owed (a slash command's, whose
    // answer waits for that sync): they go out once it is done, never before.
    let durable: Promise<void> | undefined;
    for (const item of mine) {
      durable ??= outbox.durable?.() ?? Promise.resolve();
      launch(item, durable);
    }
    return mine.length;
  }

  function launch(item: OutboxItem, durable: Promise<void>): void {
    const done = (async () => {
      let result: DeliveryResult;
      try {
        await durable;
        result = await deliver(item);
      } catch (err) {
        logger.error({ err, outboxId: item.id, channel: item.channel }, 'outbox delivery threw; retrying with backoff');
        result = { kind: 'transient', error: errorText(err) };
      }
      await settle(item, result);
    })()
      .catch((err: unknown) => {
        pacedUntil.set(item.channel, clock.now() + UNRECORDED_PAUSE_MS);
        logger.error({ err, outboxId: item.id, channel: item.channel }, 'could not record an outbox delivery result');
      })
      .finally(() => {
        ticks += 1;
        settledAt.set(item.channel, ticks);
        inFlight.delete(item.channel);
        kick();
      });
    inFlight.set(item.channel, done);
  }

  async function settle(item: OutboxItem, result: DeliveryResult): Promise<void> {
    const now = clock.now();
    const attempts = item.attempts + 1;
    const fields = { outboxId: item.id, channel: item.channel, attempts };
    switch (result.kind) {
      case 'later':
        pacedUntil.set(item.channel, Math.max(now, result.atMs));
        logger.debug({ ...fields, attempts: item.attempts, untilMs: result.atMs }, 'outbox message waits for the rate limit');
        return;
      case 'sent':
        await outbox.markSent(item.id, now, result.receipt);
        if (interval > 0) pacedUntil.set(item.channel, now + interval);
        logger.debug(fields, 'outbox message delivered');
        return;
      case 'retry': {
        const afterMs = Math.max(0, result.afterMs);
        await outbox.markRetry(item.id, now + afterMs, `rate limited: ${result.error}`);
        logger.warn({ ...fields, retryInMs: afterMs, error: result.error }, 'outbox delivery rate limited; waiting as asked');
        return;
      }
      case 'transient': {
        const delay = backoffDelay(item.attempts, random, backoff);
        await outbox.markRetry(item.id, now + delay, result.error);
        const level = attempts >= LOUD_AFTER_ATTEMPTS ? 'error' : 'warn';
        logger[level]({ ...fields, retryInMs: delay, error: result.error }, 'outbox delivery failed; retrying with backoff');
        return;
      }
      case 'permanent': {
        const incidentId = incidentOfChannelKey(item.channel);
        const messageKind = typeof item.body.kind === 'string' ? item.body.kind : null;
        // The failure and the give-up land together, so a failed message is never silently dropped.
        await uow.transaction(async () => {
          await audit.append({
            actor: 'system',
            source: 'system',
            kind: 'delivery.failed',
            incidentId,
            payload: {
              target,
              channel: item.channel,
              outbox_id: item.id,
              cause_seq: item.causeSeq,
              message_kind: messageKind,
              attempts,
              error: result.error,
            },
          });
          await outbox.markFailed(item.id, result.error);
        });
        logger.error({ ...fields, incidentId, error: result.error }, 'outbox message cannot be delivered; recorded as delivery.failed');
        return;
      }
    }
  }

  /** How long the loop may sleep: until the next pacing or retry deadline, and never past the idle poll. */
  async function nextDelay(): Promise<number> {
    const now = clock.now();
    let at = await outbox.nextAttemptAfter(target, now);
    for (const [channel, until] of pacedUntil) {
      if (!inFlight.has(channel) && until > now) at = at === null ? until : Math.min(at, until);
    }
    return at === null ? idlePollMs : Math.max(0, Math.min(at - now, idlePollMs));
  }

  function wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (kicked || stopping) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        if (wake === done) wake = null;
        resolve();
      };
      wake = done;
      if (options.sleep) {
        options.sleep(ms).then(done, done);
      } else {
        timer = setTimeout(done, ms);
      }
    });
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      kicked = false;
      let delay = idlePollMs;
      try {
        await pump();
        delay = await nextDelay();
      } catch (err) {
        // A database hiccup must not end delivery: log it and try again after the idle wait.
        logger.error({ err }, 'outbox dispatcher could not read the outbox');
      }
      await wait(delay);
    }
  }

  /** On a clean stop, the other replicas may take this one's channels at once, each once its pacing allows. */
  async function releaseLeases(lease: ChannelLeases): Promise<void> {
    const now = clock.now();
    const byAfter = new Map<number, string[]>();
    for (const channel of held.keys()) {
      const after = Math.max(now, pacedUntil.get(channel) ?? now);
      byAfter.set(after, [...(byAfter.get(after) ?? []), channel]);
    }
    held.clear();
    try {
      for (const [after, channels] of byAfter) await lease.release(target, channels, after);
    } catch (err) {
      logger.warn({ err }, 'could not give up outbox channel leases; other replicas take them when they run out');
    }
  }

  const looping = loop().catch((err: unknown) => logger.error({ err }, 'outbox dispatcher loop ended unexpectedly'));

  return {
    kick,
    async stop() {
      stopping = true;
      kick();
      await looping;
      await Promise.allSettled([...inFlight.values()]);
      if (leases) await releaseLeases(leases);
    },
    async drain() {
      for (;;) {
        await pump();
        if (inFlight.size === 0 && !skippedStale) return;
        if (inFlight.size === 0) continue;
        await Promise.race(inFlight.values());
      }
    },
  };
}
