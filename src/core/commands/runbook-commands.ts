// `/runbook …`: list, describe, run (and dry-run), approve, deny, cancel and status of procedures.
import { InputError } from '../../errors.js';
import type { AccessControl } from '../access.js';
import { isoTime, parseIncidentId } from '../incidents/incident.js';
import type { IncidentVisibility } from '../incidents/incident-visibility.js';
import { decide, permittedEnvironments } from '../policy/policy-engine.js';
import { describeApproval } from '../policy/policy.js';
import { subjectOf } from '../policy-access.js';
import { formatDuration } from '../duration.js';
import { describeParam } from '../procedures/params.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import { joinRich, rich, userRef, type RichText } from '../rich-text.js';
import { parseRunId, shortBinding, type Run } from '../runs/run.js';
import { outputTail, paramsText } from '../runs/run-messages.js';
import type { CatalogView, DryRunPlan, RunService } from '../runs/run-service.js';
import { stepSummary } from '../runs/step-summary.js';
import type { CommandContext, CommandReply, SubcommandSpec } from './command-context.js';
import type { ParsedArgs } from './grammar.js';
import { dispatchSubcommand, type SubcommandTable } from './subcommands.js';

export interface RunbookCommandDeps {
  runs: RunService;
  /** Incidents as the caller may know of them: a private one they may not see is missing, and so are its runs. */
  visibility: IncidentVisibility;
  access: AccessControl;
  catalog: () => CatalogView;
}

async function incidentFor(deps: RunbookCommandDeps, ctx: CommandContext, args: ParsedArgs): Promise<string | null> {
  if (args.params.incident !== undefined) return (await deps.visibility.get(ctx, parseIncidentId(args.params.incident))).id;
  return ctx.channelId ? ((await deps.visibility.byChannel(ctx, ctx.channelId))?.id ?? null) : null;
}

/** The run named by the command, if the caller may know of it: one in an incident hidden from them is missing. */
async function visibleRun(deps: RunbookCommandDeps, ctx: CommandContext, id: string): Promise<Run> {
  return await deps.visibility.run(ctx, await deps.runs.get(id));
}

function oneRunId(args: ParsedArgs, sub: string, allowText = false): string {
  const [first, ...rest] = args.words;
  if (!first) throw new InputError(`${sub} needs a run id: /runbook ${sub} R-12`);
  if (rest.length > 0 && !allowText) throw new InputError(`${sub} takes one run id`);
  return parseRunId(first);
}

function environmentsLine(deps: RunbookCommandDeps, ctx: CommandContext, procedure: Procedure): string {
  const view = deps.catalog();
  const permitted = permittedEnvironments(view.policy, subjectOf(ctx.actor), procedure, ctx.channelId ? { channel: ctx.channelId } : {});
  return procedure.environments
    .map((env) => {
      const p = permitted.find((e) => e.environment === env);
      if (!p) return `${env} (not for you)`;
      return p.approval ? `${env} (needs ${describeApproval(p.approval)})` : env;
    })
    .join(', ');
}

function mayRunSomewhere(deps: RunbookCommandDeps, ctx: CommandContext, procedure: Procedure): boolean {
  const view = deps.catalog();
  const subject = subjectOf(ctx.actor);
  return ['run', 'dry-run'].some((action) =>
    permittedEnvironments(view.policy, subject, procedure, { action, ...(ctx.channelId ? { channel: ctx.channelId } : {}) }).length > 0,
  );
}

export function planText(plan: DryRunPlan): string {
  const lines = [`Dry run of ${plan.procedure} in ${plan.environment} (${paramsText(plan.params)}): nothing was run.`];
  plan.steps.forEach((step, i) => {
    if (step.kind === 'run') {
      const env = Object.keys(step.env);
      lines.push(`  ${i + 1}. ${step.name}: argv ${JSON.stringify(step.argv)}${env.length ? ` env ${env.join(', ')}` : ''}${step.onError === 'continue' ? ' (on error: continue)' : ''}`);
    } else {
      lines.push(`  ${i + 1}. ${step.name}: ${step.method} ${step.url} expecting ${step.expectStatus.join(' or ')}`);
    }
  });
  lines.push(`  concurrency key: ${plan.concurrencyKey}`);
  lines.push(`  binding: ${shortBinding(plan.binding)} (procedure, parameters and the bytes of the scripts it runs; an approval holds for this only)`);
  const run = plan.run;
  lines.push(
    run.effect === 'allow'
      ? '  A real run would start at once.'
      : run.effect === 'approval_required'
        ? `  A real run would need ${describeApproval(run.approval!)} (never yours).`
        : `  A real run would be refused: ${run.reason}`,
  );
  return lines.join('\n');
}

export async function runStatusText(deps: Pick<RunbookCommandDeps, 'runs'>, run: Run): Promise<RichText> {
  const lines: Array<string | RichText> = [`${run.id} ${run.procedure} (${run.environment}): ${run.state}${run.error ? ` — ${run.error}` : ''}`];
  lines.push(rich`  requested by ${userRef(run.requestedBy)} at ${isoTime(run.createdAt)}; ${paramsText(run.params)}${run.incidentId ? `; ${run.incidentId}` : ''}`);
  if (run.state === 'pending_approval' && run.approval) {
    const got = (await deps.runs.approvals(run.id)).filter((a) => a.decision === 'approve').length;
    lines.push(`  approvals ${got}/${run.approval.count} from ${run.approval.roles.join(', ')}, until ${isoTime(run.approvalExpiresAt!)}`);
  }
  for (const a of await deps.runs.approvals(run.id))
    lines.push(
      rich`  ${a.decision === 'approve' ? 'approved' : 'denied'} by ${userRef(a.approver)} at ${isoTime(a.at)}${a.reason ? `: ${a.reason}` : ''}`,
    );
  for (const step of await deps.runs.steps(run.id)) {
    lines.push(`  • ${stepSummary(step)}`);
    const tail = outputTail(step.output, 600);
    if (tail) lines.push(...tail.split('\n').map((l) => `      ${l}`));
  }
  return joinRich(lines, '\n');
}

const SUBCOMMANDS: Array<SubcommandSpec<RunbookCommandDeps>> = [
  {
    name: 'list',
    usage: 'list',
    summary: 'what you may run, with descriptions and owners',
    action: 'runbook.list',
    async run(deps, ctx) {
      await deps.access.require(ctx.actor, ctx.source, { action: 'runbook.list', channel: ctx.channelId });
      const mine = [...deps.catalog().procedures.values()]
        .filter((p) => mayRunSomewhere(deps, ctx, p))
        .sort((a, b) => a.name.localeCompare(b.name));
      if (mine.length === 0) return { text: 'There is no procedure you may run. Your roles come from the policy files; ask the team that owns them.' };
      return {
        text: [
          `Procedures you may run (${mine.length}):`,
          ...mine.map((p) => `  ${p.name} — ${p.description} (owner ${p.owner}) — ${environmentsLine(deps, ctx, p)}`),
          'Details: /runbook describe <name>; preview: /runbook run <name> … --dry-run',
        ].join('\n'),
      };
    },
  },
  {
    name: 'describe',
    usage: 'describe <name>',
    summary: 'parameters, environments and the approval you would need',
    action: 'runbook.list',
    async run(deps, ctx, args) {
      if (args.words.length !== 1) throw new InputError('describe takes one procedure name: /runbook describe restart-service');
      await deps.access.require(ctx.actor, ctx.source, { action: 'runbook.list', channel: ctx.channelId });
      const procedure = deps.catalog().procedures.get(args.words[0]!);
      if (!procedure || !mayRunSomewhere(deps, ctx, procedure)) {
        throw new InputError(`there is no procedure "${args.words[0]}" you may run; /runbook list shows them`);
      }
      const params = Object.entries(procedure.params).map(([name, def]) => {
        const flags = [def.required ? 'required' : 'optional', 'default' in def && def.default !== undefined ? `default ${String(def.default)}` : '']
          .filter(Boolean)
          .join(', ');
        return `  ${name} (${flags}): ${describeParam(def)}${def.description ? ` — ${def.description}` : ''}`;
      });
      const steps = procedure.steps.map((s, i) => `  ${i + 1}. ${s.name}: ${s.run ? s.run.join(' ') : `${s.http!.method} ${s.http!.url}`}`);
      const triggers = procedure.triggers.map((t) => `  on PagerDuty ${t.pagerduty.event} for service ${t.pagerduty.service} (env ${t.env ?? procedure.environments[0]})`);
      return {
        text: [
          `${procedure.name} — ${procedure.description}`,
          `Owner: ${procedure.owner}`,
          `Environments: ${environmentsLine(deps, ctx, procedure)}`,
          `Timeout: ${formatDuration(procedure.timeout)}; one run at a time per ${procedure.concurrency ?? '{{name}}-{{env}}'}`,
          'Parameters:',
          ...(params.length ? params : ['  none']),
          'Steps:',
          ...steps,
          ...(triggers.length ? ['Triggers:', ...triggers] : []),
        ].join('\n'),
      };
    },
  },
  {
    name: 'run',
    usage: 'run <name> [key=value …] [env=ENV] [--dry-run]',
    summary: 'run a procedure (or preview it with --dry-run)',
    action: 'run',
    anyParams: true,
    flags: ['dry-run'],
    async run(deps, ctx, args) {
      const [name, ...extra] = args.words;
      if (!name) throw new InputError('run needs a procedure name: /runbook run diag-disk');
      if (extra.length > 0) throw new InputError(`parameters are key=value pairs; "${extra[0]}" is not (quote values with spaces: reason="disk full")`);
      // env= and incident= belong to the run itself; every other key=value is a procedure parameter.
      const { env, incident: _incident, ...params } = args.params;
      const result = await deps.runs.request(
        { actor: ctx.actor, source: ctx.source },
        {
          procedure: name,
          params,
          ...(env === undefined ? {} : { environment: env }),
          incidentId: await incidentFor(deps, ctx, args),
          channel: ctx.channelId,
          dryRun: args.flags.includes('dry-run'),
        },
      );
      if (result.kind === 'dry-run') return { text: planText(result.plan) };
      const { run } = result;
      const where = run.incidentId ? `${run.incidentId}'s channel` : 'this channel';
      if (run.state === 'pending_approval') {
        return {
          text: `${run.id} waits for approval: ${run.procedure} in ${run.environment} needs ${describeApproval(run.approval!)}. The request is posted in ${where}.`,
          ...(run.incidentId ? { incidentId: run.incidentId } : {}),
        };
      }
      return { text: `${run.id} started: ${run.procedure} in ${run.environment}. Results will be posted in ${where}.`, ...(run.incidentId ? { incidentId: run.incidentId } : {}) };
    },
  },
  {
    name: 'approve',
    usage: 'approve <run-id>',
    summary: "approve someone else's run",
    action: 'approve',
    async run(deps, ctx, args) {
      const id = (await visibleRun(deps, ctx, oneRunId(args, 'approve'))).id;
      const r = await deps.runs.approve({ actor: ctx.actor, source: ctx.source }, id);
      return {
        text: r.done ? `Approved ${r.run.id}; it is starting.` : `Approved ${r.run.id} (${r.approvals}/${r.needed}); it needs more approvals.`,
      };
    },
  },
  {
    name: 'deny',
    usage: 'deny <run-id> [reason]',
    summary: 'deny a run waiting for approval',
    action: 'approve',
    async run(deps, ctx, args) {
      const id = (await visibleRun(deps, ctx, oneRunId(args, 'deny', true))).id;
      const run = await deps.runs.deny({ actor: ctx.actor, source: ctx.source }, id, args.words.slice(1).join(' '));
      return { text: `Denied ${run.id}.` };
    },
  },
  {
    name: 'cancel',
    usage: 'cancel <run-id>',
    summary: 'cancel a waiting or running run',
    action: 'cancel',
    async run(deps, ctx, args) {
      const id = (await visibleRun(deps, ctx, oneRunId(args, 'cancel'))).id;
      const run = await deps.runs.cancel({ actor: ctx.actor, source: ctx.source }, id);
      return { text: run.state === 'cancelled' ? `Cancelled ${run.id}.` : `Cancelling ${run.id}: its processes are being stopped.` };
    },
  },
  {
    name: 'status',
    usage: 'status <run-id>',
    summary: 'state, steps, approvals and output of a run',
    action: 'runbook.status',
    async run(deps, ctx, args) {
      const run = await visibleRun(deps, ctx, oneRunId(args, 'status'));
      // A run in an incident shows that incident's work: seeing it takes seeing the incident too.
      await deps.access.require(ctx.actor, ctx.source, { action: 'runbook.status', channel: ctx.channelId, incidentId: run.incidentId });
      if (run.incidentId)
        await deps.access.require(ctx.actor, ctx.source, { action: 'incident.view', channel: ctx.channelId, incidentId: run.incidentId });
      return { text: await runStatusText(deps, run) };
    },
  },
];

/** Whether the caller may use a subcommand on at least one procedure somewhere. */
function allowedSomewhere(deps: RunbookCommandDeps, ctx: CommandContext, spec: SubcommandSpec<RunbookCommandDeps>): boolean {
  if (spec.action === 'runbook.list' || spec.action === 'runbook.status') return deps.access.may(ctx.actor, { action: spec.action, channel: ctx.channelId });
  const view = deps.catalog();
  const subject = subjectOf(ctx.actor);
  const actions = spec.action === 'run' ? ['run', 'dry-run'] : [spec.action!];
  return [...view.procedures.values()].some((p) =>
    p.environments.some((environment) =>
      actions.some((action) => decide(view.policy, { subject, action, procedure: p.name, environment }).effect !== 'deny'),
    ),
  );
}

const TABLE: SubcommandTable<RunbookCommandDeps> = {
  command: '/runbook',
  subcommands: SUBCOMMANDS,
  example: '/runbook run diag-disk --dry-run',
  allowed: allowedSomewhere,
};

export const handleRunbookCommand = (deps: RunbookCommandDeps, ctx: CommandContext, input: string): Promise<CommandReply> =>
  dispatchSubcommand(TABLE, deps, ctx, input);
