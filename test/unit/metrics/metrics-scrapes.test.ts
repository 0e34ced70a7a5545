// /metrics scrapes that overlap (two Prometheus servers) each report the database's figures once.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/adapters/metrics/metrics.js';
import type { MetricsSource } from '../../../src/core/metrics/metrics-source.js';
import { parsePrometheus } from '../../helpers/prometheus.js';

/** A source whose reads answer only when the test says, as a database under load would. */
function heldSource() {
  const waiting: Array<() => void> = [];
  const held = <T>(value: T): Promise<T> => new Promise((resolve) => waiting.push(() => resolve(value)));
  const source: MetricsSource = {
    runsByOutcome: () => held([{ procedure: 'restart', state: 'succeeded', count: 3 }]),
    outboxDepth: () => held([{ target: 'slack', count: 2 }]),
    outboxFailed: () => held([{ target: 'slack', count: 1 }]),
    incidentDurations: () => held([{ service: 'checkout', ttaMs: 90_000, ttrMs: 3_600_000 }]),
    openIncidents: () => held([{ severity: 1, count: 4 }]),
  };
  /** Lets the reads start, then answers all of them at once; returns how many were waiting. */
  const release = async (): Promise<number> => {
    for (let i = 0; i < 50 && waiting.length < 12; i++) await Promise.resolve();
    const answers = waiting.splice(0);
    for (const answer of answers) answer();
    return answers.length;
  };
  return { source, release };
}

describe('metrics scrapes', () => {
  it('report each durable figure once when two scrapes read the database at the same time', async () => {
    const { source, release } = heldSource();
    const metrics = createMetrics(source, { defaultMetrics: false });

    const scrapes = Promise.all([metrics.render(), metrics.render()]);
    // Both scrapes are in their six reads (runs, depth, failed, open, and durations for two histograms).
    expect(await release()).toBe(12);
    const [first, second] = (await scrapes).map((r) => parsePrometheus(r.body));

    for (const scrape of [first!, second!]) {
      expect(scrape.get('edgeops_procedure_runs_total{procedure="restart",state="succeeded"}')).toBe(3);
      expect(scrape.get('edgeops_outbox_depth{target="slack"}')).toBe(2);
      expect(scrape.get('edgeops_open_incidents{severity="1"}')).toBe(4);
      expect(scrape.get('edgeops_time_to_acknowledge_seconds_count{service="checkout"}')).toBe(1);
      expect(scrape.get('edgeops_time_to_resolve_seconds_sum{service="checkout"}')).toBe(3600);
    }
  });
});
