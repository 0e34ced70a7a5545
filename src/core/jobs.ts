// The job queue that background work goes through when several replicas share one database: each job is taken by one worker.

/** One job to queue: `key` names it within its queue (the same key queued twice, by any replica, is one job). */
export interface NewJob<D> {
  key: string;
  data: D;
  /** Not taken before this UTC millisecond (a retry's deadline); now by default. */
  startAfterMs?: number;
}

/** This process's worker of one queue. */
export interface JobWorker {
  /** Looks for jobs now instead of at the next poll (one was just queued here). */
  nudge(): void;
  /** Takes no more jobs; the one in hand finishes. */
  stop(): Promise<void>;
}

export interface JobQueue<D> {
  /**
   * Queues jobs. Inside a transaction they join it: they exist exactly when what they are about
   * was committed, so a crash between the two loses neither.
   */
  enqueue(jobs: ReadonlyArray<NewJob<D>>): Promise<void>;
  /**
   * Starts this process's worker: `handle` gets one job at a time; when it throws, the job is tried
   * again later (on whichever replica takes it), as often as the queue allows.
   */
  work(handle: (data: D) => Promise<void>): Promise<JobWorker>;
}

/** A stored PagerDuty event to process: whichever replica received it, one worker takes the job. */
export interface PagerdutyEventJob {
  eventId: string;
}

/** One tick of a scheduled task: `slot` is the UTC millisecond of the minute it was due. */
export interface TickJob {
  task: string;
  slot: number;
}
