// Turns a procedure and a request into what would run: checked params, resolved steps, the concurrency key.
import { InputError } from '../../errors.js';
import { maskDeep } from './mask.js';
import { resolveParams, type ParamValue, type ResolveParamsOptions } from './params.js';
import type { Procedure } from './procedure-schema.js';
import { createTemplateContext, resolveConcurrencyKey, resolveStep, type IncidentVariables, type ResolvedStep } from './template.js';

export interface RunPlan {
  procedure: string;
  env: string;
  values: Record<string, ParamValue>;
  /** Secret values (and the bot's credentials), for masking; never shown. */
  secrets: string[];
  steps: ResolvedStep[];
  concurrencyKey: string;
  timeoutMs: number;
}

export interface PlanRequest extends ResolveParamsOptions {
  given: Record<string, string>;
  env: string;
  incident?: IncidentVariables;
  /** Values masked like secret params though no param holds them: the bot's own credentials. */
  alsoMask?: readonly string[];
}

/**
 * Everything a run (or a dry run) needs, checked before anything runs. Throws `ParamsError` for
 * refused parameters, or InputError for an environment the procedure does not serve or template
 * problems (all of them, from every step).
 */
export function planRun(procedure: Procedure, request: PlanRequest): RunPlan {
  if (!procedure.environments.includes(request.env)) {
    throw new InputError(`${procedure.name} does not run in ${JSON.stringify(request.env)}; it runs in ${procedure.environments.join(', ')}`);
  }
  const { values, secrets } = resolveParams(procedure, request.given, request);
  const ctx = createTemplateContext(procedure, values, { env: request.env, ...(request.incident ? { incident: request.incident } : {}) });

  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push(err.message);
      return undefined;
    }
  };
  const steps = procedure.steps.map((step) => attempt(() => resolveStep(step, ctx)));
  const concurrencyKey = attempt(() => resolveConcurrencyKey(procedure, ctx));
  if (problems.length > 0) throw new InputError(`${procedure.name}: ${problems.join('; ')}`);

  return {
    procedure: procedure.name,
    env: request.env,
    values,
    secrets: [...secrets, ...(request.alsoMask ?? [])],
    steps: steps as ResolvedStep[],
    concurrencyKey: concurrencyKey!,
    timeoutMs: procedure.timeout,
  };
}

/** The plan as it may be shown or stored (dry-run output, audit payloads): secret values masked. */
export function describePlan(plan: RunPlan): Omit<RunPlan, 'secrets'> {
  const { secrets, ...shown } = plan;
  return maskDeep(shown, secrets);
}
