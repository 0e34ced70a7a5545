// The OS user steps run as (EDGEOPS_STEP_USER): looked up, then proven usable at start by a real probe process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { StepUserSpec } from '../../config.js';
import { ConfigError } from '../../errors.js';

export interface StepUser {
  uid: number;
  gid: number;
  /** How the user was named, for messages: `edgeops-step (uid 999, gid 999)`. */
  label: string;
}

const HINT =
  'the bot needs CAP_SETUID and CAP_SETGID to start steps as another user and CAP_KILL to stop them (run it as root with only those capabilities, see the README), or unset EDGEOPS_STEP_USER';

/** Turns the configured name or ids into ids; a name is looked up with `id`, so NSS users work too. */
export function resolveStepUser(spec: StepUserSpec, env: Record<string, string | undefined> = {}): StepUser {
  if ('uid' in spec) return { ...spec, label: `${spec.uid}:${spec.gid}` };
  const lookup = (flag: '-u' | '-g'): number => {
    const r = spawnSync('id', [flag, spec.name], { encoding: 'utf8', env: { PATH: env.PATH || '/usr/bin:/bin' } });
    // stdout is null when `id` could not start at all, whatever its declared type says.
    const out = ((r.stdout as string | null) ?? '').trim();
    if (r.error || r.status !== 0 || !/^\d+$/.test(out)) {
      const why = r.error ? r.error.message : r.stderr.trim() || `id exited with ${r.status}`;
      throw new ConfigError([
        `EDGEOPS_STEP_USER: cannot find the user "${spec.name}" (${why}); create it (useradd --system ${spec.name}) or give uid:gid`,
      ]);
    }
    return Number(out);
  };
  const uid = lookup('-u');
  const gid = lookup('-g');
  if (uid === 0 || gid === 0) {
    throw new ConfigError([
      `EDGEOPS_STEP_USER: "${spec.name}" is root (uid ${uid}, gid ${gid}); steps would keep every power of the bot; name an unprivileged user`,
    ]);
  }
  return { uid, gid, label: `${spec.name} (uid ${uid}, gid ${gid})` };
}

export interface ProbeOptions {
  /** Steps run here: the step user must be able to enter and read it. */
  commandsDir: string;
  /** Files the step user must not read (the database, the audit key file); any it can read is a warning. */
  protectedPaths?: readonly string[];
  /** The Node binary the probe runs on (this process's). */
  execPath?: string;
  timeoutMs?: number;
  /** The bot's own uid (tests); process.getuid() otherwise. */
  botUid?: number;
}

export interface ProbeReport {
  /** Protected paths the step user can read after all. */
  readable: string[];
}

interface ProbeAnswer {
  uid: number;
  gid: number;
  groups: number[];
  cwd: boolean;
  readable: string[];
}

/**
 * Runs as the step user: says who it is and what it can read, then waits to be killed as a step's
 * group would be (or for its stdin to close, so it never outlives a bot that could not kill it).
 * The commands folder is checked by its full path: relative programs are started by that path, so
 * every folder above it must let the user through.
 */
const PROBE = `
const fs = require('node:fs');
const can = (p, mode) => { try { fs.accessSync(p, mode); return true; } catch { return false; } };
const paths = JSON.parse(process.argv[1]);
const commandsDir = process.argv[2];
process.stdout.write(JSON.stringify({
  uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
  cwd: can(commandsDir, fs.constants.R_OK | fs.constants.X_OK),
  readable: paths.filter((p) => can(p, fs.constants.R_OK)),
}) + '\\n');
process.stdin.on('end', () => process.exit(0)).resume();
`;

/**
 * Starts a process as the step user exactly as steps are started (own process group, in the
 * commands folder), checks who it runs as and what it can read, then kills its group. Throws
 * ConfigError naming the problem when the bot cannot switch to the user, cannot signal its
 * processes, or the user cannot use the commands folder.
 */
export async function probeStepUser(user: StepUser, options: ProbeOptions): Promise<ProbeReport> {
  const botUid = options.botUid ?? process.getuid?.();
  if (botUid === user.uid) {
    throw new ConfigError([`EDGEOPS_STEP_USER: ${user.label} is the bot's own user; steps could read its environment and database; name another user`]);
  }
  const refuse = (problem: string): never => {
    throw new ConfigError([`EDGEOPS_STEP_USER: ${problem}`]);
  };
  let child: ChildProcess;
  try {
    child = spawn(options.execPath ?? process.execPath, ['-e', PROBE, JSON.stringify(options.protectedPaths ?? []), options.commandsDir], {
      cwd: options.commandsDir,
      detached: true,
      uid: user.uid,
      gid: user.gid,
      env: {},
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    // Some failures to switch users are thrown at once, others arrive as an 'error' event.
    return refuse(startProblem(user, options.commandsDir, err as NodeJS.ErrnoException));
  }

  // Whatever happens, the probe does not keep this process alive: closing its stdin ends it.
  const release = (): void => {
    child.stdin?.end();
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
  };
  let answer: ProbeAnswer;
  try {
    answer = await firstLine(child, options.timeoutMs ?? 15_000);
  } catch (err) {
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    release();
    return refuse(startProblem(user, options.commandsDir, err as NodeJS.ErrnoException));
  }

  const pid = child.pid!;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  // Timeouts and cancels signal the step's whole group: that must work for another user's processes.
  const killed = signalGroup(pid, 'SIGKILL');
  if (killed !== true) {
    release();
    return refuse(`cannot stop a step running as ${user.label}: signalling its process group failed (${killed}); ${HINT}`);
  }
  await exited;
  release();

  if (answer.uid !== user.uid || answer.gid !== user.gid) {
    refuse(`a step started as ${user.label} ran as uid ${answer.uid}, gid ${answer.gid}; ${HINT}`);
  }
  if (answer.groups.includes(0)) refuse(`a step started as ${user.label} kept the root group; name an unprivileged user`);
  if (!answer.cwd) {
    refuse(
      `${user.label} cannot read the commands folder ${options.commandsDir}, where steps run; make it readable (chmod o+rx, or group-readable for gid ${user.gid})`,
    );
  }
  return { readable: answer.readable };
}

function startProblem(user: StepUser, commandsDir: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'EPERM') return `cannot start a step as ${user.label}: operation not permitted (EPERM); ${HINT}`;
  if (err.code === 'ENOENT') return `cannot start a step in ${commandsDir}: the folder does not exist`;
  return `cannot start a step as ${user.label}: ${err.message}`;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): true | string {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

function firstLine(child: ChildProcess, timeoutMs: number): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const done = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    child.once('error', (e) => done(() => reject(e)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      done(() => {
        try {
          resolve(JSON.parse(out.slice(0, nl)) as ProbeAnswer);
        } catch {
          reject(new Error(`unexpected answer ${JSON.stringify(out.slice(0, 200))}`));
        }
      });
    });
    child.once('exit', (code, signal) =>
      done(() => reject(new Error(`the probe ended (${signal ?? `exit ${code}`}) before answering${err ? `: ${err.trim().slice(0, 300)}` : ''}`))),
    );
  });
}
