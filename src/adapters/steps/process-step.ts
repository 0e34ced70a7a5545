// Runs one `run` step: argv without a shell, in its own process group, with a timeout, cancel and bounded output.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatDuration } from '../../core/duration.js';
import { OutputCapture } from '../../core/procedures/output-capture.js';
import {
  MAX_TIMER_MS,
  type OutputStream,
  type ProcessStepRequest,
  type ProcessStepResult,
  type ProcessStepRunner,
  type StepOutcome,
} from '../../core/procedures/step-runner.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_LANG = 'C.UTF-8';

export interface ProcessStepRunnerOptions {
  /** Steps run here, and relative programs (`./scripts/x.sh`) resolve against it. */
  commandsDir: string;
  /** Only PATH and LANG are taken from it; nothing else of the bot's environment reaches a step. */
  baseEnv: Record<string, string | undefined>;
  /** After SIGTERM at a timeout or cancel, how long the group has before SIGKILL. */
  killGraceMs?: number;
  /** After the step's process has exited and its group is killed, how long to wait for the output pipes to close. */
  drainTimeoutMs?: number;
  maxOutputBytes?: number;
  headBytes?: number;
  /** Monotonic milliseconds, for durations. */
  now?: () => number;
  /**
   * The OS user every step runs as (EDGEOPS_STEP_USER), so a step cannot read the bot's
   * environment or its database; unset, steps run as the bot's own user. Checked at start by
   * `probeStepUser`.
   */
  user?: { uid: number; gid: number };
}

/**
 * Signals a whole process group; false when it no longer exists (ESRCH) or belongs to someone
 * else (EPERM, after the id was reused). Used for timeouts and to kill orphans left by a crash.
 */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  // -1 would signal every process we may signal and 0 our own group: never a step's group.
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`not a step's process group id: ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || code === 'EPERM') return false;
    throw err;
  }
}

export function createProcessStepRunner(options: ProcessStepRunnerOptions): ProcessStepRunner {
  const killGraceMs = options.killGraceMs ?? 5000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 2000;
  const now = options.now ?? (() => performance.now());
  const baseEnv = {
    PATH: options.baseEnv.PATH || DEFAULT_PATH,
    LANG: options.baseEnv.LANG || DEFAULT_LANG,
  };

  return function runProcessStep(request: ProcessStepRequest): Promise<ProcessStepResult> {
    const started = now();
    const capture = new OutputCapture({ maxBytes: options.maxOutputBytes, headBytes: options.headBytes });
    const secrets = request.secrets ?? [];
    const program = request.argv[0] ?? '';

    const finished = (fields: {
      outcome: StepOutcome;
      exitCode?: number | null;
      signal?: string | null;
      pid?: number | null;
      error?: string;
    }): ProcessStepResult => ({
      outcome: fields.outcome,
      exitCode: fields.exitCode ?? null,
      signal: fields.signal ?? null,
      ...capture.result(secrets),
      durationMs: Math.round(now() - started),
      pid: fields.pid ?? null,
      ...(fields.error !== undefined ? { error: fields.error } : {}),
    });

    if (request.signal?.aborted) {
      return Promise.resolve(finished({ outcome: 'cancelled', error: 'cancelled before it started' }));
    }
    if (program === '') return Promise.resolve(finished({ outcome: 'failed', error: 'the step has no program to run' }));

    // A program with a slash is a path: relative ones belong to the commands folder. A bare name is looked up in PATH.
    const file = program.includes('/') ? path.resolve(options.commandsDir, program) : program;

    let child: ChildProcess;
    try {
      child = spawn(file, request.argv.slice(1), {
        shell: false,
        detached: true, // setsid(): the step leads its own process group, so the group can be killed as one
        cwd: options.commandsDir,
        env: { ...baseEnv, ...request.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Node drops supplementary groups (setgroups) before setgid/setuid, so none of the bot's groups remain.
        ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      });
    } catch (err) {
      // Arguments Node refuses outright (a NUL byte, for one) throw here rather than emitting 'error'.
      return Promise.resolve(finished({ outcome: 'failed', error: `cannot start ${program}: ${(err as Error).message}` }));
    }

    return new Promise<ProcessStepResult>((resolve) => {
      const pid = child.pid;
      let done = false;
      let exited = false;
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      let stoppedFor: 'timed_out' | 'cancelled' | undefined;
      let stopError: string | undefined;
      let refused: string | undefined;
      const timers: NodeJS.Timeout[] = [];

      const killGroup = (signal: NodeJS.Signals): void => {
        if (pid !== undefined) killProcessGroup(pid, signal);
      };

      const stop = (reason: 'timed_out' | 'cancelled', message: string): void => {
        if (stoppedFor || exited || done) return;
        stoppedFor = reason;
        stopError = message;
        killGroup('SIGTERM');
        timers.push(setTimeout(() => killGroup('SIGKILL'), killGraceMs));
      };

      const onAbort = (): void => stop('cancelled', 'cancelled');

      const finish = (fields: Parameters<typeof finished>[0]): void => {
        if (done) return;
        done = true;
        for (const t of timers) clearTimeout(t);
        request.signal?.removeEventListener('abort', onAbort);
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve(finished(fields));
      };

      const read = (stream: OutputStream) => (data: Buffer) => capture.push(stream, data);
      child.stdout!.on('data', read('stdout'));
      child.stderr!.on('data', read('stderr'));

      child.on('error', (err: NodeJS.ErrnoException) => {
        // Only a failed start comes here: signals go through killProcessGroup, never child.kill.
        if (pid === undefined) finish({ outcome: 'failed', error: spawnErrorMessage(program, options.commandsDir, err) });
      });

      child.on('exit', (code, signal) => {
        exited = true;
        exitCode = code;
        exitSignal = signal;
        // Whatever the step left behind in its group goes with it; SIGKILL since nothing waits for it any more.
        killGroup('SIGKILL');
        // A descendant that left the group may still hold the pipes open: do not wait on it forever.
        timers.push(setTimeout(() => settle(), drainTimeoutMs));
      });

      child.on('close', () => settle());

      const settle = (): void => {
        if (!exited) return;
        if (refused !== undefined) {
          finish({ outcome: 'failed', exitCode, signal: exitSignal, pid: pid ?? null, error: refused });
          return;
        }
        const outcome: StepOutcome = stoppedFor ?? (exitCode === 0 ? 'succeeded' : 'failed');
        const error =
          stopError !== undefined
            ? stoppedFor === 'timed_out'
              ? `${stopError}; the process group was terminated`
              : stopError
            : exitCode !== 0
              ? exitCode === null
                ? `ended by ${exitSignal}`
                : `exited with code ${exitCode}`
              : undefined;
        finish({ outcome, exitCode, signal: exitSignal, pid: pid ?? null, ...(error !== undefined ? { error } : {}) });
      };

      if (pid === undefined) return; // spawn failed; 'error' follows

      try {
        request.onSpawn?.({ pid, pgid: pid });
      } catch (err) {
        // Nothing may run that the caller could not find again after a crash.
        refused = `stopped: the process group could not be recorded: ${(err as Error).message}`;
        killGroup('SIGKILL');
        return;
      }

      timers.push(setTimeout(() => stop('timed_out', `timed out after ${formatDuration(request.timeoutMs)}`), Math.min(request.timeoutMs, MAX_TIMER_MS)));
      request.signal?.addEventListener('abort', onAbort, { once: true });
    });
  };
}

function spawnErrorMessage(program: string, cwd: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return existsSync(cwd)
        ? `cannot start ${program}: no such program (ENOENT)${program.includes('/') ? ` in ${cwd}` : ' in PATH'}`
        : `cannot start ${program}: the commands folder ${cwd} does not exist (ENOENT)`;
    case 'EACCES':
      return `cannot start ${program}: permission denied (EACCES); is it executable (chmod +x)?`;
    default:
      return `cannot start ${program}: ${err.message}`;
  }
}
