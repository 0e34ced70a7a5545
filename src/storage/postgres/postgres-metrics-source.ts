// Durable facts for /metrics, read from PostgreSQL at scrape time: the same figures as the SQLite source.
import type { MetricsSource } from '../../core/metrics/metrics-source.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

export function postgresMetricsSource(session: PostgresUnitOfWork): MetricsSource {
  // COUNT(*) and the differences of BIGINT times are BIGINTs, which the pool reads as numbers (pool.ts).
  const rows = async <R extends object>(sql: string): Promise<R[]> => (await session.current().query<R & Record<string, unknown>>(sql)).rows;
  return {
    runsByOutcome: () =>
      rows<{ procedure: string; state: string; count: number }>('SELECT procedure, state, COUNT(*) AS count FROM runs GROUP BY procedure, state'),
    outboxDepth: () => rows<{ target: string; count: number }>("SELECT target, COUNT(*) AS count FROM outbox WHERE state = 'pending' GROUP BY target"),
    outboxFailed: () => rows<{ target: string; count: number }>("SELECT target, COUNT(*) AS count FROM outbox WHERE state = 'failed' GROUP BY target"),
    incidentDurations: () =>
      rows<{ service: string; ttaMs: number | null; ttrMs: number | null }>(
        // /metrics answers without sign-in: a private incident's service is not named there.
        `SELECT CASE WHEN private THEN 'private' ELSE COALESCE(service, 'none') END AS service,
                acknowledged_at - declared_at AS "ttaMs",
                resolved_at - declared_at AS "ttrMs"
         FROM incidents WHERE acknowledged_at IS NOT NULL OR resolved_at IS NOT NULL`,
      ),
    openIncidents: () =>
      rows<{ severity: number; count: number }>("SELECT severity, COUNT(*) AS count FROM incidents WHERE status != 'resolved' GROUP BY severity"),
  };
}
