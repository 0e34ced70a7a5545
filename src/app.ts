// The composition root: config → store → catalog → services → command router. Adapters receive an App.
import path from 'node:path';
import { createHttpStepRunner } from './adapters/steps/http-step.js';
import { createProcessStepRunner, killProcessGroup } from './adapters/steps/process-step.js';
import { createProgramFiles } from './adapters/steps/program-files.js';
import { writeTranscriptFile } from './adapters/export/write-transcript.js';
import { linkKey, runOutputLink } from './adapters/http/run-output-link.js';
import { oncallCommandDeps } from './adapters/pagerduty/index.js';
import type { Catalog } from './catalog/load-catalog.js';
import type { TranscriptSource } from './core/export/transcript.js';
import { botCredentials, type Config, type Env } from './config.js';
import type { AccessControl } from './core/access.js';
import { createAnchorService, type AnchorService } from './core/audit/anchor-service.js';
import type { PortalOpsReads } from './core/portal/portal-ops-reads.js';
import { sqlitePortalOpsReads } from './storage/sqlite-portal-ops-reads.js';
import { handleIncidentCommand, type ExportFormat, type IncidentCommandDeps } from './core/commands/incident-commands.js';
import { handleOncallCommand } from './core/commands/oncall-commands.js';
import { handleRunbookCommand, type RunbookCommandDeps } from './core/commands/runbook-commands.js';
import { createSlashRouter, type SlashRouter } from './core/commands/slash-commands.js';
import type { Incident } from './core/incidents/incident.js';
import { createIncidentService, type IncidentService } from './core/incidents/incident-service.js';
import { createIncidentVisibility, type IncidentVisibility } from './core/incidents/incident-visibility.js';
import { createReminderService, type ReminderService } from './core/incidents/reminder-service.js';
import { createPagerdutySync } from './core/pagerduty/pagerduty-sync.js';
import { createPolicyAccess } from './core/policy-access.js';
import { systemClock, type By, type Clock } from './core/ports.js';
import { createRunService, type RunService } from './core/runs/run-service.js';
import { createPortalSignIn, type PortalSignIn } from './core/portal/portal-sessions.js';
import { signInLink } from './adapters/portal/portal-paths.js';
import { sqlitePortalSessions } from './storage/sqlite-portal-sessions.js';
import type { Logger } from './log.js';
import { Store } from './storage/store.js';
import { transcriptRuns, transcriptSource } from './storage/transcript-source.js';
import { SqliteRunStore } from './storage/sqlite-run-store.js';

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
}

export interface App {
  config: Config;
  logger: Logger;
  clock: Clock;
  store: Store;
  catalog: () => Catalog;
  incidents: IncidentService;
  runs: RunService;
  reminders: ReminderService;
  /** Posts the audit chain head to EDGEOPS_AUDIT_ANCHOR_CHANNEL daily; only with Slack and the channel set. */
  auditAnchor: AnchorService | undefined;
  /** The reads behind the portal's reports and audit pages (incidents since a time, the chain's status). */
  portalOpsReads: PortalOpsReads;
  access: AccessControl;
  /** Incidents as a given person may know of them (private ones only to their members). */
  visibility: IncidentVisibility;
  handle: SlashRouter;
  /** Portal sign-in links and sessions (docs/portal.md). */
  portal: PortalSignIn;
  /** A one-time portal sign-in link for this person (`/incident portal`, the console's `/portal`). */
  portalLink(actor: By['actor'], source: By['source']): Promise<string>;
  /** The user's Slack groups read the way slash commands read them; undefined without a group directory (local mode). */
  groupsOf(userId: string): Promise<string[]> | undefined;
  exportFile(incidentId: string, format: ExportFormat, file?: string): Promise<string>;
  /** What a transcript of the incident is made from (read lazily from the store). */
  transcript(incidentId: string): TranscriptSource;
  /** Called whenever background work queued channel messages. */
  onMessages(listener: () => void): () => void;
  /** Tells the onMessages listeners that work outside a command (PagerDuty event processing) queued messages. */
  notifyMessages(): void;
  /**
   * Where Slack users' groups are read now (the Slack server's group directory): runs are decided
   * again with them when approved and before they execute.
   */
  useGroupDirectory(groupsOf: (userId: string) => Promise<string[]>): void;
  close(): void;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export function createApp(options: AppOptions): App {
  const { config, logger, catalog } = options;
  const clock = options.clock ?? systemClock;
  const store = Store.create({ file: config.dbPath, auditKey: options.auditKey, clock });
  const exportsDir = options.exportsDir ?? path.resolve('exports');
  const listeners = new Set<() => void>();
  const notifyMessages = (): void => {
    for (const listener of listeners) listener();
  };
  // With a PagerDuty token, acks and resolves of PagerDuty incidents and triggered runs' results go back there.
  const pagerdutySync = config.pagerduty.apiToken ? createPagerdutySync({ outbox: store.outbox, findIncident: (id) => store.incidents.get(id) }) : undefined;
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
  const runStore = new SqliteRunStore(store.db);
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
    onFinished: (run, steps, causeSeq) => {
      logger.info({ runId: run.id, procedure: run.procedure, environment: run.environment, state: run.state, incidentId: run.incidentId }, 'run finished');
      pagerdutySync?.onRunFinished(run, steps, causeSeq);
    },
    outputLink: (runId) => runOutputLink({ publicUrl: config.publicUrl, key: outputKey, runId, now: clock.now() }),
  });

  const reminders = createReminderService({ audit: store.audit, incidents, clock, policy: () => catalog().policy });
  const auditAnchor =
    config.slack && config.auditAnchorChannel
      ? createAnchorService({ uow: store, audit: store.audit, outbox: store.outbox, clock, channel: config.auditAnchorChannel })
      : undefined;

  const transcript = (incidentId: string): TranscriptSource => transcriptSource(store, incidentId, (id) => transcriptRuns(runStore, id));

  async function exportFile(incidentId: string, format: ExportFormat, file?: string): Promise<string> {
    const target = file ?? path.join(exportsDir, `${incidentId}.${format}`);
    return writeTranscriptFile(transcript(incidentId), format, target);
  }

  const portal = createPortalSignIn({
    store: sqlitePortalSessions(store.db),
    clock,
    audit: (entry) => {
      store.transaction(() => store.audit.append({ ...entry, incidentId: entry.incidentId ?? null }));
    },
  });
  const portalLink = async (actor: By['actor'], source: By['source']): Promise<string> =>
    signInLink(config.publicUrl, (await portal.issueLink(actor, source)).token);

  const incidentDeps: IncidentCommandDeps = {
    incidents,
    portalLink,
    access,
    visibility,
    deliverExport: async (by: By, incident: Incident, format: ExportFormat) => {
      if (options.exportDelivery !== 'chat') return exportFile(incident.id, format);
      incidents.requestExport(by, incident.id, format);
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
    portalOpsReads: sqlitePortalOpsReads(store.db, store.audit),
    access,
    visibility,
    handle,
    portal,
    portalLink,
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
    close: () => store.close(),
  };
}
