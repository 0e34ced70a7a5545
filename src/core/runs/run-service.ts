// Procedure runs end to end: ask the policy, check params, hold for approval, decide again, lease, execute, record.
import { ConflictError, InputError, NotAllowedError, NotFoundError } from '../../errors.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Incident } from '../incidents/incident.js';
import { incidentChannelKey } from '../incidents/incident-service.js';
import type { ChatMessage, Outbox } from '../outbox/outbox.js';
import { canApprove, decide, type Decision, type PolicyRequest, type Subject } from '../policy/policy-engine.js';
import type { ApprovalRequirement } from '../policy/policy.js';
import { authorizationOf, decisiveRules, recordDecision, subjectOf, type PolicyView } from '../policy-access.js';
import type { By, Clock, UnitOfWork } from '../ports.js';
import { maskDeep, maskSecrets } from '../procedures/mask.js';
import type { ParamValue } from '../procedures/params.js';
import { planRun, type RunPlan } from '../procedures/plan.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import type { HttpStepRunner, ProcessStepRunner } from '../procedures/step-runner.js';
import type { ResolvedStep } from '../procedures/template.js';
import { isFinal, runId, sha256, type Run, type RunState, type RunStepRecord } from './run.js';
import { runBinding, type ProgramFiles } from './run-binding.js';
import { approvalRequestMessage, outputTail, resultMessage, startMessage, voidedMessage } from './run-messages.js';
import { recheckRun, requesterSubject } from './run-recheck.js';
import type { RunStore } from './run-store.js';

export interface CatalogView extends PolicyView {
  procedures: ReadonlyMap<string, Procedure>;
}

export interface RunServiceDeps {
  uow: UnitOfWork;
  audit: AuditLog;
  runs: RunStore;
  outbox: Outbox;
  clock: Clock;
  catalog: () => CatalogView;
  findIncident: (id: string) => Incident | undefined;
  /** Where secret params are read from (the bot's environment). */
  secretEnv: Record<string, string | undefined>;
  /** The program files under the commands folder, whose bytes the approval binding covers. */
  programs: ProgramFiles;
  /**
   * The Slack user groups a user is in now (the group directory), or undefined when there is no
   * directory (local mode): a run's stored groups then stand.
   */
  currentGroups?: (userId: string) => Promise<string[]> | undefined;
  /** The bot's own credentials: masked in everything a run stores or posts, as secret params are. */
  credentials?: readonly string[];
  steps: { process: ProcessStepRunner; http: HttpStepRunner };
  /** This process, recorded as the owner of the runs it executes. */
  pid: number;
  /** Whether another edgeops process still lives (start-up recovery leaves its runs alone). */
  isAlive: (pid: number) => boolean;
  /** Kills a process group left behind by a dead edgeops process. */
  killGroup: (pgid: number) => void;
  /** Told whenever background work queued messages (the console prints them). */
  onMessages?: () => void;
  /** Errors of detached work, which has no caller to throw to. */
  onError?: (err: unknown, runId: string) => void;
  /**
   * Told, inside the transaction that records a run's end (or its interruption), of the run and its
   * steps, so a report elsewhere (a PagerDuty note) is queued with the same commit. `causeSeq` is
   * the seq of that end's audit row.
   */
  onFinished?: (run: Run, steps: RunStepRecord[], causeSeq: number) => void;
  /** A link to a run's full output (results carry only each step's tail). */
  outputLink?: (runId: string) => string;
}

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
  onCreated?: (run: Run) => void;
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

export type RunRequestResult =
  | { kind: 'dry-run'; plan: DryRunPlan }
  | { kind: 'run'; run: Run; done: Promise<Run> | null };

/** Whole-run timeouts and cancels reach the executing steps through this. */
interface Active {
  controller: AbortController;
  done: Promise<Run>;
}

const MASKED = '[secret]';

export type RunService = ReturnType<typeof createRunService>;

export function createRunService(deps: RunServiceDeps) {
  const { uow, audit, runs, outbox, clock } = deps;
  const active = new Map<string, Active>();

  function procedureOf(name: string): Procedure {
    const procedure = deps.catalog().procedures.get(name);
    if (!procedure) throw new NotFoundError(`there is no procedure "${name}"; /runbook list shows what you may run`);
    return procedure;
  }

  function load(id: string): Run {
    const run = runs.get(id);
    if (!run) throw new NotFoundError(`${id} does not exist; run ids look like R-12`);
    return run;
  }

  function channelKey(run: Pick<Run, 'incidentId' | 'channel'>): string | null {
    if (run.incidentId) return incidentChannelKey(run.incidentId);
    return run.channel;
  }

  function post(run: Run, causeSeq: number, message: ChatMessage): void {
    const channel = channelKey(run);
    if (channel) outbox.enqueue({ causeSeq, target: 'slack', channel, body: message });
  }

  function append(by: Pick<By, 'actor' | 'source'> | string, run: Run, kind: string, payload: Record<string, unknown>): number {
    const actor = typeof by === 'string' ? by : by.actor.id;
    const source = typeof by === 'string' ? 'system' : by.source;
    return audit.append({ actor, source, kind, incidentId: run.incidentId, payload: { run: run.id, procedure: run.procedure, environment: run.environment, ...payload } }).seq;
  }

  /** Checks params and resolves every step for one run; throws with every problem found. */
  function plan(procedure: Procedure, given: Record<string, string>, environment: string, incidentId: string | null, defaults?: Record<string, ParamValue>): RunPlan {
    const incident = incidentId ? deps.findIncident(incidentId) : undefined;
    return planRun(procedure, {
      given,
      env: environment,
      secretEnv: deps.secretEnv,
      ...(deps.credentials ? { alsoMask: deps.credentials } : {}),
      ...(defaults ? { defaults } : {}),
      ...(incident ? { incident: { id: incident.id, pagerdutyId: incident.pagerdutyId ?? undefined, service: incident.service ?? undefined } } : {}),
    });
  }

  /** Non-secret params only: secret values never reach the database. */
  function publicParams(procedure: Procedure, values: Record<string, ParamValue>): Record<string, ParamValue> {
    const out: Record<string, ParamValue> = {};
    for (const [k, v] of Object.entries(values)) if (procedure.params[k]?.type !== 'secret') out[k] = v;
    return out;
  }

  /** The run's binding as the procedure and program files stand now. */
  const bindingOf = (procedure: Procedure, run: Pick<Run, 'environment' | 'params'>): string =>
    runBinding(procedure, run.environment, run.params, deps.programs).hash;

  /**
   * The requester as the policy sees them now. Slack users' groups are what the group directory
   * says now (a user taken out of a group loses its roles for runs still to come); console, CLI,
   * PagerDuty and scheduler runs keep the groups they were requested with.
   */
  async function requesterNow(run: Run): Promise<Subject> {
    const fresh = run.source === 'slack' ? deps.currentGroups?.(run.requestedBy) : undefined;
    return requesterSubject(run, fresh ? await fresh : run.requestedGroups);
  }

  /**
   * The groups of earlier approvers as the group directory says now, by user; an Error when the
   * directory could not tell. Without a directory (local mode) no groups are known: only roles given
   * to the user by id still count.
   */
  async function approverGroupsNow(userIds: string[]): Promise<Map<string, string[] | Error>> {
    const settled = await Promise.allSettled(userIds.map(async (userId) => (await deps.currentGroups?.(userId)) ?? []));
    return new Map(userIds.map((userId, i) => {
      const r = settled[i]!;
      return [userId, r.status === 'fulfilled' ? r.value : new Error(r.reason instanceof Error ? r.reason.message : String(r.reason))];
    }));
  }

  /** Why an earlier approver of `run` may no longer approve it under `view`, if they may not. */
  function approverRefusal(view: CatalogView, run: Run, approver: string, groups: string[] | Error | undefined): string | undefined {
    if (groups === undefined || groups instanceof Error) return `their groups could not be read${groups ? ` (${groups.message})` : ''}`;
    const check = canApprove(view.policy, { userId: approver, groups }, {
      procedure: run.procedure,
      environment: run.environment,
      ...(run.channel ? { channel: run.channel } : {}),
      approvalRoles: run.approval?.roles ?? [],
    });
    return check.allowed ? undefined : check.reason;
  }

  interface Void {
    reason: string;
    /** What the audit row records beside the reason: which check failed, and on what authority. */
    payload: Record<string, unknown>;
  }

  /**
   * Why `run` may no longer go ahead under the catalog in force, if it may not: the policy no longer
   * allows its requester (or not with the approval it carries), or what it would run is no longer
   * what was requested and approved.
   */
  function voidReason(view: CatalogView, run: Run, subject: Subject): Void | undefined {
    const check = recheckRun(view.policy, subject, run);
    if (!check.ok) {
      return {
        reason: check.reason,
        payload: { check: 'policy', groups: subject.groups, roles: check.decision.roles, rules: decisiveRules(check.decision), policy_hash: view.policyHash },
      };
    }
    const procedure = view.procedures.get(run.procedure);
    if (!procedure) return { reason: `${run.procedure} is no longer in the catalog`, payload: { check: 'binding', binding: run.binding } };
    let now: string;
    try {
      now = bindingOf(procedure, run);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return { reason: `${run.procedure} can no longer run: ${err.message}`, payload: { check: 'binding', binding: run.binding } };
    }
    if (now === run.binding) return undefined;
    return {
      reason: `${run.procedure}, its parameters or a program it runs changed after ${run.id} was requested; request it again`,
      payload: { check: 'binding', binding: run.binding, binding_now: now },
    };
  }

  /** The void of a waiting run that could not be decided again (the group directory or a file read failed). */
  function uncheckable(run: Run, err: unknown): Void {
    const error = maskSecrets(err instanceof Error ? err.message : String(err), deps.credentials ?? []);
    return {
      reason: `${run.id} could not be checked against the catalog in force (${error}); request it again`,
      payload: { check: 'unchecked', error },
    };
  }

  /** The stored (non-secret) params as text, to plan again at execution time with fresh secrets. */
  const givenOf = (run: Run): Record<string, string> => Object.fromEntries(Object.entries(run.params).map(([k, v]) => [k, String(v)]));

  /**
   * The refusal for a concurrency key another run holds. A holder in a private incident stays
   * anonymous: its id, requester and state would tell the caller about an incident they may not see.
   */
  function busy(key: string, holder: string): ConflictError {
    const other = runs.get(holder);
    const incident = other?.incidentId ? deps.findIncident(other.incidentId) : undefined;
    if (incident?.private) return new ConflictError(`${key} is busy: another run holds it; try again when it has finished`);
    const who = other ? ` (started by <@${other.requestedBy}>, ${other.state})` : '';
    return new ConflictError(`${key} is busy: ${holder}${who} holds it; wait for it to finish or cancel it`);
  }

  function holdsLease(run: Run): void {
    const holder = runs.leaseHolder(run.concurrencyKey);
    if (holder !== undefined && holder !== run.id) throw busy(run.concurrencyKey, holder);
    if (holder === undefined) runs.acquireLease(run.concurrencyKey, run.id, clock.now());
  }

  function startExecution(id: string): Promise<Run> {
    const controller = new AbortController();
    const done = execute(id, controller).finally(() => active.delete(id));
    active.set(id, { controller, done });
    return done;
  }

  async function execute(id: string, controller: AbortController): Promise<Run> {
    let run = load(id);
    let procedure: Procedure | undefined;
    let resolved: RunPlan;
    try {
      // Decided again just before anything runs, with or without approval: the policy, the groups
      // and the files in force now are what count, not those of the request.
      const subject = await requesterNow(run);
      run = load(id);
      const view = deps.catalog();
      const problem = voidReason(view, run, subject);
      if (problem) return finish(run, 'denied', problem.reason, { voided: problem.payload });
      procedure = view.procedures.get(run.procedure)!;
      resolved = plan(procedure, givenOf(run), run.environment, run.incidentId);
    } catch (err) {
      // Nothing is resolved yet: the bot's credentials and the procedure's secret values are what to hide.
      return finish(load(id), 'failed', maskedMessage(err, knownSecrets(procedure ?? deps.catalog().procedures.get(run.procedure))));
    }
    const secrets = resolved.secrets;
    const timer = setTimeout(() => controller.abort('timeout'), procedure.timeout);
    timer.unref();
    try {
      uow.transaction(() => {
        run = load(id);
        run.state = 'running';
        run.startedAt = clock.now();
        run.ownerPid = deps.pid;
        runs.save(run);
        const seq = append(run.requestedBy, run, 'run.started', { owner_pid: deps.pid, started_at: run.startedAt });
        post(run, seq, startMessage(run));
      });
      deps.onMessages?.();

      let final: RunState = 'succeeded';
      let error: string | null = null;
      for (const [index, step] of resolved.steps.entries()) {
        if (controller.signal.aborted) break;
        // A program replaced while earlier steps ran is not what was approved: it does not start.
        if (step.kind === 'run' && !bindingHolds(procedure, run)) {
          final = 'failed';
          error = `a program of ${run.procedure} changed during the run; step ${step.name} and those after it were not started`;
          break;
        }
        const startedAt = clock.now();
        uow.transaction(() => {
          append('system', run, 'run.step_started', {
            step: step.name,
            index,
            ...(step.kind === 'run'
              ? { argv: step.argv.map((a) => maskSecrets(a, secrets)) }
              : { method: step.method, url: maskSecrets(step.url, secrets) }),
          });
        });
        const record = await runStep(run, index, step, startedAt, secrets, controller.signal);
        uow.transaction(() => {
          runs.saveStep(record);
          append('system', run, 'run.step_finished', {
            step: record.name,
            index,
            outcome: record.outcome,
            exit_code: record.exitCode,
            http_status: record.httpStatus,
            duration_ms: record.finishedAt - record.startedAt,
            output_tail: outputTail(record.output, 2000),
            output_bytes: Buffer.byteLength(record.output),
            output_sha256: sha256(record.output),
            truncated_bytes: record.truncatedBytes,
            error: record.error,
          });
        });
        if (record.outcome === 'succeeded') continue;
        // The step awaited above may have been aborted; tsc keeps the narrowing from the loop's head across that await.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (controller.signal.aborted) {
          final = controller.signal.reason === 'timeout' ? 'timed_out' : 'cancelled';
          error = final === 'timed_out' ? `the run exceeded its timeout of ${Math.round(procedure.timeout / 1000)}s` : 'cancelled';
          break;
        }
        if (step.onError === 'continue') continue;
        final = record.outcome === 'timed_out' ? 'timed_out' : 'failed';
        error = `step ${step.name} ${record.outcome.replace('_', ' ')}`;
        break;
      }
      if (final === 'succeeded' && controller.signal.aborted) {
        final = controller.signal.reason === 'timeout' ? 'timed_out' : 'cancelled';
      }
      return finish(load(id), final, error);
    } catch (err) {
      deps.onError?.(err, id);
      return finish(load(id), 'failed', `edgeops could not complete the run: ${maskedMessage(err, secrets)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async function runStep(run: Run, index: number, step: ResolvedStep, startedAt: number, secrets: string[], signal: AbortSignal): Promise<RunStepRecord> {
    const base = { runId: run.id, index, name: step.name, kind: step.kind, startedAt };
    const timeoutMs = step.timeoutMs ?? deps.catalog().procedures.get(run.procedure)?.timeout ?? 600_000;
    if (step.kind === 'run') {
      const r = await deps.steps.process({
        argv: step.argv,
        env: step.env,
        timeoutMs,
        signal,
        secrets,
        onSpawn: ({ pgid }) => {
          uow.transaction(() => {
            const current = load(run.id);
            current.pgid = pgid;
            runs.save(current);
          });
        },
      });
      return { ...base, outcome: r.outcome, exitCode: r.exitCode, httpStatus: null, finishedAt: clock.now(), output: maskSecrets(r.output, secrets), truncatedBytes: r.truncatedBytes, error: maskedError(r.error, secrets) };
    }
    const r = await deps.steps.http({ method: step.method, url: step.url, headers: step.headers, body: step.body, expectStatus: step.expectStatus, timeoutMs, signal, secrets });
    return { ...base, outcome: r.outcome, exitCode: null, httpStatus: r.status, finishedAt: clock.now(), output: maskSecrets(r.bodyExcerpt, secrets), truncatedBytes: 0, error: maskedError(r.error, secrets) };
  }

  /** A step runner's error text can quote argv, env or a response: it is stored and posted masked, like output. */
  const maskedError = (error: string | undefined, secrets: readonly string[]): string | null => (error === undefined ? null : maskSecrets(error, secrets));

  /** An exception's text as a run stores and posts it: never a secret or credential, whatever raised it. */
  const maskedMessage = (err: unknown, secrets: readonly string[]): string => maskSecrets(err instanceof Error ? err.message : String(err), secrets);

  /** The bot's credentials and the values of `procedure`'s secret params, for text masked before a run is planned. */
  function knownSecrets(procedure: Procedure | undefined): string[] {
    const values = Object.values(procedure?.params ?? {}).flatMap((p) => (p.type === 'secret' ? [deps.secretEnv[p.env]] : []));
    return [...(deps.credentials ?? []), ...values.filter((v): v is string => typeof v === 'string')];
  }

  function bindingHolds(procedure: Procedure, run: Run): boolean {
    try {
      return bindingOf(procedure, run) === run.binding;
    } catch (err) {
      if (err instanceof InputError) return false;
      throw err;
    }
  }

  function finish(run: Run, state: RunState, error: string | null, extra: Record<string, unknown> = {}): Run {
    uow.transaction(() => {
      run.state = state;
      run.error = error;
      run.finishedAt = clock.now();
      run.pgid = null;
      runs.save(run);
      runs.releaseLease(run.concurrencyKey, run.id);
      const seq = append('system', run, 'run.finished', {
        state,
        error,
        duration_ms: run.startedAt === null ? null : run.finishedAt - run.startedAt,
        // The exact times exports show, so `edgeops audit verify` can hold the runs table to them.
        started_at: run.startedAt,
        finished_at: run.finishedAt,
        ...extra,
      });
      const steps = runs.steps(run.id);
      post(run, seq, resultMessage(run, steps, deps.outputLink?.(run.id)));
      deps.onFinished?.(run, steps, seq);
    });
    deps.onMessages?.();
    return run;
  }

  /** A transition out of pending_approval that ends the run without executing it. */
  function endPending(
    run: Run,
    by: Pick<By, 'actor' | 'source'> | string,
    state: 'denied' | 'cancelled',
    kind: string,
    reason: string,
    extra: Record<string, unknown> = {},
    message?: ChatMessage,
  ): void {
    run.state = state;
    run.error = reason;
    run.finishedAt = clock.now();
    runs.save(run);
    const seq = append(by, run, kind, { reason, finished_at: run.finishedAt, ...extra });
    post(run, seq, message ?? { kind, text: `⛔ ${run.id} ${run.procedure} (${run.environment}) ${state}: ${reason}`, data: { runId: run.id } });
  }

  /** Ends a waiting run that may no longer go ahead, and tells its requester in the run's channel. */
  function voidPending(run: Run, problem: Void): void {
    endPending(run, 'system', 'denied', 'run.approval_voided', problem.reason, problem.payload, voidedMessage(run, problem.reason));
  }

  return {
    /** Checks everything, then dry-runs, holds for approval, or starts the run. */
    request(by: Pick<By, 'actor' | 'source'>, input: RunRequest): RunRequestResult {
      const procedure = procedureOf(input.procedure);
      const environment = input.environment ?? procedure.environments[0]!;
      if (input.incidentId && !deps.findIncident(input.incidentId)) throw new NotFoundError(`${input.incidentId} does not exist`);
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
        const checked = (() => {
          try {
            const p = plan(procedure, input.params, environment, incidentId, input.defaults);
            return { params: maskDeep(publicParams(procedure, p.values), p.secrets) };
          } catch {
            // Unchecked text is never recorded: it could hold a secret typed into chat.
            return {};
          }
        })();
        recordDecision(deps, by, policyRequest(action), decision, view.policyHash, incidentId, checked);
        throw new NotAllowedError(`you may not ${action} ${procedure.name} in ${environment}: ${decision.reason}`);
      }

      const planned = plan(procedure, input.params, environment, incidentId, input.defaults);
      const params = { values: planned.values, secrets: planned.secrets };
      const shownParams = maskDeep(publicParams(procedure, params.values), params.secrets);
      const stored = publicParams(procedure, params.values);
      const binding = runBinding(procedure, environment, stored, deps.programs);

      if (input.dryRun) {
        const runDecision = decide(view.policy, policyRequest('run'));
        const masked = maskDeep(planned.steps, params.secrets);
        const steps = masked.map((s) => (s.kind === 'run' ? { ...s, env: Object.fromEntries(Object.keys(s.env).map((k) => [k, MASKED])) } : s));
        uow.transaction(() =>
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

      const run = uow.transaction((): Run => {
        const number = runs.nextNumber();
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
        if (created.state === 'queued') {
          const holder = runs.leaseHolder(created.concurrencyKey);
          if (holder !== undefined) throw busy(created.concurrencyKey, holder);
        }
        runs.insert(created);
        if (created.state === 'queued') runs.acquireLease(created.concurrencyKey, created.id, now);
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
          recordDecision(deps, by, policyRequest('run'), decision, view.policyHash, incidentId, { run: created.id });
        } else {
          payload.authorized = authorizationOf(decision, view.policyHash);
        }
        const seq = append(by, created, 'run.requested', payload);
        if (created.state === 'pending_approval') post(created, seq, approvalRequestMessage(created));
        input.onCreated?.(created);
        return created;
      });
      deps.onMessages?.();
      return { kind: 'run', run, done: run.state === 'queued' ? startExecution(run.id) : null };
    },

    async approve(by: Pick<By, 'actor' | 'source'>, id: string): Promise<{ run: Run; approvals: number; needed: number; done: Promise<Run> | null }> {
      // Read before the transaction, which cannot wait for the group directory.
      const requester = await requesterNow(load(id));
      const earlierApprovers = (): string[] => runs.approvals(id).filter((a) => a.decision === 'approve' && a.approver !== by.actor.id).map((a) => a.approver);
      let earlierGroups = await approverGroupsNow(earlierApprovers());
      // An approval that lands while the groups are read is read too (a few times), rather than left uncounted.
      for (let attempt = 1; attempt < 3 && earlierApprovers().some((a) => !earlierGroups.has(a)); attempt += 1) {
        earlierGroups = await approverGroupsNow(earlierApprovers());
      }
      const result = uow.transaction(() => {
        const run = load(id);
        if (run.state !== 'pending_approval') throw new ConflictError(`${run.id} is ${run.state}; only runs waiting for approval can be approved`);
        if (run.requestedBy === by.actor.id) {
          // Recorded like any refusal (it shows among the postmortem's denied attempts), then refused.
          audit.append({
            actor: by.actor.id,
            source: by.source,
            kind: 'policy.denied',
            incidentId: run.incidentId,
            payload: { action: 'approve', run: run.id, procedure: run.procedure, environment: run.environment, reason: 'the requester never approves their own run' },
          });
          return { selfApproval: true as const, run };
        }
        const now = clock.now();
        if (run.approvalExpiresAt !== null && now > run.approvalExpiresAt) {
          endPending(run, 'system', 'denied', 'run.approval_expired', `the approval window closed at ${new Date(run.approvalExpiresAt).toISOString()}; request it again`);
          return { expired: true as const, run };
        }
        const view = deps.catalog();
        const approver = canApprove(view.policy, subjectOf(by.actor), {
          procedure: run.procedure,
          environment: run.environment,
          ...(run.channel ? { channel: run.channel } : {}),
          approvalRoles: run.approval?.roles ?? [],
        });
        if (!approver.allowed) {
          audit.append({
            actor: by.actor.id,
            source: by.source,
            kind: 'policy.denied',
            incidentId: run.incidentId,
            payload: { action: 'approve', run: run.id, procedure: run.procedure, environment: run.environment, roles: approver.roles, reason: approver.reason, policy_hash: view.policyHash },
          });
          return { refused: approver.reason, run };
        }
        const previous = runs.approvals(run.id);
        if (previous.some((a) => a.approver === by.actor.id)) throw new ConflictError(`you already approved ${run.id}`);
        const counted = (a: { decision: string; binding: string; approver: string }): boolean =>
          a.decision === 'approve' && a.binding === run.binding && a.approver !== run.requestedBy;
        // An earlier approval counts only while its approver may still approve under the policy and
        // groups in force: a policy edit or a group change takes back approvals not yet acted on.
        const notCounted: Array<{ approver: string; reason: string }> = [];
        const standing = previous.filter(counted).filter((a) => {
          const reason = approverRefusal(view, run, a.approver, earlierGroups.get(a.approver));
          if (reason !== undefined) notCounted.push({ approver: a.approver, reason });
          return reason === undefined;
        });
        const needed = run.approval?.count ?? 1;
        const complete = standing.length + 1 >= needed;
        // Every approval, the last one above all, decides the requester again against the policy and
        // groups in force and checks the binding: an approval never revives what the policy now refuses.
        const problem = voidReason(view, run, requester);
        if (problem) {
          voidPending(run, problem);
          return { voided: problem.reason, run };
        }
        runs.addApproval({ runId: run.id, approver: by.actor.id, decision: 'approve', at: now, binding: run.binding, reason: null });
        const approvals = standing.length + 1;
        if (complete) {
          holdsLease(run);
          run.state = 'queued';
          run.ownerPid = deps.pid;
          runs.save(run);
        }
        const seq = append(by, run, 'run.approved', {
          binding: run.binding,
          approvals,
          needed,
          complete,
          authorized: { policy_hash: view.policyHash, rules: [approver.reason] },
          ...(notCounted.length > 0 ? { not_counted: notCounted } : {}),
        });
        const dropped = notCounted.map((n) => `; <@${n.approver}>'s approval no longer counts: ${n.reason}`).join('');
        post(run, seq, {
          kind: 'run.approved',
          text: `👍 <@${by.actor.id}> approved ${run.id} (${approvals}/${needed})${complete ? '; starting' : ''}${dropped}`,
          data: { runId: run.id },
        });
        return { run, approvals, needed, complete };
      });
      deps.onMessages?.();
      if ('selfApproval' in result) throw new NotAllowedError(`you requested ${id}; someone else must approve it`);
      if ('expired' in result) throw new ConflictError(`${id} expired: its approval window closed; request it again`);
      if ('voided' in result) throw new ConflictError(`${id} is void: ${result.voided}`);
      if ('refused' in result) throw new NotAllowedError(`you may not approve ${id}: ${result.refused}`);
      return { run: result.run, approvals: result.approvals, needed: result.needed, done: result.complete ? startExecution(id) : null };
    },

    deny(by: Pick<By, 'actor' | 'source'>, id: string, reason: string): Run {
      const outcome = uow.transaction(() => {
        const run = load(id);
        if (run.state !== 'pending_approval') throw new ConflictError(`${run.id} is ${run.state}; only runs waiting for approval can be denied`);
        const view = deps.catalog();
        const isRequester = run.requestedBy === by.actor.id;
        const approver = canApprove(view.policy, subjectOf(by.actor), {
          procedure: run.procedure,
          environment: run.environment,
          ...(run.channel ? { channel: run.channel } : {}),
          approvalRoles: run.approval?.roles ?? [],
        });
        if (!isRequester && !approver.allowed) return { refused: approver.reason };
        runs.addApproval({ runId: run.id, approver: by.actor.id, decision: 'deny', at: clock.now(), binding: run.binding, reason: reason || null });
        endPending(run, by, 'denied', 'run.denied', `denied by <@${by.actor.id}>${reason ? `: ${reason}` : ''}`);
        return { run };
      });
      deps.onMessages?.();
      if ('refused' in outcome) throw new NotAllowedError(`you may not deny ${id}: ${outcome.refused}`);
      return outcome.run;
    },

    cancel(by: Pick<By, 'actor' | 'source'>, id: string): Run {
      const run = load(id);
      if (isFinal(run.state)) throw new ConflictError(`${run.id} already ended (${run.state})`);
      if (run.requestedBy !== by.actor.id) {
        const view = deps.catalog();
        const request: PolicyRequest = { subject: subjectOf(by.actor), action: 'cancel', procedure: run.procedure, environment: run.environment };
        const decision = decide(view.policy, request);
        if (decision.effect !== 'allow') {
          recordDecision(deps, by, request, decision, view.policyHash, run.incidentId, { run: run.id });
          throw new NotAllowedError(`you may not cancel ${run.id}: ${decision.reason}`);
        }
      }
      const running = active.get(run.id);
      if (run.state === 'pending_approval' || (run.state === 'queued' && !running)) {
        uow.transaction(() => {
          const current = load(id);
          runs.releaseLease(current.concurrencyKey, current.id);
          endPending(current, by, 'cancelled', 'run.cancelled', `cancelled by <@${by.actor.id}>`);
        });
        deps.onMessages?.();
        return load(id);
      }
      if (!running) {
        throw new ConflictError(`${run.id} is executed by another edgeops process (pid ${run.ownerPid ?? '?'}); cancel it there`);
      }
      uow.transaction(() => append(by, run, 'run.cancel_requested', {}));
      running.controller.abort('cancel');
      return run;
    },

    get: load,
    steps: (id: string): RunStepRecord[] => runs.steps(id),
    approvals: (id: string) => runs.approvals(id),
    forIncident: (incidentId: string): Run[] => runs.forIncident(incidentId),
    /** Resolves when the run started by this process ends. */
    whenDone: (id: string): Promise<Run> | undefined => active.get(id)?.done,
    /** Resolves when every run this process executes has ended. */
    async idle(): Promise<void> {
      while (active.size > 0) await Promise.allSettled([...active.values()].map((a) => a.done));
    },

    /** Runs left running or queued by a dead edgeops process: interrupted, never re-run by themselves. */
    recoverInterrupted(): Run[] {
      const recovered: Run[] = [];
      for (const run of runs.active()) {
        if (run.ownerPid !== null && run.ownerPid !== deps.pid && deps.isAlive(run.ownerPid)) continue;
        if (active.has(run.id)) continue;
        if (run.pgid !== null) deps.killGroup(run.pgid);
        uow.transaction(() => {
          const current = load(run.id);
          const killed = current.pgid;
          current.state = 'interrupted';
          current.error = 'edgeops stopped while this run was in progress; it will not be re-run by itself';
          current.finishedAt = clock.now();
          current.pgid = null;
          runs.save(current);
          runs.releaseLease(current.concurrencyKey, current.id);
          const seq = append('system', current, 'run.interrupted', {
            killed_process_group: killed,
            previous_owner_pid: run.ownerPid,
            error: current.error,
            finished_at: current.finishedAt,
          });
          post(current, seq, {
            kind: 'run.interrupted',
            text: `⚠ ${current.id} ${current.procedure} (${current.environment}) was interrupted: edgeops stopped mid-run. Its leftover processes were stopped; it will not re-run by itself — check the system, then run it again if needed.`,
            data: { runId: current.id },
          });
          deps.onFinished?.(current, runs.steps(current.id), seq);
          recovered.push(current);
        });
      }
      if (recovered.length > 0) deps.onMessages?.();
      return recovered;
    },

    /**
     * After a reload of policies and procedures: every run waiting for approval that the catalog in
     * force would no longer let go ahead is denied, the reason recorded and its requester told.
     */
    async revalidateWaiting(): Promise<Run[]> {
      const waiting = runs.pendingApproval();
      // One requester the group directory cannot answer for must not spare the others their check.
      const subjects = await Promise.allSettled(waiting.map((run) => requesterNow(run)));
      const view = deps.catalog();
      const voided: Run[] = [];
      const voidIf = (id: string, problemOf: (current: Run) => Void | undefined): void => {
        uow.transaction(() => {
          const current = load(id);
          if (current.state !== 'pending_approval') return;
          const problem = problemOf(current);
          if (!problem) return;
          voidPending(current, problem);
          voided.push(current);
        });
      };
      waiting.forEach((run, i) => {
        const subject = subjects[i]!;
        try {
          voidIf(run.id, (current) => (subject.status === 'fulfilled' ? voidReason(view, current, subject.value) : uncheckable(current, subject.reason)));
        } catch (err) {
          // A run that cannot be checked is not left to be approved under a catalog it may break: fail closed.
          try {
            voidIf(run.id, (current) => uncheckable(current, err));
          } catch (again) {
            deps.onError?.(again, run.id);
          }
        }
      });
      if (voided.length > 0) deps.onMessages?.();
      return voided;
    },

    /** Ends runs whose approval window has closed (the scheduler calls this; approve checks too). */
    expireApprovals(): Run[] {
      const now = clock.now();
      const expired: Run[] = [];
      for (const run of runs.pendingApproval()) {
        if (run.approvalExpiresAt === null || now <= run.approvalExpiresAt) continue;
        uow.transaction(() => {
          const current = load(run.id);
          if (current.state !== 'pending_approval') return;
          endPending(current, 'system', 'denied', 'run.approval_expired', `no approval before ${new Date(run.approvalExpiresAt!).toISOString()}; request it again`);
          expired.push(current);
        });
      }
      if (expired.length > 0) deps.onMessages?.();
      return expired;
    },
  };
}
