// What the composition root (src/app.ts) hands to adapters and subcommands: one narrow interface per use, never the store.
import type { OutboxDispatcher, OutboxDispatcherOptions } from './adapters/outbox/outbox-dispatcher.js';
import type { EventWorker } from './adapters/pagerduty/event-worker.js';
import type { Catalog } from './catalog/load-catalog.js';
import type { Config } from './config.js';
import type { AccessControl } from './core/access.js';
import type { AnchorService } from './core/audit/anchor-service.js';
import type { ExportFormat } from './core/commands/incident-commands.js';
import type { SlashRouter } from './core/commands/slash-commands.js';
import type { TranscriptSource } from './core/export/transcript.js';
import type { Incident } from './core/incidents/incident.js';
import type { IncidentService } from './core/incidents/incident-service.js';
import type { IncidentVisibility } from './core/incidents/incident-visibility.js';
import type { PinnedMessages } from './core/incidents/pinned-messages.js';
import type { ReminderService } from './core/incidents/reminder-service.js';
import type { MetricsSource } from './core/metrics/metrics-source.js';
import type { Outbox } from './core/outbox/outbox.js';
import type { PagerdutyInbox } from './core/pagerduty/pagerduty-inbox.js';
import type { ProcessPass } from './core/pagerduty/pagerduty-processor.js';
import type { PortalOpsReads } from './core/portal/portal-ops-reads.js';
import type { PortalReadModel } from './core/portal/portal-read-model.js';
import type { PortalAudit, PortalSignIn } from './core/portal/portal-sessions.js';
import type { By, Clock } from './core/ports.js';
import type { RunService } from './core/runs/run-service.js';
import type { Logger } from './log.js';

/**
 * The deferred-sync ack path of slash commands (docs/architecture.md): commits made inside `defer`
 * skip their own disk sync, and `durable()` resolves once they (and every earlier commit) are on
 * stable storage, with one sync shared by the commands answered together.
 */
export interface CommandWrites {
  defer<T>(work: () => Promise<T>): Promise<T>;
  durable(): Promise<void>;
}

/** Tells whoever delivers channel messages that some were queued outside a command (runs, PagerDuty events). */
export interface MessageBus {
  onMessages(listener: () => void): () => void;
  notifyMessages(): void;
}

/** What a health check reads: whether the database takes writes now (PostgreSQL answers over the network). */
export interface DatabaseHealth {
  writable(): Promise<boolean>;
}

/** Everything of a dispatcher but the outbox it drains, which the composition root supplies. */
export type DispatchOptions = Omit<OutboxDispatcherOptions, 'outbox' | 'audit' | 'uow'>;

/** The outbox as delivery sees it: a dispatcher per target, the receipts of sent messages, and (local mode) the due messages. */
export interface Outboxes {
  /** Starts delivering one target's outbox in the background. */
  dispatch(options: DispatchOptions): OutboxDispatcher;
  receipt: Outbox['receipt'];
  due: Outbox['due'];
  markSent: Outbox['markSent'];
}

/** PagerDuty's side of the app: where webhooks are stored and how stored events are processed. */
export interface PagerdutyPorts {
  inbox: Pick<PagerdutyInbox, 'receive'>;
  /** One processing pass over the stored events that are due. */
  processDue(limit?: number): Promise<ProcessPass>;
  /** The edgeops incident opened for a PagerDuty incident, if any. */
  incidentFor(pagerdutyIncidentId: string): Promise<Incident | undefined>;
  /** Stored events not yet processed to the end (pending or applied). */
  unfinished(): Promise<number>;
  /**
   * Starts processing stored events in the background: the process's own worker on SQLite; on
   * PostgreSQL, this replica's worker of the job queue the inbox adds each event to.
   */
  startProcessing(options: { logger: Logger; idlePollMs?: number }): EventWorker;
}

/** Records on the audit log what became of an edit of policies and procedures. */
export interface CatalogLog {
  reloaded(catalog: Catalog): Promise<void>;
  reloadFailed(errors: string[], keptPolicyHash: string): Promise<void>;
}

/** Every service the composition root builds; each adapter takes a `Pick` of the few it uses. */
export interface App extends MessageBus {
  config: Config;
  logger: Logger;
  clock: Clock;
  catalog: () => Catalog;
  incidents: IncidentService;
  runs: RunService;
  reminders: ReminderService;
  /** Posts the audit chain head to EDGEOPS_AUDIT_ANCHOR_CHANNEL daily; only with Slack and the channel set. */
  auditAnchor: AnchorService | undefined;
  access: AccessControl;
  /** Incidents as a given person may know of them (private ones only to their members). */
  visibility: IncidentVisibility;
  /** Messages already pinned onto a timeline. */
  pins: PinnedMessages;
  handle: SlashRouter;
  commandWrites: CommandWrites;
  health: DatabaseHealth;
  outboxes: Outboxes;
  pagerduty: PagerdutyPorts;
  /** Durable figures for /metrics. */
  metricsSource: MetricsSource;
  catalogLog: CatalogLog;
  /** Portal sign-in links and sessions (docs/portal.md). */
  portal: PortalSignIn;
  /** The portal's read queries (incident pages, timeline windows), behind their own async port. */
  portalReads: PortalReadModel;
  /** The reads behind the portal's reports and audit pages (incidents since a time, the chain's status). */
  portalOpsReads: PortalOpsReads;
  /** A one-time portal sign-in link for this person (`/incident portal`, the console's `/portal`). */
  portalLink(actor: By['actor'], source: By['source']): Promise<string>;
  /** Records what a person did in the portal (sign-in, sign-out, downloads) on the audit log. */
  portalAudit: PortalAudit;
  /** The user's Slack groups read the way slash commands read them; undefined without a group directory (local mode). */
  groupsOf(userId: string): Promise<string[]> | undefined;
  exportFile(incidentId: string, format: ExportFormat, file?: string): Promise<string>;
  /** What a transcript of the incident is made from (read lazily from the database). */
  transcript(incidentId: string): Promise<TranscriptSource>;
  /**
   * Where Slack users' groups are read now (the Slack server's group directory): runs are decided
   * again with them when approved and before they execute.
   */
  useGroupDirectory(groupsOf: (userId: string) => Promise<string[]>): void;
  close(): void;
}
