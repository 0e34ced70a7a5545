// What every part of the run service shares: its dependencies, the runs this process executes, and the helpers that read, record and post a run.
import { ConflictError, InputError, NotFoundError } from '../../errors.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Incident } from '../incidents/incident.js';
import { incidentChannelKey } from '../incidents/incident-service.js';
import type { ChatMessage, Outbox } from '../outbox/outbox.js';
import { canApprove, type Subject } from '../policy/policy-engine.js';
import { decisiveRules, type PolicyView } from '../policy-access.js';
import type { By, Clock, UnitOfWork } from '../ports.js';
import { maskSecrets } from '../procedures/mask.js';
import type { ParamValue } from '../procedures/params.js';
import { planRun, type RunPlan } from '../procedures/plan.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import type { HttpStepRunner, ProcessStepRunner } from '../procedures/step-runner.js';
import type { Run, RunStepRecord } from './run.js';
import { runBinding, type ProgramFiles } from './run-binding.js';
import { voidedMessage } from './run-messages.js';
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
  findIncident: (id: string) => Promise<Incident | undefined>;
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
  onFinished?: (run: Run, steps: RunStepRecord[], causeSeq: number) => Promise<void>;
  /** A link to a run's full output (results carry only each step's tail). */
  outputLink?: (runId: string) => string;
}

/** Whole-run timeouts and cancels reach the executing steps through this. */
export interface Active {
  controller: AbortController;
  done: Promise<Run>;
}

/** Why a waiting run may no longer go ahead. */
export interface Void {
  reason: string;
  /** What the audit row records beside the reason: which check failed, and on what authority. */
  payload: Record<string, unknown>;
}

export type Requester = Pick<By, 'actor' | 'source'>;

export type RunContext = ReturnType<typeof createRunContext>;

export function createRunContext(deps: RunServiceDeps) {
  const { audit, runs, outbox, clock } = deps;
  /** The runs this process executes now. */
  const active = new Map<string, Active>();

  function procedureOf(name: string): Procedure {
    const procedure = deps.catalog().procedures.get(name);
    if (!procedure) throw new NotFoundError(`there is no procedure "${name}"; /runbook list shows what you may run`);
    return procedure;
  }

  async function load(id: string): Promise<Run> {
    const run = await runs.get(id);
    if (!run) throw new NotFoundError(`${id} does not exist; run ids look like R-12`);
    return run;
  }

  function channelKey(run: Pick<Run, 'incidentId' | 'channel'>): string | null {
    if (run.incidentId) return incidentChannelKey(run.incidentId);
    return run.channel;
  }

  async function post(run: Run, causeSeq: number, message: ChatMessage): Promise<void> {
    const channel = channelKey(run);
    if (channel) await outbox.enqueue({ causeSeq, target: 'slack', channel, body: message });
  }

  async function append(by: Requester | string, run: Run, kind: string, payload: Record<string, unknown>): Promise<number> {
    const actor = typeof by === 'string' ? by : by.actor.id;
    const source = typeof by === 'string' ? 'system' : by.source;
    return (
      await audit.append({
        actor,
        source,
        kind,
        incidentId: run.incidentId,
        payload: { run: run.id, procedure: run.procedure, environment: run.environment, ...payload },
      })
    ).seq;
  }

  /** Checks params and resolves every step for one run; throws with every problem found. */
  async function plan(
    procedure: Procedure,
    given: Record<string, string>,
    environment: string,
    incidentId: string | null,
    defaults?: Record<string, ParamValue>,
  ): Promise<RunPlan> {
    const incident = incidentId ? await deps.findIncident(incidentId) : undefined;
    return planRun(procedure, {
      given,
      env: environment,
      secretEnv: deps.secretEnv,
      ...(deps.credentials ? { alsoMask: deps.credentials } : {}),
      ...(defaults ? { defaults } : {}),
      ...(incident ? { incident: { id: incident.id, pagerdutyId: incident.pagerdutyId ?? undefined, service: incident.service ?? undefined } } : {}),
    });
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

  /** What an approver of `run` is checked against: the one place the approval target is built. */
  const approvalTarget = (run: Run) => ({
    procedure: run.procedure,
    environment: run.environment,
    ...(run.channel ? { channel: run.channel } : {}),
    approvalRoles: run.approval?.roles ?? [],
  });

  /**
   * The refusal for a concurrency key another run holds. A holder in a private incident stays
   * anonymous: its id, requester and state would tell the caller about an incident they may not see.
   */
  async function busy(key: string, holder: string): Promise<ConflictError> {
    const other = await runs.get(holder);
    const incident = other?.incidentId ? await deps.findIncident(other.incidentId) : undefined;
    if (incident?.private) return new ConflictError(`${key} is busy: another run holds it; try again when it has finished`);
    const who = other ? ` (started by <@${other.requestedBy}>, ${other.state})` : '';
    return new ConflictError(`${key} is busy: ${holder}${who} holds it; wait for it to finish or cancel it`);
  }

  /** Takes `run`'s concurrency key for it (keeping it if it already holds it), or refuses while another run holds it. */
  async function holdLease(run: Run, now: number): Promise<void> {
    const holder = await runs.leaseHolder(run.concurrencyKey);
    if (holder !== undefined && holder !== run.id) throw await busy(run.concurrencyKey, holder);
    if (holder === undefined) await runs.acquireLease(run.concurrencyKey, run.id, now);
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
        payload: {
          check: 'policy',
          groups: subject.groups,
          roles: check.decision.roles,
          rules: decisiveRules(check.decision),
          policy_hash: view.policyHash,
        },
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

  /** A transition out of pending_approval that ends the run without executing it. */
  async function endPending(
    run: Run,
    by: Requester | string,
    state: 'denied' | 'cancelled',
    kind: string,
    reason: string,
    extra: Record<string, unknown> = {},
    message?: ChatMessage,
  ): Promise<void> {
    run.state = state;
    run.error = reason;
    run.finishedAt = clock.now();
    await runs.save(run);
    const seq = await append(by, run, kind, { reason, finished_at: run.finishedAt, ...extra });
    await post(run, seq, message ?? { kind, text: `⛔ ${run.id} ${run.procedure} (${run.environment}) ${state}: ${reason}`, data: { runId: run.id } });
  }

  /** Ends a waiting run that may no longer go ahead, and tells its requester in the run's channel. */
  async function voidPending(run: Run, problem: Void): Promise<void> {
    await endPending(run, 'system', 'denied', 'run.approval_voided', problem.reason, problem.payload, voidedMessage(run, problem.reason));
  }

  /** Whether `approver` may approve `run` under `view`, with the groups given. */
  const mayApprove = (view: CatalogView, run: Run, approver: Subject) => canApprove(view.policy, approver, approvalTarget(run));

  return {
    deps,
    active,
    procedureOf,
    load,
    post,
    append,
    plan,
    bindingOf,
    requesterNow,
    mayApprove,
    busy,
    holdLease,
    voidReason,
    uncheckable,
    endPending,
    voidPending,
  };
}
