// A `run` step as a real child process: environment, process group kills, bounded output, start failures.
import { chmod, copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProcessStepRunner, killProcessGroup } from '../../../src/adapters/steps/process-step.js';
import { fixturesDir, isAlive, killQuietly, readPids, tempDir, waitForFiles } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function pidsDir(): Promise<string> {
  const t = await tempDir('edgeops-pids-');
  cleanups.push(t.remove);
  return t.dir;
}

const run = createProcessStepRunner({ commandsDir: fixturesDir, baseEnv: process.env, killGraceMs: 300 });

describe('process step: running', () => {
  it('runs argv without a shell and reports success, exit code, pid and duration', async () => {
    const groups: Array<{ pid: number; pgid: number }> = [];
    const r = await run({ argv: ['echo', 'hello', '$HOME', '*'], timeoutMs: 10_000, onSpawn: (g) => groups.push(g) });
    expect(r).toMatchObject({ outcome: 'succeeded', exitCode: 0, signal: null, output: 'hello $HOME *\n', truncatedBytes: 0 });
    expect(r.pid).toBeGreaterThan(1);
    expect(groups).toEqual([{ pid: r.pid, pgid: r.pid }]);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.error).toBeUndefined();
  });

  it('runs the step in its own process group, led by the step', async () => {
    const r = await run({ argv: ['sh', '-c', 'echo "$$ $(cut -d" " -f5 /proc/$$/stat)"'], timeoutMs: 10_000 });
    const [pid, pgid] = r.output.trim().split(' ').map(Number);
    expect(pgid).toBe(pid);
    expect(pgid).not.toBe(process.pid);
  });

  it('reports a non-zero exit as failed with its code', async () => {
    const r = await run({ argv: ['sh', '-c', 'echo broken >&2; exit 3'], timeoutMs: 10_000 });
    expect(r).toMatchObject({ outcome: 'failed', exitCode: 3, error: 'exited with code 3' });
    expect(r.chunks).toEqual([{ stream: 'stderr', text: 'broken\n' }]);
  });

  it('tags stdout and stderr and keeps each stream in order', async () => {
    const r = await run({ argv: ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2'], timeoutMs: 10_000 });
    const text = (stream: string) =>
      r.chunks
        .filter((c) => c.stream === stream)
        .map((c) => c.text)
        .join('');
    expect(text('stdout')).toBe('out1\nout2\n');
    expect(text('stderr')).toBe('err1\nerr2\n');
    expect(r.output.split('\n').sort()).toEqual(['', 'err1', 'err2', 'out1', 'out2']);
  });

  it('resolves a relative program against the commands folder, and runs there', async () => {
    const t = await tempDir();
    cleanups.push(t.remove);
    await copyFile(path.join(fixturesDir, 'record-argv.sh'), path.join(t.dir, 'record-argv.sh'));
    const inTemp = createProcessStepRunner({ commandsDir: t.dir, baseEnv: process.env });
    const r = await inTemp({ argv: ['./record-argv.sh', 'a b'], timeoutMs: 10_000 });
    expect(r.outcome).toBe('succeeded');
    expect(await readFile(path.join(t.dir, 'argv.bin'), 'utf8')).toBe('a b\0');
  });
});

describe('process step: environment', () => {
  it('gives the step only PATH, LANG and its own env', async () => {
    process.env.EDGEOPS_TEST_PARENT_ONLY = 'must-not-leak';
    cleanups.push(() => {
      delete process.env.EDGEOPS_TEST_PARENT_ONLY;
    });
    const r = await run({ argv: ['env'], env: { STEP_VAR: 'from the step' }, timeoutMs: 10_000 });
    const env = Object.fromEntries(
      r.output
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(env).sort()).toEqual(['LANG', 'PATH', 'STEP_VAR']);
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.STEP_VAR).toBe('from the step');
    expect(r.output).not.toContain('must-not-leak');
  });

  it('takes PATH and LANG from the injected base environment, not from the process', async () => {
    const custom = createProcessStepRunner({ commandsDir: fixturesDir, baseEnv: { PATH: '/usr/bin:/bin', LANG: 'C', HOME: '/root' } });
    const r = await custom({ argv: ['env'], timeoutMs: 10_000 });
    expect(r.output.trim().split('\n').sort()).toEqual(['LANG=C', 'PATH=/usr/bin:/bin']);
  });

  it('masks secrets in what the step prints', async () => {
    const secret = 'tok-7f3a9c2e';
    const r = await run({
      argv: ['sh', '-c', 'echo "token is $API_TOKEN"; echo "$API_TOKEN" >&2'],
      env: { API_TOKEN: secret },
      secrets: [secret],
      timeoutMs: 10_000,
    });
    expect(r.output).not.toContain(secret);
    expect(JSON.stringify(r.chunks)).not.toContain(secret);
    expect(r.output).toContain('token is [secret]');
  });
});

describe('process step: timeouts and cancel kill the whole group', () => {
  it('kills a step that ignores SIGTERM, with its child and grandchild, at its timeout', async () => {
    const dir = await pidsDir();
    const r = await run({ argv: ['./ignore-term.sh'], env: { PIDS_DIR: dir }, timeoutMs: 1500 });
    const pids = await readPids(dir, ['main', 'child', 'grandchild']);
    cleanups.push(() => killQuietly(pids));
    expect(r).toMatchObject({ outcome: 'timed_out', exitCode: null, signal: 'SIGKILL' });
    expect(r.error).toBe('timed out after 1500ms; the process group was terminated');
    expect(r.output).toContain('ignoring SIGTERM');
    expect(r.durationMs).toBeGreaterThanOrEqual(1500 + 300 - 50);
    // SIGKILL lands at once, but a loaded kernel may take a moment to finish a process off.
    await expect.poll(() => pids.filter(isAlive), { timeout: 2_000 }).toEqual([]);
  });

  it('kills the whole group when cancelled', async () => {
    const dir = await pidsDir();
    const controller = new AbortController();
    const result = run({ argv: ['./ignore-term.sh'], env: { PIDS_DIR: dir }, timeoutMs: 60_000, signal: controller.signal });
    await waitForFiles(dir, ['main', 'child', 'grandchild']);
    const pids = await readPids(dir, ['main', 'child', 'grandchild']);
    cleanups.push(() => killQuietly(pids));
    expect(pids.filter(isAlive)).toHaveLength(3);
    controller.abort();
    const r = await result;
    expect(r).toMatchObject({ outcome: 'cancelled', signal: 'SIGKILL', error: 'cancelled' });
    // SIGKILL lands at once, but a loaded kernel may take a moment to finish a process off.
    await expect.poll(() => pids.filter(isAlive), { timeout: 2_000 }).toEqual([]);
  });

  it('stops at SIGTERM when the step honours it, without waiting for the grace period', async () => {
    const slow = createProcessStepRunner({ commandsDir: fixturesDir, baseEnv: process.env, killGraceMs: 60_000 });
    const r = await slow({ argv: ['sleep', '1000'], timeoutMs: 200 });
    expect(r).toMatchObject({ outcome: 'timed_out', signal: 'SIGTERM' });
    expect(r.durationMs).toBeLessThan(10_000);
  });

  it('does not start a step whose signal is already aborted', async () => {
    const dir = await pidsDir();
    const r = await run({ argv: ['./ignore-term.sh'], env: { PIDS_DIR: dir }, timeoutMs: 10_000, signal: AbortSignal.abort() });
    expect(r).toMatchObject({ outcome: 'cancelled', pid: null, error: 'cancelled before it started' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('kills what the step left in its group when it exits, and does not wait on pipes they held', async () => {
    const dir = await pidsDir();
    const r = await run({ argv: ['./leave-behind.sh'], env: { PIDS_DIR: dir }, timeoutMs: 60_000 });
    const [leftover] = await readPids(dir, ['leftover']);
    cleanups.push(() => killQuietly([leftover!]));
    expect(r).toMatchObject({ outcome: 'succeeded', exitCode: 0, output: 'main done\n' });
    expect(isAlive(leftover!)).toBe(false);
  });

  it('returns after a short drain when a process outside the group keeps the pipes open', async () => {
    const dir = await pidsDir();
    const quick = createProcessStepRunner({ commandsDir: fixturesDir, baseEnv: process.env, drainTimeoutMs: 200 });
    const r = await quick({ argv: ['./escape-group.sh'], env: { PIDS_DIR: dir }, timeoutMs: 60_000 });
    const [escaped] = await readPids(dir, ['escaped']);
    cleanups.push(() => killQuietly([escaped!]));
    expect(r).toMatchObject({ outcome: 'succeeded', output: 'main done\n' });
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('stops the step when its process group cannot be recorded', async () => {
    const dir = await pidsDir();
    const r = await run({
      argv: ['./ignore-term.sh'],
      env: { PIDS_DIR: dir },
      timeoutMs: 60_000,
      onSpawn: () => {
        throw new Error('database is locked');
      },
    });
    expect(r).toMatchObject({ outcome: 'failed', error: 'stopped: the process group could not be recorded: database is locked' });
    expect(isAlive(r.pid!)).toBe(false);
  });
});

describe('process step: output cap', () => {
  it('keeps at most 1 MB of a 1 GB output, with the first and last lines, and memory stays bounded', async () => {
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 50);
    cleanups.push(() => clearInterval(sampler));
    const total = 1024 ** 3;
    const r = await run({ argv: ['./big-output.sh'], env: { BYTES: String(total) }, timeoutMs: 120_000 });
    clearInterval(sampler);
    const kept = Buffer.byteLength(r.chunks.map((c) => c.text).join(''));
    expect(r.outcome).toBe('succeeded');
    expect(kept).toBeLessThanOrEqual(1024 * 1024);
    expect(kept + r.truncatedBytes).toBe('first line\n'.length + total + '\nlast line\n'.length);
    expect(r.output.startsWith('first line\nxxx')).toBe(true);
    expect(r.output.endsWith('xxx\nlast line\n')).toBe(true);
    expect(r.output).toContain(`[… ${r.truncatedBytes} bytes of output dropped …]`);
    expect(rssPeak - rssBefore).toBeLessThan(100 * 1024 * 1024);
  }, 120_000);
});

describe('process step: start failures', () => {
  it('reports a missing program as a failed step', async () => {
    const r = await run({ argv: ['./no-such-script.sh'], timeoutMs: 10_000 });
    expect(r).toMatchObject({ outcome: 'failed', pid: null, exitCode: null });
    expect(r.error).toBe(`cannot start ./no-such-script.sh: no such program (ENOENT) in ${fixturesDir}`);
  });

  it('reports a program missing from PATH', async () => {
    const r = await run({ argv: ['edgeops-no-such-program'], timeoutMs: 10_000 });
    expect(r).toMatchObject({ outcome: 'failed', error: 'cannot start edgeops-no-such-program: no such program (ENOENT) in PATH' });
  });

  it('reports a program that is not executable', async () => {
    const t = await tempDir();
    cleanups.push(t.remove);
    await writeFile(path.join(t.dir, 'plain.sh'), '#!/bin/sh\necho hi\n');
    await chmod(path.join(t.dir, 'plain.sh'), 0o644);
    const inTemp = createProcessStepRunner({ commandsDir: t.dir, baseEnv: process.env });
    const r = await inTemp({ argv: ['./plain.sh'], timeoutMs: 10_000 });
    expect(r).toMatchObject({ outcome: 'failed', error: 'cannot start ./plain.sh: permission denied (EACCES); is it executable (chmod +x)?' });
  });

  it('reports a missing commands folder', async () => {
    const nowhere = createProcessStepRunner({ commandsDir: '/nonexistent/edgeops-commands', baseEnv: process.env });
    const r = await nowhere({ argv: ['echo'], timeoutMs: 10_000 });
    expect(r).toMatchObject({ outcome: 'failed', error: 'cannot start echo: the commands folder /nonexistent/edgeops-commands does not exist (ENOENT)' });
  });

  it('reports an argument Node refuses (NUL) as a failed step', async () => {
    const r = await run({ argv: ['echo', 'a\0b'], timeoutMs: 10_000 });
    expect(r.outcome).toBe('failed');
    expect(r.error).toMatch(/^cannot start echo: /);
  });
});

describe('killProcessGroup', () => {
  it('ignores a group that no longer exists', async () => {
    const r = await run({ argv: ['true'], timeoutMs: 10_000 });
    expect(killProcessGroup(r.pid!, 'SIGKILL')).toBe(false);
  });

  it.each([0, 1, -5, 1.5, Number.NaN])('refuses %s, which would signal far more than one step', (pgid) => {
    expect(() => killProcessGroup(pgid, 'SIGTERM')).toThrow(RangeError);
  });
});

describe('process step as another OS user (EDGEOPS_STEP_USER)', () => {
  const IS_ROOT = process.getuid?.() === 0;
  const NOBODY = { uid: 65534, gid: 65534 };
  const asNobody = createProcessStepRunner({ commandsDir: fixturesDir, baseEnv: process.env, killGraceMs: 300, user: NOBODY });

  it(
    IS_ROOT
      ? 'runs the step with that uid and gid and no other group, its output piped back'
      : 'fails to start the step when the bot may not switch users',
    async () => {
      const r = await asNobody({ argv: ['sh', '-c', 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"; echo on-stderr >&2'], timeoutMs: 10_000 });
      if (!IS_ROOT) {
        expect(r).toMatchObject({ outcome: 'failed', pid: null });
        expect(r.error).toContain('EPERM');
        return;
      }
      expect(r).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
      expect(r.chunks).toEqual([
        { stream: 'stdout', text: 'uid=65534 gid=65534 groups=65534\n' },
        { stream: 'stderr', text: 'on-stderr\n' },
      ]);
    },
  );

  it(
    IS_ROOT ? "kills the whole group of another user's step, child and grandchild, at its timeout" : 'reports the failed start instead of a timeout',
    async () => {
      const dir = await pidsDir();
      await chmod(dir, 0o777);
      const r = await asNobody({ argv: ['./ignore-term.sh'], env: { PIDS_DIR: dir }, timeoutMs: 1500 });
      if (!IS_ROOT) {
        expect(r.outcome).toBe('failed');
        return;
      }
      const pids = await readPids(dir, ['main', 'child', 'grandchild']);
      cleanups.push(() => killQuietly(pids));
      expect(r).toMatchObject({ outcome: 'timed_out', exitCode: null, signal: 'SIGKILL' });
      expect(r.output).toContain('ignoring SIGTERM');
      // SIGKILL lands at once, but a loaded kernel may take a moment to finish a process off.
      await expect.poll(() => pids.filter(isAlive), { timeout: 2_000 }).toEqual([]);
    },
  );
});
