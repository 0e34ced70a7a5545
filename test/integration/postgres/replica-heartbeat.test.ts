// Replicas on one PostgreSQL database: a replica whose heartbeat stops has its runs interrupted by another, once, and a live replica's runs are never touched.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killProcessGroup } from '../../../src/adapters/steps/process-step.js';
import { systemClock } from '../../../src/core/ports.js';
import type { Run } from '../../../src/core/runs/run.js';
import { createRunService, type RunService } from '../../../src/core/runs/run-service.js';
import { postgresMigrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { createPool, type Pool } from '../../../src/storage/postgres/pool.js';
import { PostgresAuditLog } from '../../../src/storage/postgres/postgres-audit-log.js';
import { migratePostgres } from '../../../src/storage/postgres/postgres-migrate.js';
import { PostgresOutbox } from '../../../src/storage/postgres/postgres-outbox.js';
import { PostgresRunStore } from '../../../src/storage/postgres/postgres-run-store.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';
import { processSpace, ReplicaHeartbeat, type Reaped, type ReplicaIdentity } from '../../../src/storage/postgres/replica-heartbeat.js';
import { processAlive } from '../../helpers/process-alive.js';
import { DEV, POLICY, RESTART, restartRun } from '../../support/restart-runs.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

const KEY = 'k'.repeat(64);
let db: TestDatabase;
let pools: Pool[] = [];
let heartbeats: ReplicaHeartbeat[] = [];

// A database of its own for each test: the audit log refuses DELETE, so rows cannot be cleared between tests.
beforeEach(async () => {
  db = await testDatabase('replicas');
  const pool = createPool(db, { max: 2 });
  await migratePostgres(pool, readMigrations(postgresMigrationsDir()));
  await pool.end();
});
afterEach(async () => {
  await Promise.all(heartbeats.map((h) => h.stop()));
  await Promise.all(pools.map((p) => p.end()));
  [heartbeats, pools] = [[], []];
  await db.drop();
});

interface Replica {
  identity: ReplicaIdentity;
  pool: Pool;
  runs: PostgresRunStore;
  service: RunService;
  heartbeat: ReplicaHeartbeat;
  killed: number[];
  reaped: Reaped[];
}

let serial = 0;

/** One replica: its own pool and repositories on the shared database, a run service over them, and its heartbeat (not started). */
function replica(
  name: string,
  options: { heartbeatMs?: number; timeoutMs?: number; space?: string | null; alive?: boolean; realProcesses?: boolean } = {},
): Replica {
  const pool = createPool(db, { max: 4 });
  pools.push(pool);
  const session = new PostgresUnitOfWork(pool);
  const identity: ReplicaIdentity = { id: `replica-${name}-${++serial}`, host: `host-${name}`, pid: 7000 + serial, processSpace: options.space ?? null };
  const runs = new PostgresRunStore(session, identity.id);
  const killed: number[] = [];
  const service = createRunService({
    uow: session,
    audit: new PostgresAuditLog(session, KEY, systemClock),
    runs,
    outbox: new PostgresOutbox(session, () => Date.now()),
    clock: systemClock,
    catalog: () => ({ policy: POLICY, policyHash: 'policy-hash', procedures: new Map([[RESTART.name, RESTART]]) }),
    findIncident: async () => undefined,
    secretEnv: {},
    programs: { digest: () => null },
    steps: {
      process: async () => ({ outcome: 'succeeded', exitCode: 0, signal: null, output: 'ok\n', chunks: [], truncatedBytes: 0, durationMs: 1, pid: 4242 }),
      http: () => Promise.reject(new Error('no HTTP steps here')),
    },
    pid: identity.pid,
    isAlive: () => true,
    killGroup: (pgid) => {
      killed.push(pgid);
      if (options.realProcesses) killProcessGroup(pgid, 'SIGKILL');
    },
  });
  const reaped: Reaped[] = [];
  const heartbeat = new ReplicaHeartbeat({
    session,
    replica: identity,
    heartbeatMs: options.heartbeatMs ?? 60_000,
    timeoutMs: options.timeoutMs ?? 30_000,
    interruptRuns: (ids, reason) => service.interruptRuns(ids, reason),
    isAlive: (pid) => (options.realProcesses ? processAlive(pid) : (options.alive ?? true)),
    onReaped: (r) => reaped.push(r),
  });
  heartbeats.push(heartbeat);
  return { identity, pool, runs, service, heartbeat, killed, reaped };
}

/** A run the replica is executing, as its run store writes it: running, its lease held, its step's process group recorded. */
async function runningOn(r: Replica, n: number, service: string): Promise<Run> {
  const now = Date.now();
  const run = restartRun(n, service, now, { ownerPid: r.identity.pid });
  await r.runs.insert(run);
  await r.runs.acquireLease(run.concurrencyKey, run.id, now);
  const started = { ...run, state: 'running' as const, startedAt: now, pgid: 40_000 + n };
  await r.runs.save(started);
  return started;
}

const sql = async <T extends object>(text: string, params: unknown[] = []): Promise<T[]> => (await pools[0]!.query<T>(text, params)).rows;
const interruptedRows = () => sql<{ payload: string }>("SELECT payload FROM audit_log WHERE kind = 'run.interrupted' ORDER BY seq");
const stateOf = async (id: string) => (await sql<{ state: string }>('SELECT state FROM runs WHERE id = $1', [id]))[0]?.state;
/** Makes a replica's last heartbeat `ms` older, as if it had been silent that long. */
const silence = (r: Replica, ms: number) => sql('UPDATE replicas SET heartbeat_at = heartbeat_at - $2 WHERE id = $1', [r.identity.id, ms]);

describe('the owner of a run', () => {
  it('is the replica that last saved it as queued or running, and stays recorded after the run ends', async () => {
    const requester = replica('x');
    const approver = replica('y');
    const base = await runningOn(requester, 1, 'checkout');
    await requester.runs.insert({
      ...base,
      id: 'R-2',
      number: 2,
      state: 'pending_approval',
      concurrencyKey: 'restart-search',
      startedAt: null,
      pgid: null,
    });
    expect(await sql('SELECT replica_id FROM runs WHERE id = $1', ['R-2'])).toEqual([{ replica_id: null }]);

    // Approved on another replica, which then executes it.
    await approver.runs.save({ ...(await approver.runs.get('R-2'))!, state: 'queued' });
    expect(await sql('SELECT replica_id FROM runs WHERE id = $1', ['R-2'])).toEqual([{ replica_id: approver.identity.id }]);

    await approver.runs.save({ ...(await approver.runs.get('R-1'))!, state: 'succeeded', finishedAt: Date.now() });
    expect(await sql('SELECT replica_id FROM runs WHERE id = $1', ['R-1'])).toEqual([{ replica_id: requester.identity.id }]);
  });
});

describe('a replica whose heartbeat stops', () => {
  it('has its running run interrupted by another replica within the timeout, its lease freed, one audit row and a channel message, while a live replica’s run is untouched', async () => {
    const reaper = replica('a', { heartbeatMs: 50, timeoutMs: 400 });
    const live = replica('l', { heartbeatMs: 50, timeoutMs: 400 });
    const dying = replica('b', { heartbeatMs: 50, timeoutMs: 400 });
    for (const r of [reaper, live, dying]) await r.heartbeat.start();
    await runningOn(live, 1, 'checkout');
    await runningOn(dying, 2, 'search');
    expect(await sql('SELECT id, replica_id FROM runs ORDER BY number')).toEqual([
      { id: 'R-1', replica_id: live.identity.id },
      { id: 'R-2', replica_id: dying.identity.id },
    ]);

    // Its timer stops; it owns a running run, so its row stays for the others to judge.
    await dying.heartbeat.stop();
    const stoppedAt = Date.now();
    await expect.poll(() => stateOf('R-2'), { timeout: 10_000, interval: 25 }).toBe('interrupted');
    const after = Date.now() - stoppedAt;

    expect(after).toBeGreaterThanOrEqual(300);
    expect(await sql('SELECT id FROM replicas WHERE id = $1', [dying.identity.id])).toEqual([]);
    expect(await stateOf('R-1')).toBe('running');
    expect(await sql('SELECT key, run_id FROM leases ORDER BY key')).toEqual([{ key: 'restart-checkout', run_id: 'R-1' }]);
    const rows = await interruptedRows();
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.payload)).toMatchObject({ run: 'R-2', replica: dying.identity.id, replica_host: 'host-b', leftover_process_group: 40_002 });
    const messages = await sql<{ channel: string; body: string }>('SELECT channel, body FROM outbox');
    expect(messages).toHaveLength(1);
    expect(messages[0]!.channel).toBe('C0OPS');
    expect(JSON.parse(messages[0]!.body)).toMatchObject({
      kind: 'run.interrupted',
      text: '⚠ R-2 restart (prod) was interrupted: the edgeops replica on host-b executing it stopped answering. Its last step (process group 40002) may still be running on host-b; it will not re-run by itself — check there, then run it again if needed.',
    });
    // Another host's process groups are never killed from here.
    expect([...reaper.killed, ...live.killed]).toEqual([]);
    expect(reaper.reaped.concat(live.reaped).map((r) => [r.replica?.id, r.runs.map((run) => run.id)])).toEqual([[dying.identity.id, ['R-2']]]);

    // The lease is free: the same procedure and service may run again.
    const again = await reaper.service.request(DEV, { procedure: 'restart', params: { service: 'search' }, channel: 'C0OPS' });
    expect(again).toMatchObject({ kind: 'run', run: { id: 'R-3', state: 'queued' } });
    // It runs to its end here, before the test's pools close.
    expect(again.kind === 'run' ? await again.done : undefined).toMatchObject({ id: 'R-3', state: 'succeeded' });
    expect(await sql('SELECT replica_id FROM runs WHERE id = $1', ['R-3'])).toEqual([{ replica_id: reaper.identity.id }]);
  });

  it('is reaped once when several replicas reap at the same moment', async () => {
    const dead = replica('d');
    await dead.heartbeat.start();
    await runningOn(dead, 1, 'checkout');
    await runningOn(dead, 2, 'search');
    await dead.heartbeat.stop();
    await silence(dead, 60_000);
    const reapers = ['p', 'q', 'r', 's'].map((n) => replica(n));

    const results = await Promise.all(reapers.map((r) => r.heartbeat.reap()));

    expect(results.flat().map((r) => [r.replica?.id, r.runs.map((run) => run.id)])).toEqual([[dead.identity.id, ['R-1', 'R-2']]]);
    expect((await interruptedRows()).map((r) => (JSON.parse(r.payload) as { run: string }).run)).toEqual(['R-1', 'R-2']);
    expect(await sql('SELECT COUNT(*)::int AS n FROM outbox')).toEqual([{ n: 2 }]);
  });

  it('never has a silent-but-recent replica reaped, nor a live replica’s run taken at start-up', async () => {
    const quiet = replica('q', { timeoutMs: 30_000 });
    await quiet.heartbeat.start();
    await runningOn(quiet, 1, 'checkout');
    await silence(quiet, 5_000);
    const starting = replica('n', { timeoutMs: 30_000 });

    expect(await starting.heartbeat.start()).toEqual([]);

    expect(await stateOf('R-1')).toBe('running');
    expect(await interruptedRows()).toEqual([]);
    expect(await sql('SELECT id FROM replicas ORDER BY id')).toHaveLength(2);
  });

  it('kills the leftover process group only when the dead replica shared this one’s process IDs and is gone', async () => {
    const dead = replica('d', { space: 'boot-1/pid:[1]' });
    await dead.heartbeat.start();
    await runningOn(dead, 1, 'checkout');
    await dead.heartbeat.stop();
    await silence(dead, 60_000);
    const elsewhere = replica('e', { space: 'boot-2/pid:[1]', alive: false });
    expect(await elsewhere.heartbeat.reap()).toHaveLength(1);
    expect(elsewhere.killed).toEqual([]);

    const dead2 = replica('d', { space: 'boot-1/pid:[1]' });
    await dead2.heartbeat.start();
    await runningOn(dead2, 2, 'search');
    await dead2.heartbeat.stop();
    await silence(dead2, 60_000);
    const sameSpace = replica('s', { space: 'boot-1/pid:[1]', alive: false });
    await sameSpace.heartbeat.reap();
    expect(sameSpace.killed).toEqual([40_002]);
    const rows = await interruptedRows();
    expect(JSON.parse(rows[1]!.payload)).toMatchObject({ run: 'R-2', killed_process_group: 40_002, leftover_process_group: null });
  });
});

describe('a replica stopping or coming back', () => {
  it('removes its row when stopped while it executes no run, and keeps it while it does', async () => {
    const idle = replica('i');
    const busy = replica('b');
    await idle.heartbeat.start();
    await busy.heartbeat.start();
    await runningOn(busy, 1, 'checkout');

    await idle.heartbeat.stop();
    await busy.heartbeat.stop();

    expect(await sql('SELECT id FROM replicas')).toEqual([{ id: busy.identity.id }]);
  });

  it('registers again, and says so, when its next beat finds that others took it for dead', async () => {
    let revived = 0;
    const paused = replica('p');
    await paused.heartbeat.start();
    await sql('DELETE FROM replicas WHERE id = $1', [paused.identity.id]);
    const back = new ReplicaHeartbeat({
      session: new PostgresUnitOfWork(paused.pool),
      replica: paused.identity,
      interruptRuns: () => Promise.resolve([]),
      isAlive: () => true,
      onRevived: () => (revived += 1),
    });

    await back.beat();

    expect(revived).toBe(1);
    expect(await sql('SELECT id FROM replicas')).toEqual([{ id: paused.identity.id }]);
  });
});

describe('runs no live replica owns', () => {
  it('are interrupted by the first reap (a copy from SQLite leaves them without a replica), and a live replica’s are not', async () => {
    const live = replica('l');
    await live.heartbeat.start();
    await runningOn(live, 1, 'checkout');
    const ownerless = new PostgresRunStore(new PostgresUnitOfWork(pools.at(-1)!));
    await ownerless.insert({ ...(await live.runs.get('R-1'))!, id: 'R-2', number: 2, concurrencyKey: 'restart-search', pgid: null });
    expect(await sql('SELECT replica_id FROM runs WHERE id = $1', ['R-2'])).toEqual([{ replica_id: null }]);

    const starting = replica('n');
    const reaped = await starting.heartbeat.start();

    expect(reaped.map((r) => [r.replica, r.runs.map((run) => run.id)])).toEqual([[null, ['R-2']]]);
    expect(await stateOf('R-1')).toBe('running');
    expect(await stateOf('R-2')).toBe('interrupted');
    expect(JSON.parse((await sql<{ body: string }>('SELECT body FROM outbox'))[0]!.body)).toMatchObject({
      text: '⚠ R-2 restart (prod) was interrupted: edgeops stopped mid-run. Its leftover processes were stopped; it will not re-run by itself — check the system, then run it again if needed.',
    });
  });
});

describe('a replica process killed with SIGKILL', () => {
  it('has its run interrupted by another replica on the same host, which kills the step it left running and frees the lease', async () => {
    const reaper = replica('a', { heartbeatMs: 50, timeoutMs: 400, space: processSpace(), realProcesses: true });
    const child = spawn(process.execPath, ['test/fixtures/replicas/replica-child.mjs', db.url, '50'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const { replica: id, pgid } = JSON.parse(line) as { replica: string; pgid: number };
    try {
      expect(await sql('SELECT replica_id, state FROM runs')).toEqual([{ replica_id: id, state: 'running' }]);

      child.kill('SIGKILL');
      await exited;
      // The step outlives the replica: it runs in a process group of its own.
      expect(processAlive(pgid)).toBe(true);

      await reaper.heartbeat.start();
      await expect.poll(() => stateOf('R-1'), { timeout: 10_000, interval: 25 }).toBe('interrupted');

      expect(reaper.killed).toEqual([pgid]);
      await expect.poll(() => processAlive(pgid), { timeout: 5_000, interval: 25 }).toBe(false);
      expect(await sql('SELECT key FROM leases')).toEqual([]);
      expect(await sql('SELECT id FROM replicas WHERE id = $1', [id])).toEqual([]);
      expect(JSON.parse((await sql<{ body: string }>('SELECT body FROM outbox'))[0]!.body)).toMatchObject({
        text: expect.stringContaining('was interrupted: the edgeops replica on ') as unknown,
      });
      expect(JSON.parse((await interruptedRows())[0]!.payload)).toMatchObject({ killed_process_group: pgid, leftover_process_group: null });
    } finally {
      // Never leave the step behind, whatever failed above.
      killProcessGroup(pgid, 'SIGKILL');
    }
  });
});
