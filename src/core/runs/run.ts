// A procedure run: its states (docs/procedures.md), its record, and the hash that binds approvals to exactly what runs.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/audit-chain.js';
import type { ApprovalRequirement } from '../policy/policy.js';
import type { ParamValue } from '../procedures/params.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import type { Source } from '../ports.js';

export const RUN_STATES = ['pending_approval', 'queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'denied', 'interrupted'] as const;
export type RunState = (typeof RUN_STATES)[number];

const FINAL: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'denied', 'interrupted']);
export const isFinal = (state: RunState): boolean => FINAL.has(state);

export interface Run {
  id: string;
  number: number;
  procedure: string;
  environment: string;
  incidentId: string | null;
  /** Where results are posted when the run is not about an incident (a channel ID), if anywhere. */
  channel: string | null;
  requestedBy: string;
  requestedGroups: string[];
  source: Source;
  /** Checked values of the non-secret params; secret values are never stored. */
  params: Record<string, ParamValue>;
  /** Hash of procedure definition + params + environment + the program files it executes: approvals are valid for this only. */
  binding: string;
  state: RunState;
  approval: ApprovalRequirement | null;
  approvalExpiresAt: number | null;
  concurrencyKey: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The process group of the step running now, so a restart can kill it if this process died. */
  pgid: number | null;
  /** The edgeops process executing the run. */
  ownerPid: number | null;
  error: string | null;
}

export interface RunStepRecord {
  runId: string;
  index: number;
  name: string;
  kind: 'run' | 'http';
  outcome: string;
  exitCode: number | null;
  httpStatus: number | null;
  startedAt: number;
  finishedAt: number;
  /** Captured output (≤ 1 MB), secrets masked. */
  output: string;
  truncatedBytes: number;
  error: string | null;
}

export interface ApprovalRecord {
  runId: string;
  approver: string;
  decision: 'approve' | 'deny';
  at: number;
  binding: string;
  reason: string | null;
}

export const runId = (n: number): string => `R-${n}`;

export function parseRunId(text: string): string {
  const m = /^(?:R-)?(\d{1,9})$/i.exec(text.trim());
  if (!m) return text.trim();
  return runId(Number(m[1]));
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A program file a run executes from the commands folder: its path there and the sha256 of its bytes (null: no such file). */
export interface BoundFile {
  path: string;
  sha256: string | null;
}

/**
 * Any change to the procedure, the parameters, the environment or the bytes of a program file its
 * steps execute gives another binding. The parsed procedure (not its YAML text) is what runs, so a
 * reworded comment keeps the binding; program files are read from disk when they run, so their bytes count.
 */
export function bindingHash(procedure: Procedure, environment: string, params: Record<string, ParamValue>, files: readonly BoundFile[]): string {
  return sha256(canonicalJson({ procedure, environment, params, files }));
}

/** The first characters of a binding, enough to compare by eye in a message. */
export const shortBinding = (binding: string): string => binding.slice(0, 12);
