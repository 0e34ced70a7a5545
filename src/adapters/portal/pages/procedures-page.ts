// The procedures page: what the viewer may run (asked of the policy as them, per environment), and running one with a dry-run first.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError, isEdgeopsError, ErrorCode } from '../../../errors.js';
import { planText } from '../../../core/commands/runbook-commands.js';
import type { Incident } from '../../../core/incidents/incident.js';
import { explainDecision } from '../../../core/policy/explain.js';
import { decide, type PolicyRequest } from '../../../core/policy/policy-engine.js';
import { describeApproval } from '../../../core/policy/policy.js';
import { subjectOf } from '../../../core/policy-access.js';
import { describeParam } from '../../../core/procedures/params.js';
import type { Procedure } from '../../../core/procedures/procedure-schema.js';
import type { DryRunPlan } from '../../../core/runs/run-service.js';
import { html, type Html } from '../html.js';
import { layout } from '../layout.js';
import type { PortalDeps } from '../portal-deps.js';
import { readForm } from '../portal-form.js';
import { OPS_PATHS } from '../portal-ops-paths.js';
import { PATHS, pagePath } from '../portal-paths.js';
import { query, redirect, sendError, sendPage, type Viewer } from '../portal-request.js';
import { visibleIncident } from './incident-page.js';

const PARAM_FIELD = 'p.';

/** The viewer's request for one action on a procedure in one environment, as `edgeops policy explain` takes it (no channel: the portal is none). */
const requestOf = (viewer: Viewer, action: string, procedure: Procedure, environment: string): PolicyRequest => ({
  subject: subjectOf(viewer.actor),
  action,
  procedure: procedure.name,
  environment,
});

interface EnvironmentView {
  environment: string;
  run: ReturnType<typeof decide>;
  dryRun: ReturnType<typeof decide>;
}

function environmentsOf(deps: PortalDeps, viewer: Viewer, procedure: Procedure): EnvironmentView[] {
  const policy = deps.ops.catalog().policy;
  return procedure.environments.map((environment) => ({
    environment,
    run: decide(policy, requestOf(viewer, 'run', procedure, environment)),
    dryRun: decide(policy, requestOf(viewer, 'dry-run', procedure, environment)),
  }));
}

/** As `/runbook list`: a procedure is the viewer's when the policy lets them run or dry-run it somewhere. */
const mayUse = (envs: readonly EnvironmentView[]): boolean => envs.some((e) => e.run.effect !== 'deny' || e.dryRun.effect !== 'deny');

function needText(e: EnvironmentView): string {
  if (e.run.effect === 'allow') return 'runs at once';
  if (e.run.effect === 'approval_required') return `needs ${describeApproval(e.run.approval!)} (never yours)`;
  return e.dryRun.effect !== 'deny' ? 'dry-run only' : 'not for you';
}

/** Incidents a run may be tied to: open ones the viewer may view. */
async function runnableIncidents(deps: PortalDeps, viewer: Viewer): Promise<Incident[]> {
  if (!deps.access.allows(viewer.actor, { action: 'incident.view', channel: null })) return [];
  return (await deps.visibility.listOpen({ actor: viewer.actor, channelId: null })).filter((i) =>
    deps.access.allows(viewer.actor, { action: 'incident.view', channel: null, incidentId: i.id }),
  );
}

interface FormValues {
  environment?: string;
  incident?: string;
  params: Record<string, string>;
}

function procedureForm(viewer: Viewer, procedure: Procedure, envs: readonly EnvironmentView[], incidents: readonly Incident[], values: FormValues): Html {
  const usable = envs.filter((e) => e.dryRun.effect !== 'deny');
  if (usable.length === 0)
    return html`<p class="empty">The policy lets you run this but not dry-run it, and the portal runs only after a dry-run: use <code>/runbook run ${procedure.name}</code> in Slack.</p>`;
  if (incidents.length === 0) return html`<p class="empty">A run from the portal is tied to an open incident you may view; there is none.</p>`;
  const id = (name: string) => `${procedure.name}-${name}`;
  const params = Object.entries(procedure.params).map(([name, def]) =>
    def.type === 'secret'
      ? null
      : html`<div><label for="${id(`p-${name}`)}">${name}${def.required ? ' (required)' : ''}</label><input id="${id(`p-${name}`)}" name="${PARAM_FIELD}${name}" value="${values.params[name] ?? ''}" aria-describedby="${id(`h-${name}`)}"><small id="${id(`h-${name}`)}">${describeParam(def)}${def.description ? ` — ${def.description}` : ''}</small></div>`,
  );
  return html`<form class="filters" method="post" action="${OPS_PATHS.dryRun}">
<input type="hidden" name="csrf" value="${viewer.csrf}"><input type="hidden" name="procedure" value="${procedure.name}">
<div><label for="${id('env')}">Environment</label><select id="${id('env')}" name="env">${usable.map((e) => html`<option value="${e.environment}"${e.environment === values.environment ? html` selected` : null}>${e.environment}</option>`)}</select></div>
<div><label for="${id('incident')}">For incident</label><select id="${id('incident')}" name="incident">${incidents.map((i) => html`<option value="${i.id}"${i.id === values.incident ? html` selected` : null}>${i.id}: ${i.title}</option>`)}</select></div>
${params}
<div><button type="submit">Dry run</button></div>
</form>`;
}

function procedureSection(
  deps: PortalDeps,
  viewer: Viewer,
  procedure: Procedure,
  envs: readonly EnvironmentView[],
  incidents: readonly Incident[],
  values: FormValues = { params: {} },
): Html {
  const params = Object.entries(procedure.params);
  const paramRows = params.map(([name, def]) => {
    const dflt = 'default' in def && def.default !== undefined ? String(def.default) : '—';
    return html`<tr><th scope="row"><code>${name}</code></th><td>${def.type === 'secret' ? 'from the bot’s environment' : def.required ? 'required' : 'optional'}</td><td>${describeParam(def)}</td><td>${dflt}</td><td>${def.description ?? ''}</td></tr>`;
  });
  const envRows = envs.map(
    (e) =>
      html`<tr><th scope="row">${e.environment}</th><td>${needText(e)}</td><td><details><summary>Who may run this in ${e.environment}</summary><pre class="output" tabindex="0">${explainDecision(requestOf(viewer, 'run', procedure, e.environment), e.run)}policy sha256 ${deps.ops.catalog().policyHash}</pre></details></td></tr>`,
  );
  return html`<section class="procedure" aria-labelledby="proc-${procedure.name}">
<h2 id="proc-${procedure.name}">${procedure.name}</h2>
<p>${procedure.description}</p>
<dl class="facts"><dt>Owner</dt><dd>${procedure.owner}</dd></dl>
<h3>Parameters</h3>
${params.length === 0 ? html`<p class="empty">None.</p>` : html`<div class="table-wrap"><table><thead><tr><th scope="col">Name</th><th scope="col">Given</th><th scope="col">Takes</th><th scope="col">Default</th><th scope="col">About</th></tr></thead><tbody>${paramRows}</tbody></table></div>`}
<h3>Environments</h3>
<div class="table-wrap"><table><thead><tr><th scope="col">Environment</th><th scope="col">For you</th><th scope="col">Why</th></tr></thead><tbody>${envRows}</tbody></table></div>
<h3>Run it</h3>
${procedureForm(viewer, procedure, envs, incidents, values)}
</section>`;
}

export async function proceduresPage(deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> {
  const mayList = deps.access.allows(viewer.actor, { action: 'runbook.list', channel: null });
  const incidents = mayList ? await runnableIncidents(deps, viewer) : [];
  const wanted = query(req).get('incident') ?? undefined;
  const mine = mayList
    ? [...deps.ops.catalog().procedures.values()]
        .map((p) => ({ p, envs: environmentsOf(deps, viewer, p) }))
        .filter(({ envs }) => mayUse(envs))
        .sort((a, b) => a.p.name.localeCompare(b.p.name))
    : [];
  const body = html`<h1>Procedures</h1>
${
  !mayList
    ? html`<p class="empty" role="status">The policy does not let you list procedures (runbook.list); ask an owner of the policy.</p>`
    : mine.length === 0
      ? html`<p class="empty" role="status">There is no procedure you may run. Your roles come from the policy files; ask the team that owns them.</p>`
      : html`<p>Procedures you may run (${mine.length}), asked of the policy as you. A run starts with a dry-run that shows what would run; nothing runs until you press Run.</p>
<nav aria-label="Procedures"><ul class="downloads">${mine.map(({ p }) => html`<li><a href="#proc-${p.name}">${p.name}</a></li>`)}</ul></nav>
${mine.map(({ p, envs }) => procedureSection(deps, viewer, p, envs, incidents, { params: {}, ...(wanted ? { incident: wanted } : {}) }))}`
}`;
  sendPage(res, 200, layout('Procedures', body, viewer));
}

/** The run the form asks for: procedure, environment, the incident (one the viewer may view) and the parameters typed. */
async function runInput(
  deps: PortalDeps,
  viewer: Viewer,
  form: URLSearchParams,
): Promise<{ procedure: string; environment: string; incidentId: string; params: Record<string, string> }> {
  const procedure = (form.get('procedure') ?? '').trim();
  if (!procedure) throw new InputError('the form names no procedure; open it from the procedures page');
  const environment = (form.get('env') ?? '').trim();
  if (!environment) throw new InputError('choose the environment to run in');
  const incidentText = (form.get('incident') ?? '').trim();
  if (!incidentText) throw new InputError('choose the incident this run is for');
  const incident = await visibleIncident(deps, viewer, incidentText);
  const params: Record<string, string> = {};
  for (const [key, value] of form) if (key.startsWith(PARAM_FIELD) && value !== '') params[key.slice(PARAM_FIELD.length)] = value;
  return { procedure, environment, incidentId: incident.id, params };
}

const hiddenFields = (viewer: Viewer, input: Awaited<ReturnType<typeof runInput>>): Html =>
  html`<input type="hidden" name="csrf" value="${viewer.csrf}"><input type="hidden" name="procedure" value="${input.procedure}"><input type="hidden" name="env" value="${input.environment}"><input type="hidden" name="incident" value="${input.incidentId}">${Object.entries(input.params).map(([k, v]) => html`<input type="hidden" name="${PARAM_FIELD}${k}" value="${v}">`)}`;

function planPage(viewer: Viewer, plan: DryRunPlan, input: Awaited<ReturnType<typeof runInput>>): string {
  const verb = plan.run.effect === 'approval_required' ? 'Request approval to run' : 'Run';
  const body = html`<h1>Dry run: ${plan.procedure} in ${plan.environment}</h1>
<p class="notice" role="status">Nothing was run. This is what a run for <a href="${pagePath(PATHS.incident, { id: input.incidentId })}">${input.incidentId}</a> would do.</p>
<pre class="output" id="plan" tabindex="0" aria-label="The dry run">${planText(plan)}</pre>
${
  plan.run.effect === 'deny'
    ? html`<p class="error" role="alert">A real run would be refused: ${plan.run.reason}</p>`
    : html`<form method="post" action="${OPS_PATHS.runProcedure}">${hiddenFields(viewer, input)}<button type="submit" class="primary">${verb} ${plan.procedure} in ${plan.environment}</button></form>`
}
<p><a href="${pagePath(OPS_PATHS.procedures, { incident: input.incidentId })}#proc-${plan.procedure}">Change the parameters</a></p>`;
  return layout(`Dry run of ${plan.procedure}`, body, viewer);
}

/** A refused parameter goes back to the form with what was typed kept and every problem named. */
async function formAgain(deps: PortalDeps, res: ServerResponse, viewer: Viewer, form: URLSearchParams, message: string): Promise<boolean> {
  const procedure = deps.ops.catalog().procedures.get(form.get('procedure') ?? '');
  if (!procedure) return false;
  const envs = environmentsOf(deps, viewer, procedure);
  if (!mayUse(envs)) return false;
  const params: Record<string, string> = {};
  for (const [key, value] of form) if (key.startsWith(PARAM_FIELD)) params[key.slice(PARAM_FIELD.length)] = value;
  const values: FormValues = {
    params,
    ...(form.get('env') ? { environment: form.get('env')! } : {}),
    ...(form.get('incident') ? { incident: form.get('incident')! } : {}),
  };
  const body = html`<h1>Procedures</h1><p class="error" role="alert">${message}</p>${procedureSection(deps, viewer, procedure, envs, await runnableIncidents(deps, viewer), values)}`;
  sendPage(res, 400, layout('Procedures', body, viewer));
  return true;
}

/** Both POSTs: CSRF-checked, then the run service decides exactly as for `/runbook run` (policy, approvals, audit source `portal`). */
function runRoute(dryRun: boolean) {
  return async (deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> => {
    const form = await readForm(deps, req, res, viewer.sessionId);
    if (!form) return;
    try {
      const input = await runInput(deps, viewer, form);
      const result = await deps.ops.runs.request(
        { actor: viewer.actor, source: 'portal' },
        { procedure: input.procedure, params: input.params, environment: input.environment, incidentId: input.incidentId, channel: null, dryRun },
      );
      if (result.kind === 'dry-run') {
        sendPage(res, 200, planPage(viewer, result.plan, input));
        return;
      }
      const { run } = result;
      const notice =
        run.state === 'pending_approval' ? `${run.id} waits for approval: it needs ${describeApproval(run.approval!)}.` : `${run.id} started.`;
      redirect(res, pagePath(PATHS.run, { id: run.id, notice }));
    } catch (err) {
      if (isEdgeopsError(err) && err.code === ErrorCode.Input && (await formAgain(deps, res, viewer, form, err.message))) return;
      sendError(deps, res, err, viewer);
    }
  };
}

export const dryRunPost = runRoute(true);
export const runPost = runRoute(false);
