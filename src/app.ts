// The composition root: config → store → services → command router. Adapters receive an App.
import path from 'node:path';
import type { Config } from './config.js';
import type { AccessControl } from './core/access.js';
import type { CommandContext } from './core/commands/command-context.js';
import { handleIncidentCommand, type ExportFormat, type IncidentCommandDeps } from './core/commands/incident-commands.js';
import { createSlashRouter, type SlashRouter } from './core/commands/slash-commands.js';
import type { Incident } from './core/incidents/incident.js';
import { createIncidentService, type IncidentService } from './core/incidents/incident-service.js';
import { systemClock, type Clock } from './core/ports.js';
import { writeTranscriptFile } from './adapters/export/write-transcript.js';
import type { Logger } from './log.js';
import { Store } from './storage/store.js';
import { transcriptSource } from './storage/transcript-source.js';

export interface AppOptions {
  config: Config;
  logger: Logger;
  auditKey: string;
  clock?: Clock;
  access: AccessControl;
  /** Where `/incident export` writes files in local mode. */
  exportsDir?: string;
}

export interface App {
  config: Config;
  logger: Logger;
  clock: Clock;
  store: Store;
  incidents: IncidentService;
  access: AccessControl;
  handle: SlashRouter;
  exportFile(incidentId: string, format: ExportFormat, file?: string): Promise<string>;
  close(): void;
}

export function createApp(options: AppOptions): App {
  const { config, logger, access } = options;
  const clock = options.clock ?? systemClock;
  const store = Store.create({ file: config.dbPath, auditKey: options.auditKey, clock });
  const exportsDir = options.exportsDir ?? path.resolve('exports');
  const incidents = createIncidentService({
    uow: store,
    audit: store.audit,
    incidents: store.incidents,
    outbox: store.outbox,
    clock,
  });

  async function exportFile(incidentId: string, format: ExportFormat, file?: string): Promise<string> {
    const target = file ?? path.join(exportsDir, `${incidentId}.${format}`);
    return writeTranscriptFile(transcriptSource(store, incidentId), format, target);
  }

  const incidentDeps: IncidentCommandDeps = {
    incidents,
    access,
    deliverExport: (_ctx: CommandContext, incident: Incident, format: ExportFormat) => exportFile(incident.id, format),
  };

  const handle = createSlashRouter({
    '/incident': (ctx, text) => handleIncidentCommand(incidentDeps, ctx, text),
  });

  return {
    config,
    logger,
    clock,
    store,
    incidents,
    access,
    handle,
    exportFile,
    close: () => store.close(),
  };
}
