// The incident page: header facts, runs and their waiting approvals, postmortem downloads, and a windowed, live timeline.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError } from '../../../errors.js';
import { noSuchIncident, parseIncidentId, ROLES, type Incident } from '../../../core/incidents/incident.js';
import { runButtons } from '../../../core/portal/run-decisions.js';
import type { TimelineEvent } from '../../../core/portal/portal-read-model.js';
import type { Run } from '../../../core/runs/run.js';
import { describeEvent } from '../../../core/timeline/describe-event.js';
import { formatDuration } from '../../../core/duration.js';
import { consoleText } from '../../console/console-text.js';
import { portalHtml } from '../portal-text.js';
import { html, type Html } from '../html.js';
import { layout } from '../layout.js';
import type { PortalDeps } from '../portal-deps.js';
import { PATHS, pagePath } from '../portal-paths.js';
import { query, sendPage, type Viewer } from '../portal-request.js';
import { longTime, shortTime } from './format.js';
import { sevBadge, statusBadge } from './incidents-page.js';

export const TIMELINE_WINDOW = 100;

/**
 * The incident as the viewer may know of it: one they may not see (private, not theirs) or may not
 * view at all reads exactly as a missing one.
 */
export async function visibleIncident(deps: PortalDeps, viewer: Viewer, idText: string | null): Promise<Incident> {
  const id = parseIncidentId(idText ?? '');
  const incident = await deps.visibility.get({ actor: viewer.actor, channelId: null }, id);
  if (!deps.access.allows(viewer.actor, { action: 'incident.view', channel: null, incidentId: id })) throw noSuchIncident(id);
  return incident;
}

export function timelineRow(e: TimelineEvent): Html {
  return html`<li id="ev-${e.seq}"><span class="meta">${longTime(e.time)} #${e.seq} ${e.actor} (${e.source})</span><span class="text">${portalHtml(describeEvent(e))}</span></li>`;
}

/** What a live page is sent for each new event: words only, made into text by the script. */
export const liveEvent = (e: TimelineEvent): string =>
  JSON.stringify({ seq: e.seq, time: longTime(e.time), actor: e.actor, source: e.source, text: consoleText(describeEvent(e)) });

export function approvalControls(viewer: Viewer, run: Run, buttons: ReturnType<typeof runButtons>, back: string): Html {
  if (run.state !== 'pending_approval') return html``;
  return html`<div class="actions">
${buttons.approve ? html`<form method="post" action="${PATHS.approve}"><input type="hidden" name="csrf" value="${viewer.csrf}"><input type="hidden" name="run" value="${run.id}"><input type="hidden" name="back" value="${back}"><button type="submit" class="primary">Approve ${run.id}</button></form>` : null}
${buttons.deny ? html`<form method="post" action="${PATHS.deny}"><input type="hidden" name="csrf" value="${viewer.csrf}"><input type="hidden" name="run" value="${run.id}"><input type="hidden" name="back" value="${back}"><button type="submit" class="danger">Deny ${run.id}</button></form>` : null}
${buttons.why ? html`<span class="why">${buttons.why}</span>` : null}
</div>`;
}

/** The last lines of a step's output, as the run's result message shows them. */
const outputTail = (output: string): string => {
  const lines = output.replace(/\n$/, '').split('\n');
  return lines.length > 20 ? `…\n${lines.slice(-20).join('\n')}` : lines.join('\n');
};

const dur = (from: number, to: number | null): string => (to === null ? '—' : formatDuration(to - from, 'elapsed'));

export async function incidentPage(deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> {
  const q = query(req);
  const incident = await visibleIncident(deps, viewer, q.get('id'));
  const order = q.get('order') ?? 'newest';
  if (order !== 'newest' && order !== 'oldest') throw new InputError(`order must be newest or oldest (got "${order}")`);
  const cursorText = q.get('cursor');
  if (cursorText !== null && !/^\d{1,15}$/.test(cursorText)) throw new InputError(`cursor must be an event number (got "${cursorText}")`);
  const window = await deps.read.timeline(incident.id, { order, ...(cursorText === null ? {} : { cursor: Number(cursorText) }), limit: TIMELINE_WINDOW });
  const here = pagePath(PATHS.incident, { id: incident.id });

  const mayRuns = deps.access.allows(viewer.actor, { action: 'runbook.status', channel: null });
  const runs = mayRuns ? await deps.runs.forIncident(incident.id) : [];
  const policy = deps.policy();
  const waiting = runs.filter((r) => r.state === 'pending_approval');
  const mayExport = deps.access.allows(viewer.actor, { action: 'incident.export', channel: null, incidentId: incident.id });

  const roles = ROLES.map((r) => html`<dt>${r}</dt><dd>${incident.roles[r] ?? 'nobody'}</dd>`);
  const notice = q.get('notice');
  const header = html`<h1>${incident.id}: ${incident.title}</h1>
${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
<dl class="facts">
<dt>Severity</dt><dd>${sevBadge(incident.severity)}</dd>
<dt>Status</dt><dd>${statusBadge(incident)}${incident.private ? html` <span class="badge private">private</span>` : null}</dd>
<dt>Service</dt><dd>${incident.service ?? '—'}</dd>
${roles}
<dt>Declared</dt><dd>${shortTime(incident.declaredAt)} by ${incident.declaredBy}</dd>
<dt>Time to acknowledge</dt><dd>${dur(incident.declaredAt, incident.acknowledgedAt)}</dd>
<dt>Time to resolve</dt><dd>${dur(incident.declaredAt, incident.resolvedAt)}</dd>
<dt>Channel</dt><dd>#${incident.channelName}</dd>
<dt>PagerDuty</dt><dd>${incident.pagerdutyUrl && /^https:\/\//.test(incident.pagerdutyUrl) ? html`<a href="${incident.pagerdutyUrl}" rel="noreferrer noopener">${incident.pagerdutyId ?? 'open in PagerDuty'}</a>` : (incident.pagerdutyId ?? '—')}</dd>
${incident.summary ? html`<dt>Summary</dt><dd>${incident.summary}</dd>` : null}
</dl>`;

  const downloads = mayExport
    ? html`<h2>Postmortem</h2><ul class="downloads">
<li><a href="${pagePath(PATHS.exportFile, { id: incident.id, format: 'md' })}" download>Markdown</a></li>
<li><a href="${pagePath(PATHS.exportFile, { id: incident.id, format: 'json' })}" download>JSON</a></li>
<li><a href="${pagePath(PATHS.exportFile, { id: incident.id, format: 'html' })}" download>HTML</a></li></ul>`
    : null;

  const approvalsOf = new Map(await Promise.all(waiting.map(async (r) => [r.id, await deps.runs.approvals(r.id)] as const)));
  const stepsById = new Map(await Promise.all(runs.map(async (r) => [r.id, await deps.runs.steps(r.id)] as const)));
  const approvals = waiting.map(
    (r) =>
      html`<li><a href="${pagePath(PATHS.run, { id: r.id })}">${r.id}</a> ${r.procedure} in ${r.environment}, requested by ${r.requestedBy}${r.approvalExpiresAt ? ` (until ${shortTime(r.approvalExpiresAt)})` : ''}
${approvalControls(viewer, r, runButtons(policy, viewer.actor, r, approvalsOf.get(r.id) ?? []), here)}</li>`,
  );
  // Each run's steps with the end of their (masked) output; the run page has all of it.
  const stepsOf = (r: Run): Html => {
    const steps = stepsById.get(r.id) ?? [];
    if (steps.length === 0) return html``;
    return html`<details><summary>${steps.length} step${steps.length === 1 ? '' : 's'}</summary><ol>${steps.map(
      (st) =>
        html`<li>${st.name}: ${st.outcome} ${st.kind === 'http' ? `(HTTP ${st.httpStatus ?? '—'})` : `(exit ${st.exitCode ?? '—'})`}${st.output ? html`<pre class="output">${outputTail(st.output)}</pre>` : null}</li>`,
    )}</ol></details>`;
  };
  const runRows = runs.map(
    (r) =>
      html`<tr><th scope="row"><a href="${pagePath(PATHS.run, { id: r.id })}">${r.id}</a></th><td>${r.procedure}</td><td>${r.environment}</td><td><span class="badge run-${r.state}">${r.state}</span>${stepsOf(r)}</td><td>${r.requestedBy}</td><td>${shortTime(r.createdAt)}</td></tr>`,
  );
  const runsSection = mayRuns
    ? html`<h2>Runs</h2>
${waiting.length > 0 ? html`<h3>Waiting for approval</h3><ul class="waiting">${approvals}</ul>` : null}
${runs.length === 0 ? html`<p class="empty">No procedure runs.</p>` : html`<div class="table-wrap"><table><thead><tr><th scope="col">Run</th><th scope="col">Procedure</th><th scope="col">Environment</th><th scope="col">State</th><th scope="col">Requested by</th><th scope="col">Requested</th></tr></thead><tbody>${runRows}</tbody></table></div>`}`
    : null;

  // Live only where new events belong in view: the newest window, or the oldest-first one that reached the end.
  const live = cursorText === null && order === 'newest' ? true : order === 'oldest' && window.next === null;
  const lastSeq = window.events.reduce((m, e) => Math.max(m, e.seq), 0);
  const liveUrl = live ? pagePath(PATHS.events, { id: incident.id, after: order === 'newest' && cursorText === null ? lastSeq : lastSeq }) : undefined;
  const timeline = html`<h2 id="timeline-heading">Timeline</h2>
<p class="actions">Order: ${order === 'newest' ? html`<strong>newest first</strong> · <a href="${pagePath(PATHS.incident, { id: incident.id, order: 'oldest' })}">oldest first</a>` : html`<a href="${here}">newest first</a> · <strong>oldest first</strong>`}</p>
<p id="live-status" class="empty" role="status" aria-live="polite">${live ? '' : 'Showing an earlier window; newest first shows new events live.'}</p>
${window.events.length === 0 ? html`<p id="timeline-empty" class="empty">No events yet.</p>` : null}
<ol id="timeline" class="timeline" aria-labelledby="timeline-heading" data-order="${order}"${liveUrl ? html` data-live="${liveUrl}"` : null}>${window.events.map(timelineRow)}</ol>
${window.next !== null ? html`<p class="pager"><a rel="next" href="${pagePath(PATHS.incident, { id: incident.id, order, cursor: window.next })}">Load more</a></p>` : null}`;

  sendPage(res, 200, layout(`${incident.id}: ${incident.title}`, html`${header}${downloads}${runsSection}${timeline}`, viewer, { live: true }));
}
