// node-cron jobs calling services: reminders, approval expiry, the daily audit anchor, and procedures' `schedule:` entries.
import cron, { type ScheduledTask } from 'node-cron';
import type { App } from '../../app-ports.js';
import { SCHEDULER } from '../../core/policy/policy-engine.js';
import type { Procedure, Schedule } from '../../core/procedures/procedure-schema.js';
import { isEdgeopsError } from '../../errors.js';
import type { Logger } from '../../log.js';

export interface Scheduler {
  /** Names of the scheduled tasks (`reminders`, `approval-expiry`, `audit-anchor`, `procedure:<name>#<i>`). */
  tasks(): string[];
  /** Runs the named task now, as its schedule would (tests drive the clock-dependent ones this way). */
  run(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a scheduled run as the `scheduler` principal, through the same policy and runner as anyone. */
/** What the scheduled tasks call: runs, reminders, the audit anchor, the catalog's schedules. */
export type SchedulerPorts = Pick<App, 'runs' | 'reminders' | 'auditAnchor' | 'catalog' | 'notifyMessages' | 'config'>;

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

export function startScheduler(deps: { app: SchedulerPorts; logger: Logger }): Scheduler {
  const { app, logger } = deps;
  const fixed = new Map<string, ScheduledTask>();
  let procedureTasks = new Map<string, ScheduledTask>();
  let scheduledFor = '';

  const job = (name: string, fn: () => unknown) => async (): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      logger.error({ err, task: name }, 'scheduled task failed');
    }
  };

  /** Re-reads the schedules when the procedures changed; called every minute. */
  function syncProcedureTasks(): void {
    const catalog = app.catalog();
    if (catalog.commandsHash === scheduledFor) return;
    for (const task of procedureTasks.values()) void task.destroy();
    procedureTasks = new Map();
    for (const procedure of catalog.procedures.values()) {
      procedure.schedule.forEach((entry, i) => {
        const name = `procedure:${procedure.name}#${i}`;
        procedureTasks.set(
          name,
          cron.schedule(
            entry.cron,
            job(name, () => runScheduled(app, logger, procedure, entry)),
            { name, noOverlap: true, timezone: 'Etc/UTC' },
          ),
        );
      });
    }
    scheduledFor = catalog.commandsHash;
  }

  const every = (name: string, fn: () => unknown): void => {
    fixed.set(name, cron.schedule('* * * * *', job(name, fn), { name, noOverlap: true, timezone: 'Etc/UTC' }));
  };
  every('reminders', () => {
    syncProcedureTasks();
    return app.reminders.tick();
  });
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
      const task = fixed.get(name) ?? procedureTasks.get(name);
      if (!task) throw new Error(`no scheduled task named ${name}`);
      await task.execute();
    },
    async stop() {
      // destroy() may or may not return a promise, depending on the task kind.
      await Promise.all([...fixed.values(), ...procedureTasks.values()].map(async (t) => await t.destroy()));
    },
  };
}
