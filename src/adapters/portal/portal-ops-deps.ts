// What the procedures, reports and audit pages take beyond the portal's own ports, and where they live (docs/portal.md).
import type { App } from '../../app-ports.js';
import type { PortalOpsReads } from '../../core/portal/portal-ops-reads.js';
import type { CatalogView, RunService } from '../../core/runs/run-service.js';

export interface PortalOpsDeps {
  /** The procedures and policy in force, read once per request. */
  catalog: () => CatalogView;
  /** Runs requested from the portal go through the same service as `/runbook run`. */
  runs: Pick<RunService, 'request'>;
  reads: PortalOpsReads;
  /** The database file, for the exact `edgeops audit verify --db …` to type on the server. */
  dbPath: string;
}

export function portalOpsDeps(app: Pick<App, 'catalog' | 'runs' | 'portalOpsReads' | 'config'>): PortalOpsDeps {
  return {
    catalog: app.catalog,
    runs: app.runs,
    reads: app.portalOpsReads,
    dbPath: app.config.dbPath,
  };
}
