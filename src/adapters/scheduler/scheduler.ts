// node-cron jobs calling services: reminders, approval expiry, the daily audit anchor, and procedures' `schedule:` entries.
import cron, { type ScheduledTask, type TaskContext } from 'node-cron';
import type { App } from '../../app-ports.js';
import type { Config } from '../../config.js';
import { SCHEDULER } from '../../core/policy/policy-engine.js';
import type { Procedure, Schedule } from '../../core/procedures/procedure-schema.js';
import { isEdgeopsError } from '../../errors.js';
import type { Logger } from '../../log.js';

export interface Scheduler {
  /** Names of the scheduled tasks (`reminders`, `approval-expiry`, `audit-anchor`, `procedure:<name>#<i>`). */
  tasks(): string[];
  /**
   * Fires the named task now, as its schedule would (tests drive the clock-dependent ones this way):
   * as the tick of the minute the app's clock is in, handed to the job queue when ticks go through one.
   */
  run(name: string): Promise<void>;
  /** Does one tick's work here: what a tick's job runs on the replica that took it. */
  runTick(name: string, slot: number): Promise<void>;
  stop(): Promise<void>;
}

/** What the scheduled tasks call: runs, reminders, the audit anchor, the catalog's schedules, and the clock that names a tick. */
export type SchedulerPorts = Pick<App, 'runs' | 'reminders' | 'auditAnchor' | 'catalog' | 'notifyMessages' | 'clock'> & {
  config: Pick<Config, 'auditAnchorChannel'>;
};

/**
 * Hands one tick of a task to the job queue the replicas share: the same (`task`, `slot`) from any
 * replica is one job, which one replica runs (`Scheduler.runTick`). `slot` is the UTC millisecond of
 * the minute the tick was due.
 */
export type TickDispatch = (task: string, slot: number) => Promise<void>;

const MINUTE = 60_000;
/** Ticks are named by their minute: a 5-field cron fires at most once in one, and replicas whose clocks differ by seconds agree on it. */
const slotOf = (ms: number): number => Math.floor(ms / MINUTE) * MINUTE;

/** Starts a scheduled run as the `scheduler` principal, through the same policy and runner as anyone. */

export async function runScheduled(app: Pick<App, 'runs'>, logger: Logger, procedure: Procedure, entry: Schedule): Promise<void> {
  try {
    const result = await app.runs.request(
      { actor: { id: SCHEDULER, groups: [] }, source: 'scheduler' },
      {
        procedure: procedure.name,
        params: {},
        defaults: entry.with,
        ...(entry.env === undefined ? {} : { environment: entry.env }),
        channel: entry.channel ?? null,
      },
    );
    if (result.kind === 'run') logger.info({ runId: result.run.id, procedure: procedure.name }, 'scheduled run started');
  } catch (err) {
    // Denials are on the audit log already; a busy lease or bad params are worth a warning, not a crash.
    if (isEdgeopsError(err)) logger.warn({ err, procedure: procedure.name, cron: entry.cron }, 'scheduled run not started');
    else logger.error({ err, procedure: procedure.name }, 'scheduled run failed to start');
  }
}

export interface SchedulerOptions {
  app: SchedulerPorts;
  logger: Logger;
  dispatch?: TickDispatch;
  /** False: no timers start, and ticks fire only through `run` (tests drive them on their own clock). */
  timers?: boolean;
}

/**
 * Starts the scheduled tasks. With `dispatch` (several replicas on one database), each tick of each
 * task becomes one job that one replica runs; without (one process), every tick runs here.
 */
export function startScheduler(deps: SchedulerOptions): Scheduler {
  const { app, logger, dispatch } = deps;
  const makeTask = deps.timers === false ? cron.createTask : cron.schedule;
  const fixed = new Map<string, ScheduledTask>();
  let procedureTasks = new Map<string, ScheduledTask>();
  /** What each task's cron entry does for one tick (its slot), as its cron task and `run` call it. */
  const ticks = new Map<string, (slot: number) => Promise<void>>();
  /** Each task's work for one tick, wherever the tick was fired. */
  const work = new Map<string, () => unknown>();
  let scheduledFor = '';

  const perform = async (name: string, fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      logger.error({ err, task: name }, 'scheduled task failed');
    }
  };

  const job = (name: string, fn: () => unknown) => {
    work.set(name, fn);
    return async (slot: number): Promise<void> => {
      if (!dispatch) return perform(name, fn);
      try {
        await dispatch(name, slot);
      } catch (err) {
        logger.error({ err, task: name }, 'scheduled tick could not be queued');
      }
    };
  };

  /** A cron task for `tick`: the slot is the minute it was due (not when it fired), so a late firing names the same tick. */
  const schedule = (name: string, expression: string, tick: (slot: number) => Promise<void>): ScheduledTask => {
    ticks.set(name, tick);
    return makeTask(expression, (context: TaskContext) => tick(slotOf(context.date.getTime())), { name, noOverlap: true, timezone: 'Etc/UTC' });
  };

  /** Re-reads the schedules when the procedures changed; called every minute. */
  function syncProcedureTasks(): void {
    const catalog = app.catalog();
    if (catalog.commandsHash === scheduledFor) return;
    for (const [name, task] of procedureTasks) {
      void task.destroy();
      ticks.delete(name);
      work.delete(name);
    }
    procedureTasks = new Map();
    for (const procedure of catalog.procedures.values()) {
      procedure.schedule.forEach((entry, i) => {
        const name = `procedure:${procedure.name}#${i}`;
        procedureTasks.set(
          name,
          schedule(
            name,
            entry.cron,
            job(name, () => runScheduled(app, logger, procedure, entry)),
          ),
        );
      });
    }
    scheduledFor = catalog.commandsHash;
  }

  /** `local` runs on every replica at every tick; `fn` on the one that runs the tick. */
  const every = (name: string, fn: () => unknown, local?: () => void): void => {
    const fire = job(name, fn);
    fixed.set(
      name,
      schedule(name, '* * * * *', async (slot) => {
        try {
          local?.();
        } catch (err) {
          logger.error({ err, task: name }, 'scheduled task failed');
        }
        await fire(slot);
      }),
    );
  };
  // Each replica follows its own catalog's schedules, whichever replica sends the reminders.
  every('reminders', () => app.reminders.tick(), syncProcedureTasks);
  every('approval-expiry', () => app.runs.expireApprovals());
  const anchor = app.auditAnchor;
  if (anchor) {
    // Every minute, but it posts only the first time each UTC day: a bot down at midnight still anchors that day.
    every('audit-anchor', async () => {
      const head = await anchor.tick();
      if (!head) return;
      logger.info({ seq: head.seq, hash: head.hash }, 'audit anchor queued');
      app.notifyMessages();
    });
  } else if (app.config.auditAnchorChannel) {
    logger.warn('EDGEOPS_AUDIT_ANCHOR_CHANNEL is set but Slack is not configured: no audit anchor is posted');
  }
  syncProcedureTasks();

  return {
    tasks: () => [...fixed.keys(), ...procedureTasks.keys()],
    async run(name) {
      const tick = ticks.get(name);
      if (!tick) throw new Error(`no scheduled task named ${name}`);
      await tick(slotOf(app.clock.now()));
    },
    async runTick(name) {
      const fn = work.get(name);
      // A replica on other procedure files (during a rollout) may take a tick it does not schedule.
      if (!fn) {
        logger.warn({ task: name }, 'scheduled tick of a task this replica does not have: skipped');
        return;
      }
      await perform(name, fn);
    },
    async stop() {
      // destroy() may or may not return a promise, depending on the task kind.
      await Promise.all([...fixed.values(), ...procedureTasks.values()].map(async (t) => await t.destroy()));
    },
  };
}
