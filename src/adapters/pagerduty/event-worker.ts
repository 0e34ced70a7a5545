// The background loop that processes stored PagerDuty events: woken on receipt, polling as a fallback, never overlapping.
import type { PagerdutyProcessor, ProcessPass } from '../../core/pagerduty/pagerduty-processor.js';
import type { Clock } from '../../core/ports.js';
import type { Logger } from '../../log.js';

export interface EventWorkerOptions {
  processor: Pick<PagerdutyProcessor, 'processDue'>;
  logger: Logger;
  clock: Clock;
  /** Events per pass; between passes the loop yields, so webhooks keep being answered during a backlog. */
  batch?: number;
  /** Longest idle wait: events stored by another process (or left by a crash) are found at least this often. */
  idlePollMs?: number;
  /**
   * While webhooks keep arriving, the worker rests this many times as long as its last pass took
   * (default 4: about a fifth of the time), so processing never holds up the 202s PagerDuty
   * waits for; it catches up as soon as the burst ends.
   */
  yieldFactor?: number;
}

export interface EventWorker {
  /** Processes now (an event was stored). */
  wake(): void;
  /** Resolves once a pass finds nothing due (tests, demo, shutdown). */
  idle(): Promise<void>;
  /** Finishes the pass in progress and stops. */
  stop(): Promise<void>;
}

const NOTHING: ProcessPass = { processed: 0, more: false, nextAttemptAt: null };

export function startEventWorker(options: EventWorkerOptions): EventWorker {
  const { processor, clock } = options;
  const logger = options.logger.child({ component: 'pagerduty-worker' });
  const batch = Math.max(1, options.batch ?? 25);
  const idlePollMs = Math.max(1, options.idlePollMs ?? 5_000);
  const yieldFactor = Math.max(0, options.yieldFactor ?? 4);
  /** Longest rest during a burst, so processing never stops for long. */
  const MAX_REST_MS = 100;
  let stopping = false;
  let kicked = false;
  let wakes = 0;
  let wakesSeen = 0;
  let stopRest: (() => void) | null = null;
  let wakeUp: (() => void) | null = null;
  let idleWaiters: Array<() => void> = [];

  function nudge(): void {
    kicked = true;
    const w = wakeUp;
    wakeUp = null;
    w?.();
  }

  /** An event was stored: process it now, and count it as traffic (a burst makes the worker yield). */
  function wake(): void {
    wakes += 1;
    nudge();
  }

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (kicked || stopping) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        if (wakeUp === done) wakeUp = null;
        resolve();
      }
      wakeUp = done;
    });
  }

  /** A rest that only stopping cuts short (new webhooks are what it makes room for). */
  function rest(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stopping) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        stopRest = null;
        resolve();
      }
      stopRest = done;
    });
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      kicked = false;
      let pass = NOTHING;
      const started = performance.now();
      try {
        pass = await processor.processDue(batch);
      } catch (err) {
        // A database hiccup must not end processing: log it and try again after the idle wait.
        logger.error({ err }, 'pagerduty events could not be read');
      }
      if (pass.processed > 0 || pass.more) {
        // Something was done: look again soon, in case more is due (or arrived); during a burst, after a rest.
        // Several webhooks stored since the last look (they arrive between passes, never during one) mean a
        // burst; a lone event is processed at once.
        const busy = wakes - wakesSeen > 1;
        wakesSeen = wakes;
        if (busy && yieldFactor > 0) await rest(Math.min(MAX_REST_MS, (performance.now() - started) * yieldFactor));
        else await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
      const delay = pass.nextAttemptAt === null ? idlePollMs : Math.min(idlePollMs, Math.max(0, pass.nextAttemptAt - clock.now()));
      await wait(delay);
    }
  }

  const looping = loop().catch((err: unknown) => logger.error({ err }, 'pagerduty event worker ended unexpectedly'));

  return {
    wake,
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        nudge();
      });
    },
    async stop() {
      stopping = true;
      nudge();
      stopRest?.();
      await looping;
      for (const w of idleWaiters.splice(0)) w();
    },
  };
}
