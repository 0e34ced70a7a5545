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
   * Runs the named task now, as its schedule would (tests drive the clock-dependent ones this way): as
   * the tick of the minute the app's clock is in, claimed first when ticks are claimed.
   */
  run(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** What the scheduled tasks call: runs, reminders, the audit anchor, the catalog's schedules, and the clock that names a tick. */
export type SchedulerPorts = Pick<App, 'runs' | 'reminders' | 'auditAnchor' | 'catalog' | 'notifyMessages' | 'clock'> & {
  config: Pick<Config, 'auditAnchorChannel'>;
};

/**
 * Claims one tick of a task: true for the first caller with (`task`, `slot`), false for every other
 * (another replica has that tick). `slot` is the UTC millisecond of the minute the tick was due.
 */
export type TickClaim = (task: string, slot: number) => Promise<boolean>;

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

/**
 * Starts the scheduled tasks. With `claim` (several replicas on one database), each tick of each task
 * runs only on the replica that claims it first; without (one process), every tick runs here.
 */
export function startScheduler(deps: { app: SchedulerPorts; logger: Logger; claim?: TickClaim }): Scheduler {
  const { app, logger, claim } = deps;
  const fixed = new Map<string, ScheduledTask>();
  let procedureTasks = new Map<string, ScheduledTask>();
  /** What each task does for one tick (its slot), as its cron task and `run` call it. */
  const ticks = new Map<string, (slot: number) => Promise<void>>();
  let scheduledFor = '';

  const job =
    (name: string, fn: () => unknown) =>
    async (slot: number): Promise<void> => {
      try {
        if (claim && !(await claim(name, slot))) return;
        await fn();
      } catch (err) {
        logger.error({ err, task: name }, 'scheduled task failed');
      }
    };

  /** A cron task for `tick`: the slot is the minute it was due (not when it fired), so a late firing names the same tick. */
  const schedule = (name: string, expression: string, tick: (slot: number) => Promise<void>): ScheduledTask => {
    ticks.set(name, tick);
    return cron.schedule(expression, (context: TaskContext) => tick(slotOf(context.date.getTime())), { name, noOverlap: true, timezone: 'Etc/UTC' });
  };

  /** Re-reads the schedules when the procedures changed; called every minute. */
  function syncProcedureTasks(): void {
    const catalog = app.catalog();
    if (catalog.commandsHash === scheduledFor) return;
    for (const [name, task] of procedureTasks) {
      void task.destroy();
      ticks.delete(name);
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

  /** `local` runs on every replica at every tick, claimed or not; `fn` only on the one that claims the tick. */
  const every = (name: string, fn: () => unknown, local?: () => void): void => {
    const claimed = job(name, fn);
    fixed.set(
      name,
      schedule(name, '* * * * *', async (slot) => {
        try {
          local?.();
        } catch (err) {
          logger.error({ err, task: name }, 'scheduled task failed');
        }
        await claimed(slot);
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
    async stop() {
      // destroy() may or may not return a promise, depending on the task kind.
      await Promise.all([...fixed.values(), ...procedureTasks.values()].map(async (t) => await t.destroy()));
    },
  };
}
