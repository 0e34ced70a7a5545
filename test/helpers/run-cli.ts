// Runs the built CLI (dist/src/cli.js) as a child process, the way a user or a CI job would.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_PATH = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli.js');

/** The built CLI's path; throws with the fix when `dist/` has not been built. */
export function builtCli(): string {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first (\`npm test\` builds before it tests)`);
  }
  return CLI_PATH;
}

export interface CliOptions {
  /** Added to a clean environment (the caller's, minus every edgeops, Slack and PagerDuty setting). */
  env?: Record<string, string>;
  /** Working folder; the package root by default, as for `npx edgeops` in a checkout. */
  cwd?: string;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const CONFIG_VARS = /^(EDGEOPS_|SLACK_|PAGERDUTY_)|^(PORT|HOST|LOG_LEVEL)$/;

export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!CONFIG_VARS.test(name)) env[name] = value;
  return { ...env, ...extra };
}

/** Starts `edgeops ARGS…` with piped stdio; the caller reads and writes the streams. */
export function spawnCli(args: string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [builtCli(), ...args], {
    cwd: options.cwd ?? PACKAGE_ROOT,
    env: cliEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `edgeops ARGS…` to its end, feeding `input` on stdin, and collects its output. */
export function runCli(args: string[], options: CliOptions & { input?: string } = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // A child that exits without reading its input closes the pipe; that is its answer, not an error.
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
