// kill -9 of the bot mid-run, and approvals racing from two processes: what a restart guarantees, on SQLite and on PostgreSQL.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../../src/storage/postgres/pool.js';
import { BACKEND_KINDS, readRows, type BackendKind } from '../../helpers/backends.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { processAlive } from '../../helpers/process-alive.js';
import { runCli, spawnCli } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { writeRunCatalog } from './run-fixture.js';

let database: TestDatabase | undefined;

afterEach(async () => {
  removeTempDirs();
  await database?.drop();
  database = undefined;
});

/** The catalog in a temp folder, and the bot's store: its SQLite file, or a fresh PostgreSQL database. */
async function setup(backend: BackendKind) {
  const dir = makeTempDir('crash-run');
  const { policiesDir, commandsDir } = writeRunCatalog(dir);
  const dbPath = path.join(dir, 'data', 'edgeops.db');
  const env: Record<string, string> = { EDGEOPS_DB: dbPath, EDGEOPS_POLICIES: policiesDir, EDGEOPS_COMMANDS: commandsDir };
  if (backend === 'postgres') {
    database = await testDatabase('crash_run');
    env.EDGEOPS_DATABASE_URL = database.url;
    // One chain for every process on the database, so one key given to each (no key file of their own).
    env.EDGEOPS_AUDIT_KEY = 'c'.repeat(64);
  }
  const where: { file: string } | { url: string } = env.EDGEOPS_DATABASE_URL === undefined ? { file: dbPath } : { url: env.EDGEOPS_DATABASE_URL };
  const query = <T>(sql: string): Promise<T[]> => readRows<T>(where, sql);
  /** Rows once the bot has created its tables; null before. */
  const queryOnceCreated = async <T>(sql: string): Promise<T[] | null> => {
    if ('file' in where && !existsSync(where.file)) return null;
    return query<T>(sql).catch(() => null);
  };
  return { dir, commandsDir, env, query, queryOnceCreated };
}

/**
 * On PostgreSQL every process is a replica, and the runs of one that died are interrupted by the
 * next heartbeat that finds it silent for longer than the replica timeout (docs/operations.md), not
 * by a check of this host's process IDs. This ages the dead replica's last heartbeat past that
 * timeout, as if the restart came a minute later.
 */
async function silenceReplicas(url: string): Promise<void> {
  const pool = createPool({ url }, { max: 1, applicationName: 'edgeops test' });
  try {
    await pool.query('UPDATE replicas SET heartbeat_at = heartbeat_at - 60000');
  } finally {
    await pool.end();
  }
}

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('a bot killed mid-run', () => {
    it('marks the run interrupted at the next start, frees its lease, kills its orphans, and says so', async () => {
      const { commandsDir, env, query, queryOnceCreated } = await setup(backend);
      const child = spawnCli(['run', 'orphan-maker', '--as', 'U0SRE0001'], { env });
      child.stdout!.resume();
      child.stderr!.resume();
      const grandchildFile = path.join(commandsDir, 'out', 'grandchild');
      await expect.poll(() => existsSync(grandchildFile) && readFileSync(grandchildFile, 'utf8').trim() !== '', { timeout: 10_000 }).toBe(true);
      await expect
        .poll(async () => (await queryOnceCreated<{ pgid: number | null }>("SELECT pgid FROM runs WHERE id = 'R-1'"))?.[0]?.pgid ?? null, {
          timeout: 10_000,
        })
        .not.toBeNull();
      const grandchild = Number(readFileSync(grandchildFile, 'utf8'));
      const stepPid = Number(readFileSync(path.join(commandsDir, 'out', 'child'), 'utf8'));

      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
      expect(processAlive(grandchild)).toBe(true);
      expect((await query<{ state: string }>("SELECT state FROM runs WHERE id = 'R-1'"))[0]!.state).toBe('running');
      if (env.EDGEOPS_DATABASE_URL !== undefined) await silenceReplicas(env.EDGEOPS_DATABASE_URL);

      const restart = await runCli(['console', '--as', 'U0SRE0001'], { env, input: '/runbook status R-1\n' });
      expect(restart.code).toBe(0);
      expect(restart.stdout).toContain('⚠ R-1 orphan-maker (staging) was interrupted when edgeops last stopped');
      // The reason names what stopped: the bot, or on PostgreSQL the replica whose heartbeat did.
      const reason =
        backend === 'sqlite'
          ? 'edgeops stopped while this run was in progress'
          : `the edgeops replica on ${hostname()} executing this run stopped (no heartbeat); it will not be re-run by itself`;
      expect(restart.stdout).toContain(`R-1 orphan-maker (staging): interrupted — ${reason}`);
      await expect.poll(() => processAlive(grandchild) || processAlive(stepPid), { timeout: 5000 }).toBe(false);
      expect(await query('SELECT * FROM leases')).toEqual([]);
      expect(await query<{ kind: string }>("SELECT kind FROM audit_log WHERE kind = 'run.interrupted'")).toHaveLength(1);

      // Never re-run by itself: a second start finds nothing to recover and the step never ran again.
      const again = await runCli(['audit', 'verify'], { env });
      expect(again.code).toBe(0);
      expect((await query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'run.started'"))[0]!.n).toBe(1);
    });
  });

  describe('approvals from two processes at once', () => {
    it('start the run exactly once', async () => {
      const { commandsDir, env, query } = await setup(backend);
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
      expect((await query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'run.started'"))[0]!.n).toBe(1);
      expect((await query<{ state: string }>("SELECT state FROM runs WHERE id = 'R-1'"))[0]!.state).toBe('succeeded');
    });
  });
});
