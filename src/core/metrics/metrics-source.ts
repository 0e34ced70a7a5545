// The durable figures /metrics reads at scrape time (docs/http.md), whatever database keeps them.

/** Async, as every storage port: on PostgreSQL each figure is a query over the network. */
export interface MetricsSource {
  runsByOutcome(): Promise<Array<{ procedure: string; state: string; count: number }>>;
  outboxDepth(): Promise<Array<{ target: string; count: number }>>;
  outboxFailed(): Promise<Array<{ target: string; count: number }>>;
  /** Time to acknowledge and to resolve of every incident that has them, by service (`private` for private incidents). */
  incidentDurations(): Promise<Array<{ service: string; ttaMs: number | null; ttrMs: number | null }>>;
  openIncidents(): Promise<Array<{ severity: number; count: number }>>;
}
