// Durable facts for /metrics, read from SQLite at scrape time, so figures survive restarts.
import type { MetricsSource } from '../core/metrics/metrics-source.js';
import type { Db } from './database.js';

export type { MetricsSource };

export function sqliteMetricsSource(db: Db): MetricsSource {
  // better-sqlite3 answers synchronously; the port is async for the backends that cannot.
  return {
    runsByOutcome: async () =>
      db.prepare('SELECT procedure, state, COUNT(*) AS count FROM runs GROUP BY procedure, state').all() as Array<{
        procedure: string;
        state: string;
        count: number;
      }>,
    outboxDepth: async () =>
      db.prepare("SELECT target, COUNT(*) AS count FROM outbox WHERE state = 'pending' GROUP BY target").all() as Array<{ target: string; count: number }>,
    outboxFailed: async () =>
      db.prepare("SELECT target, COUNT(*) AS count FROM outbox WHERE state = 'failed' GROUP BY target").all() as Array<{ target: string; count: number }>,
    incidentDurations: async () =>
      db
        .prepare(
          // /metrics answers without sign-in: a private incident's service is not named there.
          `SELECT CASE WHEN private = 1 THEN 'private' ELSE COALESCE(service, 'none') END AS service,
                  acknowledged_at - declared_at AS ttaMs,
                  resolved_at - declared_at AS ttrMs
           FROM incidents WHERE acknowledged_at IS NOT NULL OR resolved_at IS NOT NULL`,
        )
        .all() as Array<{ service: string; ttaMs: number | null; ttrMs: number | null }>,
    openIncidents: async () =>
      db.prepare("SELECT severity, COUNT(*) AS count FROM incidents WHERE status != 'resolved' GROUP BY severity").all() as Array<{
        severity: number;
        count: number;
      }>,
  };
}
