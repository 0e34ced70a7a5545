// /metrics content: valid Prometheus text whose figures move with what happens in the database.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/adapters/metrics/metrics.js';
import { sqliteMetricsSource } from '../../src/storage/sqlite-metrics-source.js';
import { parsePrometheus } from '../helpers/prometheus.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';
import { makeRunFixture, type RunFixture } from './runs/run-fixture.js';

let f: RunFixture;
beforeEach(() => {
  f = makeRunFixture(makeTempDir('metrics'));
});
afterEach(async () => {
  await f.app.runs.idle();
  f.app.close();
  removeTempDirs();
});

describe('metrics', () => {
  it('parse as Prometheus text and follow runs, incidents, the outbox and traffic', async () => {
    const metrics = createMetrics(sqliteMetricsSource(f.app.store.db));
    const scrape = async () => parsePrometheus((await metrics.render()).body);

    const before = await scrape();
    expect(before.get('edgeops_outbox_depth{target="slack"}')).toBe(0);
    expect(before.has('edgeops_process_resident_memory_bytes')).toBe(true);

    await f.say(f.ctx('U0SRE0001'), '/incident', 'declare Checkout down sev=1 service=checkout');
    f.now.value += 90_000;
    await f.say(f.ctx('U0SRE0001'), '/incident', 'ack incident=INC-1');
    f.now.value += 3_600_000;
    await f.say(f.ctx('U0SRE0001'), '/incident', 'resolve incident=INC-1');
    await f.say(f.ctx('U0DEV0001'), '/runbook', 'run echo-args msg=hi');
    await f.say(f.ctx('U0DEV0001'), '/runbook', 'run short-fuse');
    await f.app.runs.idle();
    metrics.observeResponse('/slack/events', 'POST', 200, 0.012);
    metrics.webhookDeliveries.inc({ outcome: 'duplicate' }, 3);

    const after = await scrape();
    expect(after.get('edgeops_procedure_runs_total{procedure="echo-args",state="succeeded"}')).toBe(1);
    expect(after.get('edgeops_procedure_runs_total{procedure="short-fuse",state="timed_out"}')).toBe(1);
    expect(after.get('edgeops_outbox_depth{target="slack"}')).toBeGreaterThan(0);
    expect(after.get('edgeops_time_to_acknowledge_seconds_count{service="checkout"}')).toBe(1);
    expect(after.get('edgeops_time_to_acknowledge_seconds_sum{service="checkout"}')).toBe(90);
    expect(after.get('edgeops_time_to_acknowledge_seconds_bucket{le="120",service="checkout"}')).toBe(1);
    expect(after.get('edgeops_time_to_acknowledge_seconds_bucket{le="60",service="checkout"}')).toBe(0);
    expect(after.get('edgeops_time_to_resolve_seconds_sum{service="checkout"}')).toBe(3690);
    expect(after.get('edgeops_http_requests_total{route="/slack/events",method="POST",status="200"}')).toBe(1);
    expect(after.get('edgeops_webhook_deliveries_total{outcome="duplicate"}')).toBe(3);
    expect(after.get('edgeops_command_ack_seconds_count')).toBe(1);
    expect(after.get('edgeops_command_ack_seconds_bucket{le="0.025"}')).toBe(1);

    // A private incident's service never appears as a label: /metrics answers without sign-in.
    await f.say(f.ctx('U0SRE0001'), '/incident', 'declare Secret merger sev=2 service=acquisition-talks --private');
    await f.say(f.ctx('U0SRE0001'), '/incident', 'ack incident=INC-2');
    const withPrivate = await scrape();
    expect([...withPrivate.keys()].some((k) => k.includes('acquisition-talks'))).toBe(false);
    expect(withPrivate.get('edgeops_time_to_acknowledge_seconds_count{service="private"}')).toBe(1);

    // Scraping twice never double counts durable figures.
    const again = await scrape();
    expect(again.get('edgeops_procedure_runs_total{procedure="echo-args",state="succeeded"}')).toBe(1);
  });
});
