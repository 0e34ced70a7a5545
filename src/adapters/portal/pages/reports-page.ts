// The reports page: time to acknowledge and to resolve per service and per severity over 30 or 90 days, as SVG charts with the numbers beside them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError } from '../../../errors.js';
import { formatDuration } from '../../../core/duration.js';

const durationText = (ms: number): string => formatDuration(ms, 'elapsed');
import { REPORT_WINDOWS, responseReport, windowStart, type ReportRow, type ReportWindow } from '../../../core/portal/response-times.js';
import { html, type Html } from '../html.js';
import { layout } from '../layout.js';
import type { PortalDeps } from '../portal-deps.js';
import { OPS_PATHS } from '../portal-ops-paths.js';
import { pagePath } from '../portal-paths.js';
import { query, sendPage, type Viewer } from '../portal-request.js';
import { shortTime } from './format.js';
import { barChart } from './bar-chart.js';

const dur = (ms: number | null): string => (ms === null ? '—' : durationText(ms));

function table(id: string, caption: string, rows: readonly ReportRow[], groupName: string): Html {
  const cells = (s: ReportRow['acknowledge']) => html`<td>${s.count}</td><td>${dur(s.p50)}</td><td>${dur(s.p90)}</td><td>${dur(s.mean)}</td>`;
  return html`<div class="table-wrap"><table id="${id}" class="report">
<caption>${caption}</caption>
<thead><tr><th scope="col" rowspan="2">${groupName}</th><th scope="col" rowspan="2">Incidents</th><th scope="colgroup" colspan="4">Time to acknowledge</th><th scope="colgroup" colspan="4">Time to resolve</th></tr>
<tr><th scope="col">count</th><th scope="col">p50</th><th scope="col">p90</th><th scope="col">mean</th><th scope="col">count</th><th scope="col">p50</th><th scope="col">p90</th><th scope="col">mean</th></tr></thead>
<tbody>${rows.map((r) => html`<tr><th scope="row">${r.group}</th><td>${r.incidents}</td>${cells(r.acknowledge)}${cells(r.resolve)}</tr>`)}</tbody>
</table></div>`;
}

function section(key: string, heading: string, groupName: string, rows: readonly ReportRow[], days: number): Html {
  const chart = (metric: 'acknowledge' | 'resolve', words: string) =>
    barChart({
      id: `chart-${key}-${metric}`,
      title: `Time to ${words} by ${groupName.toLowerCase()}, last ${days} days`,
      description: `p50 and p90 time to ${words} for each ${groupName.toLowerCase()}; the table beside the charts has every number.`,
      series: ['p50', 'p90'],
      bars: rows.map((r) => ({ label: r.group, values: [r[metric].p50, r[metric].p90] })),
      format: durationText,
    });
  return html`<section class="report" aria-labelledby="h-${key}">
<h2 id="h-${key}">${heading}</h2>
<div class="charts"><figure>${chart('acknowledge', 'acknowledge')}<figcaption>Time to acknowledge, p50 and p90</figcaption></figure><figure>${chart('resolve', 'resolve')}<figcaption>Time to resolve, p50 and p90</figcaption></figure></div>
${table(`table-${key}`, `${heading}, last ${days} days`, rows, groupName)}
</section>`;
}

export function parseWindow(text: string | null): ReportWindow {
  if (text === null || text === '') return 30;
  const days = Number(text);
  if (!(REPORT_WINDOWS as readonly number[]).includes(days)) throw new InputError(`days must be ${REPORT_WINDOWS.join(' or ')} (got "${text}")`);
  return days as ReportWindow;
}

export async function reportsPage(deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> {
  const days = parseWindow(query(req).get('days'));
  const mayView = deps.access.allows(viewer.actor, { action: 'incident.view', channel: null });
  const now = deps.clock.now();
  const since = windowStart(now, days);
  // Only incidents the viewer may view count: private ones for their members (or incident.view_private), then each asked of the policy.
  const found = mayView
    ? await deps.ops.reads.incidentsSince(
        { userId: viewer.userId, allPrivate: deps.access.allows(viewer.actor, { action: 'incident.view_private', channel: null }) },
        since,
      )
    : [];
  const seen = await Promise.all(found.map((i) => deps.visibility.canSee({ actor: viewer.actor, channelId: null }, i)));
  const visible = found.filter(
    (i, n) => seen[n] === true && deps.access.allows(viewer.actor, { action: 'incident.view', channel: null, incidentId: i.id }),
  );
  const report = responseReport(visible, now, days);
  const windows = REPORT_WINDOWS.map((d) =>
    d === days
      ? html`<strong aria-current="page">last ${d} days</strong>`
      : html`<a href="${pagePath(OPS_PATHS.reports, { days: d })}">last ${d} days</a>`,
  );
  const body = html`<h1>Reports</h1>
<p class="actions">Window: ${windows[0]} · ${windows[1]}</p>
${
  !mayView
    ? html`<p class="empty" role="status">The policy does not let you view incidents (incident.view); ask an owner of the policy.</p>`
    : html`<p id="report-scope">${report.total} incidents you may view declared from ${shortTime(report.since)} to ${shortTime(report.until)}. Times run from declaring to acknowledging and to resolving; p50 and p90 are nearest-rank percentiles.</p>
${section('service', 'By service', 'Service', report.byService, days)}
${section('severity', 'By severity', 'Severity', report.bySeverity, days)}`
}`;
  sendPage(res, 200, layout('Reports', body, viewer));
}
