// Scheduled tasks with several replicas on one database: node-cron on every replica, and each tick run by the one replica that claims it.
import type { Logger } from '../../log.js';
import { startScheduler, type Scheduler, type SchedulerPorts, type TickClaim } from '../scheduler/scheduler.js';

/**
 * Reminders, approval expiry, the audit anchor and procedures' `schedule:` entries, fired once per tick
 * whichever replicas run: every replica keeps its node-cron timetable, and before a tick's work it
 * claims (task, minute) in the database; the first claim wins and the others skip that tick.
 *
 * Why a claim per tick rather than pg-boss's `schedule` + `work`:
 * - procedures' schedules come from each replica's own files, which differ for a while during a
 *   rollout or an edit; pg-boss keeps one schedule per name in the database, rewritten by whichever
 *   replica wrote last, so a replica on the old files could bring back a removed schedule. With a
 *   claim each replica follows its own timetable and the database only says who fires.
 * - pg-boss looks for due schedules every 30 s (at best every second) and its workers poll, so a
 *   tick starts seconds to tens of seconds late; node-cron fires on the minute and a claim is one INSERT.
 * - none of these needs a queue or retries: reminders, approval expiry and the anchor read the state
 *   and catch up at the next tick, so a tick lost with a replica that died holding it costs a minute;
 *   a procedure's lost tick is as if edgeops had been down at that minute (docs/operations.md).
 */
export function startReplicaScheduler(deps: { app: SchedulerPorts; logger: Logger; claim: TickClaim }): Scheduler {
  return startScheduler(deps);
}
