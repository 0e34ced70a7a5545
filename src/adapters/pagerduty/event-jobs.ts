// Processing stored PagerDuty events as jobs (several replicas on PostgreSQL): each event's job is taken by one replica's worker.
import type { JobQueue, JobWorker, PagerdutyEventJob } from '../../core/jobs.js';
import type { PagerdutyEventState } from '../../core/pagerduty/pagerduty-event-store.js';
import type { PagerdutyProcessor } from '../../core/pagerduty/pagerduty-processor.js';
import type { Clock } from '../../core/ports.js';
import type { Logger } from '../../log.js';
import type { EventWorker } from './event-worker.js';

export interface EventJobsOptions {
  /** The queue the inbox adds a job to for every event it stores to process (in the same commit). */
  queue: JobQueue<PagerdutyEventJob>;
  processor: Pick<PagerdutyProcessor, 'processDue'>;
  /** The stored event's state now (undefined: no such event). */
  stateOf: (eventId: string) => Promise<PagerdutyEventState | undefined>;
  /** Ids of the stored events not yet finished, oldest first. */
  unfinished: () => Promise<string[]>;
  clock: Clock;
  logger: Logger;
  /** Events per processing pass. */
  batch?: number;
  /** How often unfinished events are queued again, in case their job is gone (5 minutes by default). */
  sweepMs?: number;
}

const FINISHED: ReadonlySet<PagerdutyEventState | undefined> = new Set([undefined, 'processed', 'ignored', 'failed']);
/** Passes one job may run before it gives its event back to the queue (a long backlog is shared with the other replicas). */
const MAX_PASSES = 20;

/**
 * The worker of the PagerDuty event queue, in the shape of the single-process event worker. A job
 * runs processing passes (which keep each PagerDuty incident's events in order, and claim each event
 * so that two replicas never apply one twice) until its event is finished; an event still unfinished
 * then (waiting for an earlier event of its incident, a retry, or another replica that holds it)
 * makes the job fail, and pg-boss tries it again later, on whichever replica takes it. The replica
 * that stored the event is nudged at once, so a lone page is processed without waiting for a poll.
 *
 * A sweep at start and every `sweepMs` queues every unfinished event again: events stored before
 * jobs existed, and events whose job ran out of retries (a long database outage). A sweep's jobs are
 * named by its period, so replicas sweeping in the same period queue each event once.
 */
export function startEventJobs(options: EventJobsOptions): EventWorker {
  const { queue, processor, stateOf } = options;
  const logger = options.logger.child({ component: 'pagerduty-jobs' });
  const batch = Math.max(1, options.batch ?? 25);
  let inFlight: Promise<unknown> = Promise.resolve();
  let stopped = false;

  async function handle({ eventId }: PagerdutyEventJob): Promise<void> {
    const work = (async () => {
      for (let pass = 0; pass < MAX_PASSES && !FINISHED.has(await stateOf(eventId)); pass++) {
        if ((await processor.processDue(batch)).processed === 0) break;
      }
      const state = await stateOf(eventId);
      if (!FINISHED.has(state)) throw new Error(`PagerDuty event ${eventId} is still ${state}; it is tried again`);
    })();
    inFlight = work.catch(() => undefined);
    await work;
  }

  const worker: Promise<JobWorker | undefined> = queue.work(handle).catch((err: unknown) => {
    logger.error({ err }, 'the PagerDuty event worker could not start; events wait in the queue for another replica');
    return undefined;
  });

  const sweepMs = Math.max(1_000, options.sweepMs ?? 5 * 60_000);
  async function sweep(): Promise<void> {
    try {
      const period = Math.floor(options.clock.now() / sweepMs);
      const ids = await options.unfinished();
      if (ids.length === 0) return;
      await queue.enqueue(ids.map((eventId) => ({ key: `${eventId}#sweep-${period}`, data: { eventId } })));
      (await worker)?.nudge();
    } catch (err) {
      logger.error({ err }, 'unfinished PagerDuty events could not be queued again; the next sweep tries again');
    }
  }
  const sweeping = setInterval(() => void sweep(), sweepMs);
  sweeping.unref();
  const firstSweep = sweep();

  return {
    wake() {
      void worker.then((w) => w?.nudge());
    },
    async idle() {
      // What is due now, processed here; a job in hand elsewhere in this process finishes first.
      for (;;) {
        await inFlight;
        if ((await processor.processDue(100)).processed === 0) break;
      }
      await inFlight;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweeping);
      await firstSweep;
      await (await worker)?.stop();
      await inFlight;
    },
  };
}
