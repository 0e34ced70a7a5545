// EDGEOPS_STEP_USER: steps run as another OS user, cannot read the bot's environment or database; start refuses a user it cannot use.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtCli, cliEnv, runCli, type CliResult } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

afterEach(() => removeTempDirs());

const OPERATOR = 'U0OPERATOR1';
/** Switching users needs root (or CAP_SETUID/CAP_SETGID); CI runs the tests as root. */
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = { uid: 65534, gid: 65534 };
const AUDIT_KEY = 'k'.repeat(20) + '0123456789abcdef0123';

const POLICY = `version: 1
roles:
  operator: { users: [${OPERATOR}] }
rules:
  - roles: [operator]
    allow: ["*"]
`;

/** A procedure that says who it runs as, then tries to read the bot's environment and database. */
const PROBE = `name: who-am-i
description: Prints its uid and gid, then tries the bot's environment and database
owner: "@test"
environments: [staging]
steps:
  - name: probe
    run: ["/bin/sh", "-c", "echo uid=$(id -u) gid=$(id -g); head -c 40 /proc/$PPID/environ || echo environ-refused; head -c 16 ../data/edgeops.db || echo db-refused"]
`;

/**
 * A catalog and data folder as an operator sets them up: the folder and the commands readable by
 * everyone (steps run there), the data folder the bot's alone (0700).
 */
function workspace(): { dir: string; env: Record<string, string> } {
  const dir = makeTempDir('step-user');
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'policies'));
  mkdirSync(path.join(dir, 'commands'));
  mkdirSync(path.join(dir, 'data'), { mode: 0o700 });
  writeFileSync(path.join(dir, 'policies', 'base.yaml'), POLICY);
  writeFileSync(path.join(dir, 'commands', 'who-am-i.yaml'), PROBE);
  return {
    dir,
    env: {
      EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
      EDGEOPS_POLICIES: path.join(dir, 'policies'),
      EDGEOPS_COMMANDS: path.join(dir, 'commands'),
      EDGEOPS_AUDIT_KEY: AUDIT_KEY,
    },
  };
}

/** `edgeops run who-am-i` with the given step user. */
const runProbe = (w: { dir: string; env: Record<string, string> }, stepUser: string): Promise<CliResult> =>
  runCli(['run', 'who-am-i', '--env', 'staging', '--as', OPERATOR], { cwd: w.dir, env: { ...w.env, EDGEOPS_STEP_USER: stepUser } });

/** A user name that exists here: nobody, or one made for the test. */
function existingUserName(): string {
  if (spawnSync('id', ['-u', 'nobody']).status === 0) return 'nobody';
  const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'edgeops-step-test']);
  if (made.status !== 0 && spawnSync('id', ['-u', 'edgeops-step-test']).status !== 0) {
    throw new Error(`no user to run steps as: useradd failed: ${made.stderr.toString()}`);
  }
  return 'edgeops-step-test';
}

describe('EDGEOPS_STEP_USER set to a usable user', () => {
  it(
    IS_ROOT
      ? 'runs the step as that uid:gid, which cannot read /proc/<bot>/environ nor the database'
      : 'is refused at start by a bot that cannot switch users',
    async () => {
      const w = workspace();
      const r = await runProbe(w, `${NOBODY.uid}:${NOBODY.gid}`);
      if (!IS_ROOT) {
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('EDGEOPS_STEP_USER: cannot start a step as 65534:65534: operation not permitted (EPERM)');
        return;
      }
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`uid=${NOBODY.uid} gid=${NOBODY.gid}\n`);
      expect(r.stdout).toMatch(/head: cannot open '\/proc\/\d+\/environ' for reading: Permission denied/);
      expect(r.stdout).toContain('environ-refused');
      expect(r.stdout).toContain("head: cannot open '../data/edgeops.db' for reading: Permission denied");
      expect(r.stdout).toContain('db-refused');
      expect(r.stdout).not.toContain(AUDIT_KEY);
      expect(r.stdout).not.toContain('EDGEOPS_');
      // The database is there, and readable by the bot: the step was refused, not missing it.
      expect(existsSync(w.env.EDGEOPS_DB!)).toBe(true);
    },
  );

  it(IS_ROOT ? 'looks a user name up and runs the step as it' : 'refuses a user name when the bot cannot switch users', async () => {
    const name = existingUserName();
    const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
    const r = await runProbe(workspace(), name);
    if (!IS_ROOT) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('operation not permitted (EPERM)');
      return;
    }
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`uid=${uid} `);
    expect(r.stdout).toContain('environ-refused');
  });
});

describe('edgeops start with an unusable EDGEOPS_STEP_USER', () => {
  const refusedWith = (r: CliResult, message: string): void => {
    expect(r.stderr).toContain(message);
    expect(r.code).toBe(1);
    // Nothing ran: no run was started.
    expect(r.stdout).not.toContain('R-1');
  };

  it('refuses a user that does not exist, naming it', async () => {
    const r = await runProbe(workspace(), 'no-such-edgeops-user');
    refusedWith(r, 'EDGEOPS_STEP_USER: cannot find the user "no-such-edgeops-user"');
  });

  it('refuses root, and a value that is neither a name nor uid:gid', async () => {
    refusedWith(await runProbe(workspace(), '0:0'), 'EDGEOPS_STEP_USER: must not be root');
    refusedWith(await runProbe(workspace(), 'ops user'), 'EDGEOPS_STEP_USER: must be a user name (e.g. edgeops-step) or uid:gid');
  });

  it('refuses when the bot cannot switch to the user (no CAP_SETUID), saying what it needs', async () => {
    const w = workspace();
    // The bot itself runs unprivileged: as nobody when these tests run as root.
    if (IS_ROOT) chownSync(path.join(w.dir, 'data'), NOBODY.uid, NOBODY.gid);
    const child = spawn(process.execPath, [builtCli(), 'run', 'who-am-i', '--env', 'staging', '--as', OPERATOR], {
      cwd: w.dir,
      env: cliEnv({ ...w.env, EDGEOPS_STEP_USER: '65533:65533' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(IS_ROOT ? NOBODY : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    refusedWith(
      { code, signal: null, stdout, stderr },
      'EDGEOPS_STEP_USER: cannot start a step as 65533:65533: operation not permitted (EPERM); the bot needs CAP_SETUID and CAP_SETGID',
    );
  });

  it(
    IS_ROOT ? 'refuses when the bot could start steps as the user but not stop them (no CAP_KILL)' : 'refuses a bot without the capabilities to switch',
    async () => {
      const w = workspace();
      // Root without CAP_KILL: it may switch users, but not signal another user's process group.
      const argv = IS_ROOT ? ['setpriv', '--bounding-set=-kill', process.execPath] : [process.execPath];
      const child = spawn(argv[0]!, [...argv.slice(1), builtCli(), 'run', 'who-am-i', '--env', 'staging', '--as', OPERATOR], {
        cwd: w.dir,
        env: cliEnv({ ...w.env, EDGEOPS_STEP_USER: `${NOBODY.uid}:${NOBODY.gid}` }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      refusedWith(
        { code, signal: null, stdout, stderr },
        IS_ROOT
          ? 'EDGEOPS_STEP_USER: cannot stop a step running as 65534:65534: signalling its process group failed (EPERM); the bot needs CAP_SETUID and CAP_SETGID to start steps as another user and CAP_KILL to stop them'
          : 'operation not permitted (EPERM)',
      );
    },
  );

  it(
    IS_ROOT ? 'refuses when the step user cannot enter the commands folder' : 'refuses a commands folder check it cannot make without switching',
    async () => {
      const w = workspace();
      const hidden = path.join(w.dir, 'private');
      mkdirSync(hidden, { mode: 0o700 });
      cpSync(path.join(w.dir, 'commands'), path.join(hidden, 'commands'), { recursive: true });
      const r = await runCli(['run', 'who-am-i', '--env', 'staging', '--as', OPERATOR], {
        cwd: w.dir,
        env: { ...w.env, EDGEOPS_COMMANDS: path.join(hidden, 'commands'), EDGEOPS_STEP_USER: `${NOBODY.uid}:${NOBODY.gid}` },
      });
      refusedWith(
        r,
        IS_ROOT
          ? `EDGEOPS_STEP_USER: 65534:65534 cannot read the commands folder ${path.join(hidden, 'commands')}, where steps run`
          : 'operation not permitted (EPERM)',
      );
    },
  );
});
