// Prometheus metrics (docs/http.md): in-process counters for traffic, and durable figures read at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsSource } from '../../core/metrics/metrics-source.js';

/** Incident durations span seconds to days. */
const DURATION_BUCKETS_S = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200];

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  /** Seconds from a Slack request (command, click, event) arriving to its acknowledgement. */
  ackLatency: Histogram;
  /** PagerDuty webhook deliveries by outcome: accepted, duplicate, rejected. */
  webhookDeliveries: Counter<'outcome'>;
  /** Records one HTTP response (the server's onResponse, which receives it detached). */
  observeResponse: (route: string, method: string, status: number, seconds: number) => void;
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(source: MetricsSource, options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'edgeops_' });

  const httpRequests = new Counter({
    name: 'edgeops_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const ackLatency = new Histogram({
    name: 'edgeops_command_ack_seconds',
    help: 'Time from a Slack request (slash command, button, event) arriving to its acknowledgement',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3],
    registers: [registry],
  });
  const webhookDeliveries = new Counter({
    name: 'edgeops_webhook_deliveries_total',
    help: 'PagerDuty webhook deliveries by outcome (accepted, duplicate, rejected)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  new Counter({
    name: 'edgeops_procedure_runs_total',
    help: 'Procedure runs by procedure and outcome (from the database)',
    labelNames: ['procedure', 'state'] as const,
    registers: [registry],
    async collect() {
      const rows = await source.runsByOutcome();
      this.reset();
      for (const r of rows) this.inc({ procedure: r.procedure, state: r.state }, r.count);
    },
  });
  new Gauge({
    name: 'edgeops_outbox_depth',
    help: 'Messages waiting to be delivered, by target',
    labelNames: ['target'] as const,
    registers: [registry],
    async collect() {
      const rows = await source.outboxDepth();
      this.reset();
      for (const target of ['slack', 'pagerduty']) this.set({ target }, 0);
      for (const r of rows) this.set({ target: r.target }, r.count);
    },
  });
  new Gauge({
    name: 'edgeops_outbox_failed',
    help: 'Messages given up on (permanent delivery errors), by target',
    labelNames: ['target'] as const,
    registers: [registry],
    async collect() {
      const rows = await source.outboxFailed();
      this.reset();
      for (const r of rows) this.set({ target: r.target }, r.count);
    },
  });
  new Gauge({
    name: 'edgeops_open_incidents',
    help: 'Open incidents by severity',
    labelNames: ['severity'] as const,
    registers: [registry],
    async collect() {
      const rows = await source.openIncidents();
      this.reset();
      for (const r of rows) this.set({ severity: String(r.severity) }, r.count);
    },
  });
  const durations = (name: string, help: string, pick: (r: { ttaMs: number | null; ttrMs: number | null }) => number | null) =>
    new Histogram({
      name,
      help,
      labelNames: ['service'] as const,
      buckets: DURATION_BUCKETS_S,
      registers: [registry],
      async collect() {
        const rows = await source.incidentDurations();
        this.reset();
        for (const r of rows) {
          const ms = pick(r);
          if (ms !== null) this.observe({ service: r.service }, ms / 1000);
        }
      },
    });
  durations('edgeops_time_to_acknowledge_seconds', 'Time from declaring an incident to acknowledging it, by service', (r) => r.ttaMs);
  durations('edgeops_time_to_resolve_seconds', 'Time from declaring an incident to resolving it, by service', (r) => r.ttrMs);

  return {
    registry,
    httpRequests,
    ackLatency,
    webhookDeliveries,
    observeResponse(route, method, status, seconds) {
      httpRequests.inc({ route, method, status: String(status) });
      if (route === '/slack/events') ackLatency.observe(seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
