// How a finished step is summed up on every surface: `space: succeeded (exit 0, 2s)`, `probe: failed (HTTP 503, 1s)`.
import { formatDuration } from '../duration.js';
import type { RunStepRecord } from './run.js';

/** What a summary needs of a step; a transcript step carries its duration, a stored step its times. */
export type StepFacts = Pick<RunStepRecord, 'name' | 'outcome' | 'exitCode'> & {
  kind?: RunStepRecord['kind'];
  httpStatus?: number | null;
  error?: string | null;
} & ({ durationMs: number | null } | Pick<RunStepRecord, 'startedAt' | 'finishedAt'>);

const dash = '—';

/** An HTTP step answers with a status, a program with an exit code: `HTTP 200`, `exit 0`, `exit —`. */
export const stepStatus = (step: StepFacts): string => (step.kind === 'http' ? `HTTP ${step.httpStatus ?? dash}` : `exit ${step.exitCode ?? dash}`);

export const stepDurationMs = (step: StepFacts): number | null => ('durationMs' in step ? step.durationMs : step.finishedAt - step.startedAt);

/** How long the step took, as people read it, or a dash when unknown. */
export function stepDuration(step: StepFacts): string {
  const ms = stepDurationMs(step);
  return ms === null ? dash : formatDuration(ms, 'elapsed');
}

export interface StepSummaryOptions {
  /** Show how long it took (default true). */
  duration?: boolean;
  /** Append the step's error (default true). */
  error?: boolean;
  /** `timed out` rather than `timed_out`, for readers outside edgeops. */
  spacedOutcome?: boolean;
}

/** `name: outcome (status, duration) — error`: the one step line of chat, console, CLI and PagerDuty notes. */
export function stepSummary(step: StepFacts, options: StepSummaryOptions = {}): string {
  const outcome = options.spacedOutcome ? step.outcome.replace('_', ' ') : step.outcome;
  const took = options.duration === false ? '' : `, ${stepDuration(step)}`;
  const error = options.error !== false && step.error ? ` — ${step.error}` : '';
  return `${step.name}: ${outcome} (${stepStatus(step)}${took})${error}`;
}
