// The incidents page: open and resolved incidents the viewer may see, filtered, searched and paged by keyset.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError } from '../../../errors.js';
import { STATUSES, type Incident } from '../../../core/incidents/incident.js';
import { formatDuration } from '../../../core/duration.js';
import type { IncidentFilter } from '../../../core/portal/portal-read-model.js';
import { html } from '../html.js';
import { layout } from '../layout.js';
import type { PortalDeps } from '../portal-deps.js';
import { PATHS, pagePath } from '../portal-paths.js';
import { query, sendPage, type Viewer } from '../portal-request.js';
import { shortTime } from './format.js';

export const PAGE_SIZE = 50;
const STATUS_CHOICES = ['open', 'resolved', 'all', ...STATUSES] as const;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function dayStart(name: string, text: string): number {
  const ms = DAY.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(ms)) throw new InputError(`${name} must be a date such as 2026-03-01 (got "${text}")`);
  return ms;
}

/** The filter from the query string; anything malformed is refused with what to type instead. */
export function parseFilter(q: URLSearchParams): { filter: IncidentFilter; before?: number; shown: Record<string, string> } {
  const shown: Record<string, string> = {};
  const filter: IncidentFilter = {};
  const status = q.get('status') || 'open';
  if (!(STATUS_CHOICES as readonly string[]).includes(status))
    throw new InputError(`status must be one of ${STATUS_CHOICES.join(', ')} (got "${status}")`);
  shown.status = status;
  if (status !== 'all') filter.status = status as IncidentFilter['status'];
  const sev = q.get('sev');
  if (sev) {
    if (!/^[1-4]$/.test(sev)) throw new InputError(`severity must be 1, 2, 3 or 4 (got "${sev}")`);
    filter.severity = Number(sev);
    shown.sev = sev;
  }
  const service = q.get('service')?.trim();
  if (service) {
    if (service.length > 200) throw new InputError('service is too long; pick one from the list');
    filter.service = service;
    shown.service = service;
  }
  const from = q.get('from');
  if (from) {
    filter.from = dayStart('from', from);
    shown.from = from;
  }
  const to = q.get('to');
  if (to) {
    // `to` is the last day shown, so the window runs to the end of it.
    filter.to = dayStart('to', to) + 86_400_000;
    shown.to = to;
  }
  const search = q.get('q')?.trim();
  if (search) {
    if (search.length > 200) throw new InputError('the search is longer than 200 characters; search for fewer words');
    filter.q = search;
    shown.q = search;
  }
  const beforeText = q.get('before');
  let before: number | undefined;
  if (beforeText) {
    if (!/^\d{1,9}$/.test(beforeText)) throw new InputError(`before must be an incident number (got "${beforeText}")`);
    before = Number(beforeText);
  }
  return { filter, ...(before === undefined ? {} : { before }), shown };
}

const option = (value: string, label: string, selected: string | undefined) =>
  html`<option value="${value}"${value === selected ? html` selected` : null}>${label}</option>`;

export const statusBadge = (incident: Pick<Incident, 'status'>) => html`<span class="badge status-${incident.status}">${incident.status}</span>`;
export const sevBadge = (severity: number) => html`<span class="badge sev-${severity}">SEV${severity}</span>`;

export async function incidentsPage(deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> {
  const { filter, before, shown } = parseFilter(query(req));
  const mayView = deps.access.allows(viewer.actor, { action: 'incident.view', channel: null });
  const services = mayView ? await deps.read.services() : [];
  const page = mayView
    ? await deps.read.incidents(
        { userId: viewer.userId, allPrivate: deps.access.allows(viewer.actor, { action: 'incident.view_private', channel: null }) },
        filter,
        {
          ...(before === undefined ? {} : { before }),
          limit: PAGE_SIZE,
        },
      )
    : { incidents: [], next: null };
  // The query already keeps private incidents to their members; the visibility rule has the last word.
  const seen = await Promise.all(page.incidents.map((i) => deps.visibility.canSee({ actor: viewer.actor, channelId: null }, i)));
  const incidents = page.incidents.filter((_, n) => seen[n] === true);
  const now = deps.clock.now();

  const form = html`<form class="filters" method="get" action="${PATHS.incidents}" role="search">
  <div><label for="f-status">Status</label><select id="f-status" name="status">${STATUS_CHOICES.map((s) => option(s, s, shown.status))}</select></div>
  <div><label for="f-sev">Severity</label><select id="f-sev" name="sev">${option('', 'any', shown.sev ?? '')}${[1, 2, 3, 4].map((n) => option(String(n), `SEV${n}`, shown.sev))}</select></div>
  <div><label for="f-service">Service</label><select id="f-service" name="service">${option('', 'any', shown.service ?? '')}${services.map((s) => option(s, s, shown.service))}</select></div>
  <div><label for="f-from">Declared from</label><input id="f-from" type="date" name="from" value="${shown.from ?? ''}"></div>
  <div><label for="f-to">to</label><input id="f-to" type="date" name="to" value="${shown.to ?? ''}"></div>
  <div class="grow"><label for="f-q">Title contains</label><input id="f-q" type="search" name="q" value="${shown.q ?? ''}"></div>
  <div><button type="submit">Show</button></div>
</form>`;

  const rows = incidents.map(
    (i) => html`<tr>
  <th scope="row"><a href="${pagePath(PATHS.incident, { id: i.id })}">${i.id}</a></th>
  <td>${sevBadge(i.severity)}</td>
  <td>${statusBadge(i)}</td>
  <td class="title">${i.title}${i.private ? html` <span class="badge private">private</span>` : null}</td>
  <td>${i.service ?? '—'}</td>
  <td><time datetime="${new Date(i.declaredAt).toISOString()}">${shortTime(i.declaredAt)}</time></td>
  <td>${i.resolvedAt !== null ? `resolved after ${formatDuration(i.resolvedAt - i.declaredAt, 'elapsed')}` : `open for ${formatDuration(now - i.declaredAt, 'elapsed')}`}</td>
</tr>`,
  );

  const body = html`<h1>Incidents</h1>
${form}
${
  !mayView
    ? html`<p class="empty" role="status">The policy does not let you view incidents (incident.view); ask an owner of the policy.</p>`
    : incidents.length === 0
      ? html`<p class="empty" role="status">No incidents match.</p>`
      : html`<div class="table-wrap"><table class="incidents">
<caption class="visually-hidden">Incidents, newest first</caption>
<thead><tr><th scope="col">Incident</th><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Title</th><th scope="col">Service</th><th scope="col">Declared</th><th scope="col">Duration</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
<nav class="pager" aria-label="Pages">
${before !== undefined ? html`<a href="${pagePath(PATHS.incidents, shown)}">Newest</a>` : null}
${page.next !== null ? html`<a rel="next" href="${pagePath(PATHS.incidents, { ...shown, before: page.next })}">Older incidents</a>` : null}
</nav>`;
  sendPage(res, 200, layout('Incidents', body, viewer));
}
