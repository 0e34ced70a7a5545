// Time to acknowledge and to resolve, per service and per severity, over a window of days: count, p50, p90, mean. Pure.

export const REPORT_WINDOWS = [30, 90] as const;
export type ReportWindow = (typeof REPORT_WINDOWS)[number];

const DAY_MS = 86_400_000;

/** What a report needs of one incident the viewer may see. */
export interface IncidentTimes {
  severity: number;
  /** Incidents without a service are reported under "(no service)". */
  service: string | null;
  declaredAt: number;
  acknowledgedAt: number | null;
  resolvedAt: number | null;
}

export interface TimeStats {
  /** Incidents that reached the state (acknowledged / resolved) in the window. */
  count: number;
  /** Milliseconds; null when count is 0. */
  p50: number | null;
  p90: number | null;
  mean: number | null;
}

export interface ReportRow {
  /** The service name or `SEV2`. */
  group: string;
  /** Incidents declared in the window in this group, acknowledged or not. */
  incidents: number;
  acknowledge: TimeStats;
  resolve: TimeStats;
}

export interface ResponseReport {
  days: ReportWindow;
  /** The window: incidents declared at or after `since`, before `until`. */
  since: number;
  until: number;
  total: number;
  byService: ReportRow[];
  bySeverity: ReportRow[];
}

export const NO_SERVICE = '(no service)';

export const windowStart = (now: number, days: ReportWindow): number => now - days * DAY_MS;

/** Nearest-rank percentile: the smallest value with at least `p`% of the values at or below it. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function timeStats(durations: readonly number[]): TimeStats {
  const sorted = [...durations].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0, p50: null, p90: null, mean: null };
  const mean = Math.round(sorted.reduce((s, d) => s + d, 0) / sorted.length);
  return { count: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), mean };
}

function rows(incidents: readonly IncidentTimes[], groupOf: (i: IncidentTimes) => string, order: (a: string, b: string) => number): ReportRow[] {
  const groups = new Map<string, IncidentTimes[]>();
  for (const i of incidents) {
    const key = groupOf(i);
    const list = groups.get(key) ?? [];
    list.push(i);
    groups.set(key, list);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => order(a, b))
    .map(([group, list]) => ({
      group,
      incidents: list.length,
      // A clock step backwards must not make a negative duration.
      acknowledge: timeStats(list.filter((i) => i.acknowledgedAt !== null).map((i) => Math.max(0, i.acknowledgedAt! - i.declaredAt))),
      resolve: timeStats(list.filter((i) => i.resolvedAt !== null).map((i) => Math.max(0, i.resolvedAt! - i.declaredAt))),
    }));
}

/** The report over incidents declared in the last `days` days before `now` (others given are left out). */
export function responseReport(incidents: readonly IncidentTimes[], now: number, days: ReportWindow): ResponseReport {
  const since = windowStart(now, days);
  const inWindow = incidents.filter((i) => i.declaredAt >= since && i.declaredAt < now);
  return {
    days,
    since,
    until: now,
    total: inWindow.length,
    byService: rows(
      inWindow,
      (i) => i.service ?? NO_SERVICE,
      (a, b) => a.localeCompare(b),
    ),
    bySeverity: rows(
      inWindow,
      (i) => `SEV${i.severity}`,
      (a, b) => a.localeCompare(b),
    ),
  };
}
