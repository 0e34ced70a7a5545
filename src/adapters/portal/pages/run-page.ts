// The run page: state, parameters, binding, approvals (with Approve / Deny for who may), and every step's full masked output.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { noSuchRun } from '../../../core/incidents/incident-visibility.js';
import { parseRunId, shortBinding, type Run } from '../../../core/runs/run.js';
import { runButtons } from '../../../core/portal/run-decisions.js';
import { html } from '../html.js';
import { layout } from '../layout.js';
import type { PortalDeps } from '../portal-deps.js';
import { PATHS, pagePath } from '../portal-paths.js';
import { query, sendPage, type Viewer } from '../portal-request.js';
import { shortTime } from './format.js';
import { approvalControls } from './incident-page.js';

/** The run as `/runbook status` would show it to the viewer; otherwise the missing-run answer, word for word. */
export async function visibleRun(deps: PortalDeps, viewer: Viewer, idText: string | null): Promise<Run> {
  const id = parseRunId(idText ?? '');
  if (!/^R-\d{1,9}$/.test(id)) throw noSuchRun(id);
  const run = await deps.visibility.run({ actor: viewer.actor, channelId: null }, await deps.runs.get(id));
  if (!deps.access.allows(viewer.actor, { action: 'runbook.status', channel: null, incidentId: run.incidentId })) throw noSuchRun(id);
  if (run.incidentId && !deps.access.allows(viewer.actor, { action: 'incident.view', channel: null, incidentId: run.incidentId })) throw noSuchRun(id);
  return run;
}

export async function runPage(deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> {
  const q = query(req);
  const run = await visibleRun(deps, viewer, q.get('id'));
  const approvals = await deps.runs.approvals(run.id);
  const steps = await deps.runs.steps(run.id);
  const here = pagePath(PATHS.run, { id: run.id });
  const notice = q.get('notice');
  const params = Object.entries(run.params);
  const body = html`<h1>${run.id}: ${run.procedure} in ${run.environment}</h1>
${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
<dl class="facts">
<dt>State</dt><dd><span class="badge run-${run.state}">${run.state}</span></dd>
<dt>Incident</dt><dd>${run.incidentId ? html`<a href="${pagePath(PATHS.incident, { id: run.incidentId })}">${run.incidentId}</a>` : '—'}</dd>
<dt>Requested</dt><dd>${shortTime(run.createdAt)} by ${run.requestedBy} (${run.source})</dd>
<dt>Parameters</dt><dd>${params.length === 0 ? '—' : params.map(([k, v]) => html`<code>${k}=${String(v)}</code> `)}</dd>
<dt>Binding</dt><dd><code title="${run.binding}">${shortBinding(run.binding)}</code></dd>
${run.approval ? html`<dt>Approval</dt><dd>${run.approval.count} of ${run.approval.roles.join(', ')}${run.approvalExpiresAt ? ` until ${shortTime(run.approvalExpiresAt)}` : ''}</dd>` : null}
<dt>Started</dt><dd>${run.startedAt ? shortTime(run.startedAt) : '—'}</dd>
<dt>Finished</dt><dd>${run.finishedAt ? shortTime(run.finishedAt) : '—'}</dd>
${run.error ? html`<dt>Error</dt><dd class="error">${run.error}</dd>` : null}
</dl>
<h2>Approvals</h2>
${approvals.length === 0 ? html`<p class="empty">None yet.</p>` : html`<ul>${approvals.map((a) => html`<li>${a.decision === 'approve' ? 'Approved' : 'Denied'} by ${a.approver} at ${shortTime(a.at)}${a.binding !== run.binding ? ' (for another binding; does not count)' : ''}${a.reason ? `: ${a.reason}` : ''}</li>`)}</ul>`}
${approvalControls(viewer, run, runButtons(deps.policy(), viewer.actor, run, approvals), here)}
<h2>Steps</h2>
${
  steps.length === 0
    ? html`<p class="empty">No step has run.</p>`
    : steps.map(
        (s) => html`<section class="step" aria-labelledby="step-${s.index}">
<h3 id="step-${s.index}">${s.index + 1}. ${s.name}: ${s.outcome} ${s.kind === 'http' ? `(HTTP ${s.httpStatus ?? '—'})` : `(exit ${s.exitCode ?? '—'})`}</h3>
${s.error ? html`<p class="error">${s.error}</p>` : null}
<pre class="output" tabindex="0" aria-label="Output of step ${s.name}">${s.output || '(no output)'}</pre>
${s.truncatedBytes > 0 ? html`<p class="empty">${s.truncatedBytes} bytes were dropped to keep 1 MB.</p>` : null}
</section>`,
      )
}`;
  sendPage(res, 200, layout(run.id, body, viewer));
}
