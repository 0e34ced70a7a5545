// Run requests: ask the policy, check params, then dry-run, hold for approval, or queue the run.
import { NotAllowedError, NotFoundError } from '../../errors.js';
import { decide, type Decision, type PolicyRequest } from '../policy/policy-engine.js';
import type { ApprovalRequirement } from '../policy/policy.js';
import { authorizationOf, recordDecision, subjectOf } from '../policy-access.js';
import { maskDeep } from '../procedures/mask.js';
import type { ParamValue } from '../procedures/params.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import type { ResolvedStep } from '../procedures/template.js';
import { runId, type Run } from './run.js';
import { runBinding } from './run-binding.js';
import type { Requester, RunContext } from './run-context.js';
import { approvalRequestMessage } from './run-messages.js';

export interface RunRequest {
  procedure: string;
  /** Parameters as text, from chat or the command line. */
  params: Record<string, string>;
  environment?: string;
  incidentId?: string | null;
  channel?: string | null;
  dryRun?: boolean;
  /** Values for params not given (a trigger's `with:`), checked like given ones. */
  defaults?: Record<string, ParamValue>;
  /**
   * Called inside the transaction that records the new run, so the caller can record what the run
   * is for in the same commit; throwing there leaves no run behind.
   */
  onCreated?: (run: Run) => Promise<void>;
}

export interface DryRunPlan {
  procedure: string;
  environment: string;
  params: Record<string, ParamValue>;
  steps: ResolvedStep[];
  concurrencyKey: string;
  /** What `run` would need for the same caller: allowed, approval (and which), or denied. */
  run: { effect: Decision['effect']; approval?: ApprovalRequirement; reason: string };
  /** The binding an approval of this run would carry: the procedure, params, environment and program files. */
  binding: string;
}

export type RunRequestResult = { kind: 'dry-run'; plan: DryRunPlan } | { kind: 'run'; run: Run; done: Promise<Run> | null };

const MASKED = '[secret]';

/** Non-secret params only: secret values never reach the database. */
function publicParams(procedure: Procedure, values: Record<string, ParamValue>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(values)) if (procedure.params[k]?.type !== 'secret') out[k] = v;
  return out;
}

export function createRunRequests(ctx: RunContext, startExecution: (id: string) => Promise<Run>) {
  const { deps } = ctx;
  const { uow, audit, runs, clock } = deps;

  return {
    /** Checks everything, then dry-runs, holds for approval, or starts the run. */
    async request(by: Requester, input: RunRequest): Promise<RunRequestResult> {
      const procedure = ctx.procedureOf(input.procedure);
      const environment = input.environment ?? procedure.environments[0]!;
      if (input.incidentId && !(await deps.findIncident(input.incidentId))) throw new NotFoundError(`${input.incidentId} does not exist`);
      const view = deps.catalog();
      const policyRequest = (action: string): PolicyRequest => ({
        subject: subjectOf(by.actor),
        action,
        procedure: procedure.name,
        environment,
        ...(input.channel ? { channel: input.channel } : {}),
      });
      const action = input.dryRun ? 'dry-run' : 'run';
      const decision = decide(view.policy, policyRequest(action));
      const incidentId = input.incidentId ?? null;

      // The policy comes before the parameters: a caller who may not run the procedure gets the
      // refusal, never a parameter error that would describe what the procedure takes.
      if (decision.effect === 'deny') {
        const checked = await (async () => {
          try {
            const p = await ctx.plan(procedure, input.params, environment, incidentId, input.defaults);
            return { params: maskDeep(publicParams(procedure, p.values), p.secrets) };
          } catch {
            // Unchecked text is never recorded: it could hold a secret typed into chat.
            return {};
          }
        })();
        await recordDecision(deps, by, policyRequest(action), decision, view.policyHash, incidentId, checked);
        throw new NotAllowedError(`you may not ${action} ${procedure.name} in ${environment}: ${decision.reason}`);
      }

      const planned = await ctx.plan(procedure, input.params, environment, incidentId, input.defaults);
      const params = { values: planned.values, secrets: planned.secrets };
      const shownParams = maskDeep(publicParams(procedure, params.values), params.secrets);
      const stored = publicParams(procedure, params.values);
      const binding = runBinding(procedure, environment, stored, deps.programs);

      if (input.dryRun) {
        const runDecision = decide(view.policy, policyRequest('run'));
        const masked = maskDeep(planned.steps, params.secrets);
        const steps = masked.map((s) => (s.kind === 'run' ? { ...s, env: Object.fromEntries(Object.keys(s.env).map((k) => [k, MASKED])) } : s));
        await uow.transaction(() =>
          audit.append({
            actor: by.actor.id,
            source: by.source,
            kind: 'run.dry_run',
            incidentId,
            payload: {
              procedure: procedure.name,
              environment,
              params: shownParams,
              steps,
              run_effect: runDecision.effect,
              binding: binding.hash,
              authorized: authorizationOf(decision, view.policyHash),
            },
          }),
        );
        return {
          kind: 'dry-run',
          plan: {
            procedure: procedure.name,
            environment,
            params: shownParams,
            steps,
            concurrencyKey: planned.concurrencyKey,
            run: { effect: runDecision.effect, reason: runDecision.reason, ...(runDecision.approval ? { approval: runDecision.approval } : {}) },
            binding: binding.hash,
          },
        };
      }

      const run = await uow.transaction(async (): Promise<Run> => {
        const number = await runs.nextNumber();
        const now = clock.now();
        const created: Run = {
          id: runId(number),
          number,
          procedure: procedure.name,
          environment,
          incidentId,
          channel: input.channel ?? null,
          requestedBy: by.actor.id,
          requestedGroups: [...by.actor.groups],
          source: by.source,
          params: stored,
          binding: binding.hash,
          state: decision.effect === 'approval_required' ? 'pending_approval' : 'queued',
          approval: decision.approval ?? null,
          approvalExpiresAt: decision.approval ? now + decision.approval.expiresMs : null,
          concurrencyKey: planned.concurrencyKey,
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          pgid: null,
          ownerPid: decision.effect === 'approval_required' ? null : deps.pid,
          error: null,
        };
        await runs.insert(created);
        // A busy key throws here, and the transaction takes the new run back with it.
        if (created.state === 'queued') await ctx.holdLease(created, now);
        const payload: Record<string, unknown> = {
          params: shownParams,
          binding: created.binding,
          bound_files: binding.files,
          concurrency_key: created.concurrencyKey,
          channel: created.channel,
        };
        if (decision.effect === 'approval_required') {
          payload.approval = decision.approval;
          payload.approval_expires_at = created.approvalExpiresAt;
          await recordDecision(deps, by, policyRequest('run'), decision, view.policyHash, incidentId, { run: created.id });
        } else {
          payload.authorized = authorizationOf(decision, view.policyHash);
        }
        const seq = await ctx.append(by, created, 'run.requested', payload);
        if (created.state === 'pending_approval') await ctx.post(created, seq, approvalRequestMessage(created));
        await input.onCreated?.(created);
        return created;
      });
      deps.onMessages?.();
      return { kind: 'run', run, done: run.state === 'queued' ? startExecution(run.id) : null };
    },
  };
}
