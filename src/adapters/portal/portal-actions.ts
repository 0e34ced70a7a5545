// What the portal does rather than shows: approve and deny runs through the run service, and download postmortems.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeTranscript } from '../export/write-transcript.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../core/commands/incident-commands.js';
import { InputError } from '../../errors.js';
import type { PortalDeps } from './portal-deps.js';
import { readForm } from './portal-form.js';
import { PATHS, pagePath } from './portal-paths.js';
import { query, redirect, sendError, type Viewer } from './portal-request.js';
import { visibleIncident } from './pages/incident-page.js';
import { visibleRun } from './pages/run-page.js';
import { SECURITY_HEADERS } from './security.js';

const backTo = (back: string | null, runId: string): string =>
  back && /^\/portal\/(incident|run)\?id=[A-Za-z0-9-]+$/.test(back) ? back : pagePath(PATHS.run, { id: runId });

/**
 * Approve / Deny: the same path as Slack's buttons — the run answered as missing when the
 * incident is not the viewer's, then the run service decides (never your own, bound to the hash).
 */
export function decideRoute(decision: 'approve' | 'deny') {
  return async (deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> => {
    const form = await readForm(deps, req, res, viewer.sessionId);
    if (!form) return;
    const by = { actor: viewer.actor, source: 'portal' as const };
    try {
      const run = await visibleRun(deps, viewer, form.get('run'));
      let notice: string;
      if (decision === 'approve') {
        const r = await deps.runs.approve(by, run.id);
        notice = r.done ? `Approved ${r.run.id}; it is starting.` : `Approved ${r.run.id} (${r.approvals}/${r.needed}); it needs more approvals.`;
      } else {
        const reason = (form.get('reason') ?? '').trim().slice(0, 500);
        await deps.runs.deny(by, run.id, reason);
        notice = `Denied ${run.id}.`;
      }
      const back = backTo(form.get('back'), run.id);
      redirect(res, `${back}${back.includes('?') ? '&' : '?'}notice=${encodeURIComponent(notice)}`);
    } catch (err) {
      sendError(deps, res, err, viewer);
    }
  };
}

/** A postmortem download, as `/incident export` would give it: seeing the incident and exporting it are two grants. */
export async function exportRoute(deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> {
  const q = query(req);
  const incident = await visibleIncident(deps, viewer, q.get('id'));
  const format = (q.get('format') ?? 'md') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw new InputError(`format must be md, json or html (got "${format}")`);
  await deps.access.require(viewer.actor, 'portal', { action: 'incident.export', channel: null, incidentId: incident.id });
  await deps.audit({ actor: viewer.userId, source: 'portal', kind: 'portal.exported', incidentId: incident.id, payload: { format } });
  const type = { md: 'text/markdown; charset=utf-8', json: 'application/json; charset=utf-8', html: 'text/html; charset=utf-8' }[format];
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-disposition': `attachment; filename="${incident.id}.${format}"`,
  });
  await writeTranscript(await deps.transcript(incident.id), format, res);
}
