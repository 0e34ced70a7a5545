// The step-runner ports: what the run engine asks of a process step and an HTTP step, and what it gets back.

/** Node timers overflow past this (about 24.8 days); longer step timeouts are held to it. */
export const MAX_TIMER_MS = 2_147_483_647;

export type StepOutcome = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

export type OutputStream = 'stdout' | 'stderr';

/** A run of output from one stream, in the order it arrived. */
export interface OutputChunk {
  stream: OutputStream;
  text: string;
}

export interface ProcessGroup {
  pid: number;
  /** The process group the step and its descendants run in; record it to kill orphans after a crash. */
  pgid: number;
}

export interface ProcessStepRequest {
  /** The program (resolved against the commands folder when relative) and its arguments. */
  argv: string[];
  /** The step's own `env:`, added to PATH and LANG. */
  env?: Record<string, string>;
  timeoutMs: number;
  /** Aborting cancels the step: its whole process group is terminated. */
  signal?: AbortSignal;
  /** Values masked as `[secret]` in the returned output. */
  secrets?: readonly string[];
  /** Called once the process exists, before any output is read; throwing stops the step. */
  onSpawn?: (group: ProcessGroup) => void;
}

export interface ProcessStepResult {
  outcome: StepOutcome;
  /** The exit code, or null when the process ended by a signal or never started. */
  exitCode: number | null;
  /** The signal that ended the process (`SIGTERM`, `SIGKILL`), or null. */
  signal: string | null;
  /** stdout and stderr interleaved in arrival order, secrets masked; where bytes were dropped a marker line says how many. */
  output: string;
  /** The kept output by stream (no marker), secrets masked. */
  chunks: OutputChunk[];
  /** Bytes of output dropped to keep the step within its output cap. */
  truncatedBytes: number;
  durationMs: number;
  /** null when the program could not be started. */
  pid: number | null;
  /** Why the step failed to start or ended as it did, in words. */
  error?: string;
}

export type ProcessStepRunner = (request: ProcessStepRequest) => Promise<ProcessStepResult>;

export interface HttpStepRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Statuses that count as success. */
  expectStatus: number[];
  timeoutMs: number;
  signal?: AbortSignal;
  secrets?: readonly string[];
}

export interface HttpStepResult {
  outcome: StepOutcome;
  /** The response status, or null when no response arrived. */
  status: number | null;
  /** The start of the response body as text, secrets masked. */
  bodyExcerpt: string;
  bodyTruncated: boolean;
  durationMs: number;
  error?: string;
}

export type HttpStepRunner = (request: HttpStepRequest) => Promise<HttpStepResult>;
