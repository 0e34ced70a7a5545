// Execution: run a queued run's steps in this process, record each, and end it; cancel and wait for runs.
import { ConflictError, InputError, NotAllowedError } from '../../errors.js';
import { decide, type PolicyRequest } from '../policy/policy-engine.js';
import { recordDecision, subjectOf } from '../policy-access.js';
import { maskSecrets } from '../procedures/mask.js';
import type { RunPlan } from '../procedures/plan.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import type { ResolvedStep } from '../procedures/template.js';
import { isFinal, sha256, type Run, type RunState, type RunStepRecord } from './run.js';
import type { Requester, RunContext } from './run-context.js';
import { outputTail, resultMessage, startMessage } from './run-messages.js';

/** The stored (non-secret) params as text, to plan again at execution time with fresh secrets. */
const givenOf = (run: Run): Record<string, string> => Object.fromEntries(Object.entries(run.params).map(([k, v]) => [k, String(v)]));

/** A step runner's error text can quote argv, env or a response: it is stored and posted masked, like output. */
const maskedError = (error: string | undefined, secrets: readonly string[]): string | null => (error === undefined ? null : maskSecrets(error, secrets));

/** An exception's text as a run stores and posts it: never a secret or credential, whatever raised it. */
const maskedMessage = (err: unknown, secrets: readonly string[]): string => maskSecrets(err instanceof Error ? err.message : String(err), secrets);

export function createRunExecution(ctx: RunContext) {
  const { deps, active } = ctx;
  const { uow, runs, clock } = deps;

  function startExecution(id: string): Promise<Run> {
    const controller = new AbortController();
    const done = execute(id, controller).finally(() => active.delete(id));
    active.set(id, { controller, done });
    return done;
  }

  async function execute(id: string, controller: AbortController): Promise<Run> {
    let run = await ctx.load(id);
    let procedure: Procedure | undefined;
    let resolved: RunPlan;
    try {
      // Decided again just before anything runs, with or without approval: the policy, the groups
      // and the files in force now are what count, not those of the request.
      const subject = await ctx.requesterNow(run);
      run = await ctx.load(id);
      const view = deps.catalog();
      const problem = ctx.voidReason(view, run, subject);
      if (problem) return await finish(run, 'denied', problem.reason, { voided: problem.payload });
      procedure = view.procedures.get(run.procedure)!;
      resolved = await ctx.plan(procedure, givenOf(run), run.environment, run.incidentId);
    } catch (err) {
      // Nothing is resolved yet: the bot's credentials and the procedure's secret values are what to hide.
      return finish(await ctx.load(id), 'failed', maskedMessage(err, knownSecrets(procedure ?? deps.catalog().procedures.get(run.procedure))));
    }
    const secrets = resolved.secrets;
    const timer = setTimeout(() => controller.abort('timeout'), procedure.timeout);
    timer.unref();
    try {
      // Started only if still queued: a cancel that landed after the approval and before this start has ended it.
      let stillQueued = true;
      await uow.transaction(async () => {
        run = await ctx.load(id);
        if (run.state !== 'queued') {
          stillQueued = false;
          return;
        }
        run.state = 'running';
        run.startedAt = clock.now();
        run.ownerPid = deps.pid;
        await runs.save(run);
        const seq = await ctx.append(run.requestedBy, run, 'run.started', { owner_pid: deps.pid, started_at: run.startedAt });
        await ctx.post(run, seq, startMessage(run));
      });
      // The transaction above may have found the run ended; tsc does not see that assignment.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (!stillQueued) return run;
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
        await uow.transaction(async () => {
          await ctx.append('system', run, 'run.step_started', {
            step: step.name,
            index,
            ...(step.kind === 'run'
              ? { argv: step.argv.map((a) => maskSecrets(a, secrets)) }
              : { method: step.method, url: maskSecrets(step.url, secrets) }),
          });
        });
        const record = await runStep(run, index, step, startedAt, secrets, controller.signal);
        await uow.transaction(async () => {
          await runs.saveStep(record);
          await ctx.append('system', run, 'run.step_finished', {
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
      return await finish(await ctx.load(id), final, error);
    } catch (err) {
      deps.onError?.(err, id);
      return await finish(await ctx.load(id), 'failed', `edgeops could not complete the run: ${maskedMessage(err, secrets)}`);
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
          // Recorded in the background: the step's own awaits keep it ahead of the run's end (transactions run in order).
          uow
            .transaction(async () => {
              const current = await ctx.load(run.id);
              current.pgid = pgid;
              await runs.save(current);
            })
            .catch((err: unknown) => deps.onError?.(err, run.id));
        },
      });
      return {
        ...base,
        outcome: r.outcome,
        exitCode: r.exitCode,
        httpStatus: null,
        finishedAt: clock.now(),
        output: maskSecrets(r.output, secrets),
        truncatedBytes: r.truncatedBytes,
        error: maskedError(r.error, secrets),
      };
    }
    const r = await deps.steps.http({
      method: step.method,
      url: step.url,
      headers: step.headers,
      body: step.body,
      expectStatus: step.expectStatus,
      timeoutMs,
      signal,
      secrets,
    });
    return {
      ...base,
      outcome: r.outcome,
      exitCode: null,
      httpStatus: r.status,
      finishedAt: clock.now(),
      output: maskSecrets(r.bodyExcerpt, secrets),
      truncatedBytes: 0,
      error: maskedError(r.error, secrets),
    };
  }

  /** The bot's credentials and the values of `procedure`'s secret params, for text masked before a run is planned. */
  function knownSecrets(procedure: Procedure | undefined): string[] {
    const values = Object.values(procedure?.params ?? {}).flatMap((p) => (p.type === 'secret' ? [deps.secretEnv[p.env]] : []));
    return [...(deps.credentials ?? []), ...values.filter((v): v is string => typeof v === 'string')];
  }

  function bindingHolds(procedure: Procedure, run: Run): boolean {
    try {
      return ctx.bindingOf(procedure, run) === run.binding;
    } catch (err) {
      if (err instanceof InputError) return false;
      throw err;
    }
  }

  async function finish(run: Run, state: RunState, error: string | null, extra: Record<string, unknown> = {}): Promise<Run> {
    // A run that ended meanwhile (cancelled before it started) keeps the end it was given.
    let ended: Run | undefined;
    await uow.transaction(async () => {
      const stored = await ctx.load(run.id);
      if (isFinal(stored.state)) {
        ended = stored;
        return;
      }
      run.state = state;
      run.error = error;
      run.finishedAt = clock.now();
      run.pgid = null;
      await runs.save(run);
      await runs.releaseLease(run.concurrencyKey, run.id);
      const seq = await ctx.append('system', run, 'run.finished', {
        state,
        error,
        duration_ms: run.startedAt === null ? null : run.finishedAt - run.startedAt,
        // The exact times exports show, so `edgeops audit verify` can hold the runs table to them.
        started_at: run.startedAt,
        finished_at: run.finishedAt,
        ...extra,
      });
      const steps = await runs.steps(run.id);
      await ctx.post(run, seq, resultMessage(run, steps, deps.outputLink?.(run.id)));
      await deps.onFinished?.(run, steps, seq);
    });
    if (ended) return ended;
    deps.onMessages?.();
    return run;
  }

  return {
    startExecution,

    async cancel(by: Requester, id: string): Promise<Run> {
      const run = await ctx.load(id);
      if (isFinal(run.state)) throw new ConflictError(`${run.id} already ended (${run.state})`);
      if (run.requestedBy !== by.actor.id) {
        const view = deps.catalog();
        const request: PolicyRequest = { subject: subjectOf(by.actor), action: 'cancel', procedure: run.procedure, environment: run.environment };
        const decision = decide(view.policy, request);
        if (decision.effect !== 'allow') {
          await recordDecision(deps, by, request, decision, view.policyHash, run.incidentId, { run: run.id });
          throw new NotAllowedError(`you may not cancel ${run.id}: ${decision.reason}`);
        }
      }
      // Decided on the run as it is inside the transaction: it may have been approved, started,
      // denied or ended since it was read above.
      const how = await uow.transaction(async (): Promise<'ended' | 'abort'> => {
        const current = await ctx.load(id);
        if (isFinal(current.state)) throw new ConflictError(`${current.id} already ended (${current.state})`);
        if (current.state === 'pending_approval' || (current.state === 'queued' && !active.has(id))) {
          await runs.releaseLease(current.concurrencyKey, current.id);
          await ctx.endPending(current, by, 'cancelled', 'run.cancelled', `cancelled by <@${by.actor.id}>`);
          return 'ended';
        }
        if (!active.has(id)) {
          throw new ConflictError(`${current.id} is executed by another edgeops process (pid ${current.ownerPid ?? '?'}); cancel it there`);
        }
        await ctx.append(by, current, 'run.cancel_requested', {});
        return 'abort';
      });
      if (how === 'ended') {
        deps.onMessages?.();
        return ctx.load(id);
      }
      active.get(id)?.controller.abort('cancel');
      return ctx.load(id);
    },

    /** Resolves when every run this process executes has ended. */
    async idle(): Promise<void> {
      while (active.size > 0) await Promise.allSettled([...active.values()].map((a) => a.done));
    },
  };
}
