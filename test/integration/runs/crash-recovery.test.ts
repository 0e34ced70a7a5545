// kill -9 of the bot mid-run, and approvals racing from two processes: what a restart and SQLite guarantee.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { writeRunCatalog } from './run-fixture.js';

afterEach(() => removeTempDirs());

/** Alive and not a zombie (a killed process may linger unreaped where PID 1 does not reap). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function setup() {
  const dir = makeTempDir('crash-run');
  const { policiesDir, commandsDir } = writeRunCatalog(dir);
  const dbPath = path.join(dir, 'data', 'edgeops.db');
  const env = { EDGEOPS_DB: dbPath, EDGEOPS_POLICIES: policiesDir, EDGEOPS_COMMANDS: commandsDir };
  const query = <T>(sql: string): T[] => {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  };
  return { dir, commandsDir, env, query };
}

describe('a bot killed mid-run', () => {
  it('marks the run interrupted at the next start, frees its lease, kills its orphans, and says so', async () => {
    const { commandsDir, env, query } = setup();
    const child = spawnCli(['run', 'orphan-maker', '--as', 'U0SRE0001'], { env });
    child.stdout!.resume();
    child.stderr!.resume();
    const grandchildFile = path.join(commandsDir, 'out', 'grandchild');
    await expect.poll(() => existsSync(grandchildFile) && readFileSync(grandchildFile, 'utf8').trim() !== '', { timeout: 10_000 }).toBe(true);
    await expect
      .poll(() => (existsSync(env.EDGEOPS_DB) ? query<{ pgid: number | null }>("SELECT pgid FROM runs WHERE id = 'R-1'")[0]?.pgid : null), {
        timeout: 10_000,
      })
      .not.toBeNull();
    const grandchild = Number(readFileSync(grandchildFile, 'utf8'));
    const stepPid = Number(readFileSync(path.join(commandsDir, 'out', 'child'), 'utf8'));

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    expect(alive(grandchild)).toBe(true);
    expect(query<{ state: string }>("SELECT state FROM runs WHERE id = 'R-1'")[0]!.state).toBe('running');

    const restart = await runCli(['console', '--as', 'U0SRE0001'], { env, input: '/runbook status R-1\n' });
    expect(restart.code).toBe(0);
    expect(restart.stdout).toContain('⚠ R-1 orphan-maker (staging) was interrupted when edgeops last stopped');
    expect(restart.stdout).toContain('R-1 orphan-maker (staging): interrupted — edgeops stopped while this run was in progress');
    await expect.poll(() => alive(grandchild) || alive(stepPid), { timeout: 5000 }).toBe(false);
    expect(query('SELECT * FROM leases')).toEqual([]);
    expect(query<{ kind: string }>("SELECT kind FROM audit_log WHERE kind = 'run.interrupted'")).toHaveLength(1);

    // Never re-run by itself: a second start finds nothing to recover and the step never ran again.
    const again = await runCli(['audit', 'verify'], { env });
    expect(again.code).toBe(0);
    expect(query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'run.started'")[0]!.n).toBe(1);
  });
});

describe('approvals from two processes at once', () => {
  it('start the run exactly once', async () => {
    const { commandsDir, env, query } = setup();
    const asked = await runCli(['console', '--as', 'U0DEV0001'], { env, input: '/runbook run guarded target=a env=prod\n' });
    expect(asked.stdout).toContain('R-1 waits for approval');
    const [a, b] = await Promise.all([
      runCli(['console', '--as', 'U0SRE0001'], { env, input: '/runbook approve R-1\n' }),
      runCli(['console', '--as', 'U0SRE0002'], { env, input: '/runbook approve R-1\n' }),
    ]);
    const outputs = [a.stdout, b.stdout];
    expect(outputs.filter((o) => o.includes('Approved R-1; it is starting.'))).toHaveLength(1);
    expect(outputs.filter((o) => /✗ conflict: R-1 is (queued|running|succeeded)/.test(o))).toHaveLength(1);
    expect(readFileSync(path.join(commandsDir, 'out', 'guarded-a'), 'utf8')).toBe('ran\n');
    expect(query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'run.started'")[0]!.n).toBe(1);
    expect(query<{ state: string }>("SELECT state FROM runs WHERE id = 'R-1'")[0]!.state).toBe('succeeded');
  });
});
