// The composition root: config → store (SQLite or PostgreSQL) → catalog → every service, repository and background part. Adapters receive narrow ports (src/app-ports.ts), never the store.
import { startReplicaScheduler } from './adapters/jobs/replica-scheduler.js';
import path from 'node:path';
import { createHttpStepRunner } from './adapters/steps/http-step.js';
import { createProcessStepRunner, killProcessGroup } from './adapters/steps/process-step.js';
import { createProgramFiles } from './adapters/steps/program-files.js';
import { writeTranscriptFile } from './adapters/export/write-transcript.js';
import { linkKey, runOutputLink } from './adapters/http/run-output-link.js';
import { startOutboxDispatcher } from './adapters/outbox/outbox-dispatcher.js';
import { oncallCommandDeps } from './adapters/pagerduty/index.js';
import { startEventJobs } from './adapters/pagerduty/event-jobs.js';
import { startEventWorker } from './adapters/pagerduty/event-worker.js';
import { startScheduler } from './adapters/scheduler/scheduler.js';
import type { App } from './app-ports.js';
import type { Catalog } from './catalog/load-catalog.js';
import type { TranscriptSource } from './core/export/transcript.js';
import { botCredentials, type Config, type Env } from './config.js';
import { createAnchorService } from './core/audit/anchor-service.js';
import { sqlitePortalOpsReads } from './storage/sqlite-portal-ops-reads.js';
import { handleIncidentCommand, type ExportFormat, type IncidentCommandDeps } from './core/commands/incident-commands.js';
import { handleOncallCommand } from './core/commands/oncall-commands.js';
import { handleRunbookCommand, type RunbookCommandDeps } from './core/commands/runbook-commands.js';
import { createSlashRouter } from './core/commands/slash-commands.js';
import type { Incident } from './core/incidents/incident.js';
import { createIncidentService } from './core/incidents/incident-service.js';
import { createIncidentVisibility } from './core/incidents/incident-visibility.js';
import { createPinnedMessages } from './core/incidents/pinned-messages.js';
import { createReminderService } from './core/incidents/reminder-service.js';
import { createPagerdutyInbox } from './core/pagerduty/pagerduty-inbox.js';
import { createPagerdutyProcessor, REPLICA_CLAIM_MS } from './core/pagerduty/pagerduty-processor.js';
import { createPagerdutySync } from './core/pagerduty/pagerduty-sync.js';
import { createPolicyAccess } from './core/policy-access.js';
import { systemClock, type By, type Clock } from './core/ports.js';
import type { Run } from './core/runs/run.js';
import { createRunService } from './core/runs/run-service.js';
import { createPortalSignIn, type PortalAudit } from './core/portal/portal-sessions.js';
import { signInLink } from './adapters/portal/portal-paths.js';
import { sqlitePortalSessions } from './storage/sqlite-portal-sessions.js';
import { sqlitePortalQueries } from './storage/sqlite-portal-queries.js';
import type { Logger } from './log.js';
import type { MetricsSource } from './core/metrics/metrics-source.js';
import type { PortalOpsReads } from './core/portal/portal-ops-reads.js';
import type { PortalReadModel } from './core/portal/portal-read-model.js';
import type { PortalSessionStore } from './core/portal/portal-sessions.js';
import { sqliteMetricsSource } from './storage/sqlite-metrics-source.js';
import type { PostgresTarget } from './storage/postgres/database-url.js';
import { postgresMetricsSource } from './storage/postgres/postgres-metrics-source.js';
import { postgresPortalOpsReads } from './storage/postgres/postgres-portal-ops-reads.js';
import { postgresPortalQueries } from './storage/postgres/postgres-portal-queries.js';
import { postgresPortalSessions } from './storage/postgres/postgres-portal-sessions.js';
import { leaseHolderId, PostgresChannelLeases } from './storage/postgres/postgres-channel-leases.js';
import { listenForOutbox } from './storage/postgres/outbox-notifications.js';
import { ReplicaHeartbeat, type ReplicaIdentity } from './storage/postgres/replica-heartbeat.js';
import { PostgresStore } from './storage/postgres/postgres-store.js';
import { Store } from './storage/store.js';
import { transcriptRuns, transcriptSource } from './storage/transcript-source.js';
import type { FileSyncer } from './storage/wal-sync.js';

export type { App } from './app-ports.js';

/** Unfinished PagerDuty events queued again per sweep (replicas on PostgreSQL); more wait for the next. */
const SWEEP_LIMIT = 1_000;

export interface AppOptions {
  config: Config;
  logger: Logger;
  auditKey: string;
  /** The catalog in force, read once per request (a watcher swaps it on valid edits). */
  catalog: () => Catalog;
  /** The bot's environment: secret params are read from it, and steps get its PATH and LANG. */
  env: Env;
  clock?: Clock;
  /** Where `/incident export` writes files in local mode. */
  exportsDir?: string;
  /** `file`: `/incident export` writes into exportsDir (local mode); `chat`: uploads to the incident channel. */
  exportDelivery?: 'file' | 'chat';
  /** After SIGTERM, how long a step's process group has before SIGKILL. */
  killGraceMs?: number;
  /** The OS user steps run as (EDGEOPS_STEP_USER, resolved and probed at start); unset: the bot's own. */
  stepUser?: { uid: number; gid: number };
  pid?: number;
  /** How the database's log reaches the disk (tests hold its syncs); the real file's fdatasync by default. */
  logSyncer?: (logFile: string) => FileSyncer;
  /**
   * The database to build on, opened by the caller, who also closes it (`app.close()` leaves it
   * open). Unset: the SQLite file at `config.dbPath`, opened here and closed by `app.close()`.
   */
  backend?: Backend;
}

/** The two backends the root builds on (docs/configuration.md, EDGEOPS_DATABASE_URL). */
export type Backend = Store | PostgresStore;

/** The app as its builders (the CLI start-up, tests) hold it: every port, and the store behind them. */
export interface ComposedApp<B extends Backend = Store> extends App {
  /** The store behind every port (SQLite unless another backend was given); only the composition root and tests reach into it. */
  store: B;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export function createApp(options: AppOptions & { backend?: undefined }): ComposedApp;
export function createApp<B extends Backend>(options: AppOptions & { backend: B }): ComposedApp<B>;
export function createApp(options: AppOptions): ComposedApp<Backend> {
  const { config, logger, catalog } = options;
  const clock = options.clock ?? systemClock;
  const store: Backend =
    options.backend ??
    Store.create({ file: config.dbPath, auditKey: options.auditKey, clock, ...(options.logSyncer ? { syncer: options.logSyncer } : {}) });
  const ownsStore = options.backend === undefined;
  const reads = backendReads(store);
  const exportsDir = options.exportsDir ?? path.resolve('exports');
  const listeners = new Set<() => void>();
  const notifyMessages = (): void => {
    for (const listener of listeners) listener();
  };
  // Replicas on one PostgreSQL database: one delivers each outbox channel at a time (leases), and a
  // message queued on any replica wakes the one holding its channel at once (LISTEN/NOTIFY).
  const channelLeases = store.kind === 'postgres' ? new PostgresChannelLeases(store.session, leaseHolderId()) : undefined;
  const outboxWakeups = store.kind === 'postgres' ? listenForOutbox(store.pool, notifyMessages, { logger }) : undefined;
  // With a PagerDuty token, acks and resolves of PagerDuty incidents and triggered runs' results go back there.
  const pagerdutySync = config.pagerduty.apiToken
    ? createPagerdutySync({ outbox: store.outbox, findIncident: (id) => store.incidents.get(id) })
    : undefined;
  const incidents = createIncidentService({
    uow: store,
    audit: store.audit,
    incidents: store.incidents,
    outbox: store.outbox,
    clock,
    onRecorded: pagerdutySync?.onIncidentRecorded,
  });
  const access = createPolicyAccess({ uow: store, audit: store.audit, policy: catalog });
  const visibility = createIncidentVisibility({ incidents, access });
  const runStore = store.runs;
  let groupDirectory: ((userId: string) => Promise<string[]>) | undefined;
  const outputKey = linkKey(options.auditKey);
  const runs = createRunService({
    uow: store,
    audit: store.audit,
    runs: runStore,
    outbox: store.outbox,
    clock,
    catalog,
    findIncident: (id) => incidents.find(id),
    secretEnv: options.env,
    programs: createProgramFiles(config.commandsDir),
    currentGroups: (userId) => groupDirectory?.(userId),
    credentials: botCredentials(config, { env: options.env, auditKey: options.auditKey }),
    steps: {
      process: createProcessStepRunner({
        commandsDir: config.commandsDir,
        baseEnv: options.env,
        killGraceMs: options.killGraceMs,
        ...(options.stepUser ? { user: { uid: options.stepUser.uid, gid: options.stepUser.gid } } : {}),
      }),
      http: createHttpStepRunner(),
    },
    pid: options.pid ?? process.pid,
    isAlive,
    killGroup: (pgid) => {
      killProcessGroup(pgid, 'SIGKILL');
    },
    onMessages: notifyMessages,
    onError: (err, runId) => logger.error({ err, runId }, 'run failed inside edgeops'),
    onFinished: async (run, steps, causeSeq) => {
      logger.info({ runId: run.id, procedure: run.procedure, environment: run.environment, state: run.state, incidentId: run.incidentId }, 'run finished');
      await pagerdutySync?.onRunFinished(run, steps, causeSeq);
    },
    outputLink: (runId) => runOutputLink({ publicUrl: config.publicUrl, key: outputKey, runId, now: clock.now() }),
  });

  // PagerDuty: webhooks land in the inbox; the processor turns stored events into incidents and runs.
  const pagerdutyLog = logger.child({ component: 'pagerduty' });
  const findByPagerdutyId = (id: string): Promise<Incident | undefined> => store.incidents.byPagerdutyId(id);
  // On PostgreSQL each event to process becomes a job in the same commit: one replica's worker takes it.
  const eventJobs = store.kind === 'postgres' ? store.jobs.pagerdutyEvents : undefined;
  const inbox = createPagerdutyInbox({
    uow: store,
    audit: store.audit,
    events: store.pagerdutyEvents,
    findByPagerdutyId,
    ...(eventJobs ? { onPending: (ids: string[]) => eventJobs.enqueue(ids.map((eventId) => ({ key: eventId, data: { eventId } }))) } : {}),
  });
  const processor = createPagerdutyProcessor({
    uow: store,
    audit: store.audit,
    events: store.pagerdutyEvents,
    incidents,
    findByPagerdutyId,
    runs,
    catalog,
    clock,
    onMessages: notifyMessages,
    onError: (err, eventId) => pagerdutyLog.warn({ err, eventId }, 'pagerduty event could not be processed; it will be retried'),
    // Another replica leaves an applied event's triggers to the worker that applied it, unless it dies.
    ...(store.kind === 'postgres' ? { claimMs: REPLICA_CLAIM_MS } : {}),
  });

  const reminders = createReminderService({ audit: store.audit, incidents, clock, policy: () => catalog().policy });
  const auditAnchor =
    config.slack && config.auditAnchorChannel
      ? createAnchorService({ uow: store, audit: store.audit, outbox: store.outbox, clock, channel: config.auditAnchorChannel })
      : undefined;

  const transcript = (incidentId: string): Promise<TranscriptSource> => transcriptSource(store, incidentId, (id) => transcriptRuns(runStore, id));

  async function exportFile(incidentId: string, format: ExportFormat, file?: string): Promise<string> {
    const target = file ?? path.join(exportsDir, `${incidentId}.${format}`);
    return writeTranscriptFile(await transcript(incidentId), format, target);
  }

  const portalAudit: PortalAudit = async (entry) => {
    await store.transaction(() => store.audit.append({ ...entry, incidentId: entry.incidentId ?? null }));
  };
  const portal = createPortalSignIn({ store: reads.portalSessions, clock, audit: portalAudit });
  const portalLink = async (actor: By['actor'], source: By['source']): Promise<string> =>
    signInLink(config.publicUrl, (await portal.issueLink(actor, source)).token);

  const incidentDeps: IncidentCommandDeps = {
    incidents,
    portalLink,
    access,
    visibility,
    deliverExport: async (by: By, incident: Incident, format: ExportFormat) => {
      if (options.exportDelivery !== 'chat') return exportFile(incident.id, format);
      await incidents.requestExport(by, incident.id, format);
      return `it will be uploaded to #${incident.channelName} shortly`;
    },
  };
  const runbookDeps: RunbookCommandDeps = { runs, visibility, access, catalog };

  const oncall = oncallCommandDeps(config);
  const handle = createSlashRouter({
    '/incident': (ctx, text) => handleIncidentCommand(incidentDeps, ctx, text),
    '/runbook': (ctx, text) => handleRunbookCommand(runbookDeps, ctx, text),
    '/oncall': (ctx, text) => handleOncallCommand(oncall, ctx, text),
  });

  return {
    config,
    logger,
    clock,
    store,
    catalog,
    incidents,
    runs,
    reminders,
    auditAnchor,
    portalOpsReads: reads.portalOpsReads,
    access,
    visibility,
    pins: createPinnedMessages({ audit: store.audit }),
    handle,
    commandWrites: { defer: (work) => store.deferSync(work), durable: () => store.durable() },
    health: { writable: () => store.writable() },
    outboxes: {
      dispatch: (dispatchOptions) =>
        startOutboxDispatcher({
          ...dispatchOptions,
          outbox: store.outbox,
          audit: store.audit,
          uow: store,
          // A dead replica's channels are taken over after the same timeout as its runs (EDGEOPS_REPLICA_TIMEOUT_SECONDS).
          ...(channelLeases ? { leases: channelLeases, leaseMs: config.replicas.timeoutMs } : {}),
        }),
      receipt: (target, key) => store.outbox.receipt(target, key),
      due: (target, now, limit) => store.outbox.due(target, now, limit),
      markSent: (id, now, receipt) => store.outbox.markSent(id, now, receipt),
    },
    pagerduty: {
      inbox,
      processDue: (limit) => processor.processDue(limit),
      incidentFor: findByPagerdutyId,
      unfinished: async () => {
        const counts = await store.pagerdutyEvents.countByState();
        return counts.pending + counts.applied;
      },
      startProcessing: ({ logger: log, idlePollMs }) =>
        eventJobs
          ? startEventJobs({
              queue: eventJobs,
              processor,
              stateOf: async (id) => (await store.pagerdutyEvents.get(id))?.state,
              unfinished: async () => (await store.pagerdutyEvents.unfinished(SWEEP_LIMIT)).map((e) => e.eventId),
              clock,
              logger: log,
            })
          : startEventWorker({ processor, logger: log, clock, ...(idlePollMs === undefined ? {} : { idlePollMs }) }),
    },
    metricsSource: reads.metricsSource,
    catalogLog: {
      reloaded: async (loaded) => {
        await store.transaction(() =>
          store.audit.append({
            actor: 'system',
            source: 'system',
            kind: 'policy_reloaded',
            payload: { policy_hash: loaded.policyHash, commands_hash: loaded.commandsHash, procedures: [...loaded.procedures.keys()].sort() },
          }),
        );
      },
      reloadFailed: async (errors, keptPolicyHash) => {
        await store.transaction(() =>
          store.audit.append({ actor: 'system', source: 'system', kind: 'policy_reload_failed', payload: { errors, kept_policy_hash: keptPolicyHash } }),
        );
      },
    },
    portal,
    portalReads: reads.portalReads,
    portalLink,
    portalAudit,
    groupsOf: (userId) => groupDirectory?.(userId),
    exportFile,
    transcript,
    onMessages(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    notifyMessages,
    useGroupDirectory(groupsOf) {
      groupDirectory = groupsOf;
    },
    close: () => {
      // The listener holds a connection of the pool, which its owner ends after this.
      void outboxWakeups?.stop();
      if (ownsStore && store.kind === 'sqlite') store.close();
    },
  };
}

/** The reads each backend answers with queries of its own: portal sessions and pages, reports, /metrics. */
function backendReads(store: Backend): {
  portalSessions: PortalSessionStore;
  portalReads: PortalReadModel;
  portalOpsReads: PortalOpsReads;
  metricsSource: MetricsSource;
} {
  if (store.kind === 'sqlite') {
    // Made on the store's one connection outside it: each waits for another caller's open transaction.
    return {
      portalSessions: store.guard(sqlitePortalSessions(store.db)),
      portalReads: store.guard(sqlitePortalQueries(store.db)),
      portalOpsReads: store.guard(sqlitePortalOpsReads(store.db, store.audit)),
      metricsSource: store.guard(sqliteMetricsSource(store.db)),
    };
  }
  return {
    portalSessions: postgresPortalSessions(store.session),
    portalReads: postgresPortalQueries(store.session),
    portalOpsReads: postgresPortalOpsReads(store.session, store.audit),
    metricsSource: postgresMetricsSource(store.session),
  };
}

/**
 * What a long-running process starts once the app is built, in this order: database checkpoints on a
 * worker thread (never inside a command's commit), runs left by a dead process marked interrupted,
 * then the scheduled tasks (reminders, approval expiry, the audit anchor, procedures' schedules).
 */
export async function startBackground(
  app: ComposedApp<Backend>,
  options: { checkpointInBackground: boolean; recoverRuns: boolean; schedule: boolean },
): Promise<{ interrupted: Run[]; stop(): Promise<void> }> {
  const { logger } = app;
  // Only SQLite has a write-ahead log of its own to checkpoint; PostgreSQL checkpoints itself.
  if (options.checkpointInBackground && app.store.kind === 'sqlite') {
    app.store.checkpointInBackground({
      onError: (err) => logger.error({ err }, 'background checkpoints stopped; the database checkpoints on commit again'),
    });
  }
  if (app.store.kind === 'postgres' && app.store.replica) return startReplica(app as ComposedApp<PostgresStore>, app.store.replica, options);
  const interrupted = options.recoverRuns ? await app.runs.recoverInterrupted() : [];
  for (const run of interrupted) logger.warn({ runId: run.id, procedure: run.procedure }, 'run interrupted by a previous stop');
  const scheduler = options.schedule ? startScheduler({ app, logger }) : undefined;
  return { interrupted, stop: async () => scheduler?.stop() };
}

/**
 * One of several replicas on PostgreSQL: its heartbeat registers it and, at start and every beat,
 * interrupts the runs of replicas that stopped answering (never a live one's: `recoverInterrupted`,
 * which judges by this host's processes, is not used here); each scheduled tick is one job on the
 * shared queue, run by the replica that takes it. The heartbeat starts before the replica takes any command, so its runs
 * are never taken for ownerless.
 */
async function startReplica(
  app: ComposedApp<PostgresStore>,
  replica: ReplicaIdentity,
  options: { schedule: boolean },
): Promise<{ interrupted: Run[]; stop(): Promise<void> }> {
  const { logger } = app;
  const heartbeat = new ReplicaHeartbeat({
    session: app.store.session,
    replica,
    heartbeatMs: app.config.replicas.heartbeatMs,
    timeoutMs: app.config.replicas.timeoutMs,
    interruptRuns: (ids, reason) => app.runs.interruptRuns(ids, reason),
    isAlive,
    onReaped: ({ replica: lost, runs }) => {
      for (const run of runs) {
        logger.warn({ runId: run.id, procedure: run.procedure, replica: lost?.id, host: lost?.host }, 'run interrupted: the replica executing it stopped');
      }
      app.notifyMessages();
    },
    onRevived: () => logger.error({ replica: replica.id }, 'this replica was taken for dead; other replicas interrupted its runs'),
    onError: (err) => logger.error({ err }, 'replica heartbeat failed; it is tried again at the next beat'),
  });
  const interrupted = (await heartbeat.start()).flatMap((r) => r.runs);
  logger.info({ replica: replica.id, host: replica.host }, 'replica registered');
  const scheduler = options.schedule ? await startReplicaScheduler({ app, logger, ticks: app.store.jobs.ticks }) : undefined;
  return {
    interrupted,
    stop: async () => {
      await scheduler?.stop();
      await heartbeat.stop();
    },
  };
}

/**
 * The record of one database for readers that change nothing (`edgeops export`): transcripts, no
 * catalog, no services. PostgreSQL when `postgres` is given (EDGEOPS_DATABASE_URL), else the SQLite file.
 */
export async function openRecord(options: {
  file: string;
  auditKey: string;
  postgres?: PostgresTarget;
}): Promise<{ transcript(incidentId: string): Promise<TranscriptSource>; close(): Promise<void> }> {
  const store: Backend = options.postgres
    ? await PostgresStore.open({
        target: options.postgres,
        auditKey: options.auditKey,
        clock: systemClock,
        poolMax: 2,
        applicationName: 'edgeops export',
        jobs: false,
      })
    : Store.create({ file: options.file, auditKey: options.auditKey, clock: systemClock });
  return {
    transcript: (incidentId) => transcriptSource(store, incidentId, (id) => transcriptRuns(store.runs, id)),
    close: async () => {
      await store.close();
    },
  };
}
