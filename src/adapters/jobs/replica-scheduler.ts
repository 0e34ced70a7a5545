// Scheduled tasks with several replicas on one database: node-cron on every replica, and each tick one job that one replica runs.
import type { JobQueue, JobWorker, TickJob } from '../../core/jobs.js';
import { startScheduler, type Scheduler, type SchedulerOptions } from '../scheduler/scheduler.js';

/**
 * Reminders, approval expiry, the audit anchor and procedures' `schedule:` entries, fired once per
 * tick whichever replicas run: every replica keeps its node-cron timetable and, at each tick, queues
 * the job named by (task, minute) on the shared queue (pg-boss); every replica queuing it makes one
 * job, and the first worker to take it runs the tick. The replica that queued it looks at once, so
 * a tick starts within milliseconds of the minute, not at the next poll.
 *
 * Each replica follows the schedules of its own files (during a rollout they may differ for a
 * while); a replica that takes a tick of a procedure it does not have skips it. Ticks are not
 * retried: reminders, approval expiry and the anchor read the state and catch up at the next tick,
 * and a procedure's tick lost with a replica that died holding it is as if edgeops had been down at
 * that minute (docs/operations.md).
 */
export async function startReplicaScheduler(deps: Omit<SchedulerOptions, 'dispatch'> & { ticks: JobQueue<TickJob> }): Promise<Scheduler> {
  const { ticks } = deps;
  // Timers first, then the worker: a tick taken from the queue always finds its task's work here.
  const worker: { current?: JobWorker } = {};
  const scheduler = startScheduler({
    ...deps,
    dispatch: async (task, slot) => {
      await ticks.enqueue([{ key: `${task}@${slot}`, data: { task, slot } }]);
      worker.current?.nudge();
    },
  });
  worker.current = await ticks.work(({ task, slot }) => scheduler.runTick(task, slot));
  const started = worker.current;
  return {
    tasks: () => scheduler.tasks(),
    run: (name) => scheduler.run(name),
    runTick: (name, slot) => scheduler.runTick(name, slot),
    async stop() {
      await scheduler.stop();
      await started.stop();
    },
  };
}
