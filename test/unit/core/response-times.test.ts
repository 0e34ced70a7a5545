// Response-time reports: nearest-rank percentiles, means, groups, and the window of days.
import { describe, expect, it } from 'vitest';
import { NO_SERVICE, percentile, responseReport, timeStats, type IncidentTimes } from '../../../src/core/portal/response-times.js';

const MIN = 60_000;
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 2, 31);

const incident = (daysAgo: number, fields: Partial<IncidentTimes> & { ack?: number; resolve?: number }): IncidentTimes => {
  const declaredAt = NOW - daysAgo * DAY;
  return {
    severity: fields.severity ?? 2,
    service: fields.service === undefined ? 'api' : fields.service,
    declaredAt,
    acknowledgedAt: fields.ack === undefined ? null : declaredAt + fields.ack * MIN,
    resolvedAt: fields.resolve === undefined ? null : declaredAt + fields.resolve * MIN,
  };
};

describe('response times', () => {
  it('takes nearest-rank percentiles: p50 of 1..10 is 5, p90 is 9, and one value is every percentile', () => {
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(ten, 50)).toBe(5);
    expect(percentile(ten, 90)).toBe(9);
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 90)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it('gives count, p50, p90 and a rounded mean, and nulls for no durations', () => {
    expect(timeStats([30, 10, 20])).toEqual({ count: 3, p50: 20, p90: 30, mean: 20 });
    expect(timeStats([1, 2])).toEqual({ count: 2, p50: 1, p90: 2, mean: 2 });
    expect(timeStats([])).toEqual({ count: 0, p50: null, p90: null, mean: null });
  });

  it('groups by service and severity over the window, leaving out older incidents and counting only acknowledged or resolved ones in each time', () => {
    const report = responseReport(
      [incident(40, { ack: 1, resolve: 2 }), incident(10, { ack: 5, resolve: 60 }), incident(5, { ack: 15 }), incident(2, { service: null, severity: 1 })],
      NOW,
      30,
    );
    expect(report.total).toBe(3);
    expect(report.since).toBe(NOW - 30 * DAY);
    expect(report.byService).toEqual([
      {
        group: NO_SERVICE,
        incidents: 1,
        acknowledge: { count: 0, p50: null, p90: null, mean: null },
        resolve: { count: 0, p50: null, p90: null, mean: null },
      },
      {
        group: 'api',
        incidents: 2,
        acknowledge: { count: 2, p50: 5 * MIN, p90: 15 * MIN, mean: 10 * MIN },
        resolve: { count: 1, p50: 60 * MIN, p90: 60 * MIN, mean: 60 * MIN },
      },
    ]);
    expect(report.bySeverity.map((r) => [r.group, r.incidents])).toEqual([
      ['SEV1', 1],
      ['SEV2', 2],
    ]);
    expect(responseReport([incident(40, { ack: 1 })], NOW, 90).byService[0]!.acknowledge.count).toBe(1);
  });

  it('never reports a negative time when the clock stepped back between declaring and acknowledging', () => {
    const report = responseReport([{ ...incident(1, {}), acknowledgedAt: NOW - DAY - MIN }], NOW, 30);
    expect(report.byService[0]!.acknowledge).toEqual({ count: 1, p50: 0, p90: 0, mean: 0 });
  });
});
