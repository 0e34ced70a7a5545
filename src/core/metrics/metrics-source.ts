// The durable figures /metrics reads at scrape time (docs/http.md), whatever database keeps them.

export interface MetricsSource {
  runsByOutcome(): Array<{ procedure: string; state: string; count: number }>;
  outboxDepth(): Array<{ target: string; count: number }>;
  outboxFailed(): Array<{ target: string; count: number }>;
  /** Time to acknowledge and to resolve of every incident that has them, by service (`private` for private incidents). */
  incidentDurations(): Array<{ service: string; ttaMs: number | null; ttrMs: number | null }>;
  openIncidents(): Array<{ severity: number; count: number }>;
}
