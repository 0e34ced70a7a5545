// kill -9 of the `edgeops serve` replica running a procedure: the other replica interrupts the run within the heartbeat timeout, frees its lease, tells the channel, kills the step's group, and never re-runs it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { writeCatalog } from '../pagerduty/pd-harness.js';
import { processAlive } from '../../helpers/process-alive.js';
import { queryDatabase, slashCommand } from './replica-commands.js';
import { startRecordingSlackApi, startReplica, type RecordingSlackApi, type Replica } from './replica-processes.js';

const HEARTBEAT_SECONDS = 1;
const TIMEOUT_SECONDS = 4;
/** Past the timeout: the next beat of the survivor, its reap's transaction, and a loaded machine. */
const MARGIN_MS = 6_000;

/** One run at a time (the lease), whose step records its label and process id, then holds for a minute. */
const HOLD = `name: hold
description: Holds a lease for a minute, recording each start
owner: "@test"
environments: [staging]
concurrency: "hold-{{env}}"
timeout: 5m
params:
  label: { type: string, pattern: "[a-z]{1,20}", required: true }
steps:
  - name: hold
    timeout: 5m
    run: ["/bin/sh", "-c", "mkdir -p ./out && echo \\"$1 $$\\" >> ./out/hold && exec sleep 60", "sh", "{{label}}"]
`;

const REPLICA_ENV = { EDGEOPS_REPLICA_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS), EDGEOPS_REPLICA_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) };

let db: TestDatabase;
let dir: string;
let api: RecordingSlackApi;
let replicas: Replica[] = [];

const query = <R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> => queryDatabase<R>(db.url, sql, params);

/** Each start of the step: its label and process id (the leader of its process group: `exec` keeps the shell's pid). */
function starts(): Array<{ label: string; pid: number }> {
  const file = path.join(dir, 'commands', 'out', 'hold');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [label, pid] = line.split(' ');
      return { label: label!, pid: Number(pid) };
    });
}

beforeAll(async () => {
  db = await testDatabase('replica_crash');
  dir = makeTempDir('replica-crash');
  writeCatalog(dir, { hold: HOLD });
  api = await startRecordingSlackApi();
  replicas = [await startReplica({ name: 'a', dir, databaseUrl: db.url, slackApiUrl: api.url, env: REPLICA_ENV })];
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  // Whatever a failed run of this test left behind must not outlive it.
  for (const { pid } of starts()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await api.close();
  await db.drop();
  removeTempDirs();
});

describe('kill -9 of the replica running a procedure', () => {
  it('has the other replica interrupt the run within the heartbeat timeout, tell the channel, free the lease and kill the step, never re-running it', async () => {
    const [a] = replicas as [Replica];
    expect(await slashCommand(api, a, '/runbook', 'run hold label=first env=staging')).toContain('R-1 started: hold in staging');
    await expect.poll(() => starts().map((s) => s.label), { timeout: 15_000 }).toEqual(['first']);
    // A, alone so far, has posted the run's start and holds the channel's outbox lease when it dies.
    await expect.poll(() => api.posted('C0GENERAL1').filter((t) => t.includes('R-1')), { timeout: 15_000 }).not.toEqual([]);
    const leases = await query<{ holder: string }>("SELECT holder FROM outbox_channel_leases WHERE channel = 'C0GENERAL1'");
    expect(leases.map((l) => l.holder.split('/')[1])).toEqual([String(a.child.pid)]);
    const b = await startReplica({ name: 'b', dir, databaseUrl: db.url, slackApiUrl: api.url, env: REPLICA_ENV });
    replicas.push(b);
    const [run] = await query<{ state: string; replica_id: string; pgid: number | null }>("SELECT state, replica_id, pgid FROM runs WHERE id = 'R-1'");
    expect(run).toMatchObject({ state: 'running' });
    const owner = await query<{ pid: number }>('SELECT pid FROM replicas WHERE id = $1', [run!.replica_id]);
    expect(owner).toEqual([{ pid: a.child.pid }]);
    const step = starts()[0]!.pid;
    expect(processAlive(step)).toBe(true);
    // While A holds the lease, the same procedure is refused on B.
    expect(await slashCommand(api, b, '/runbook', 'run hold label=second env=staging')).toContain('hold-staging is busy: R-1');
    expect(starts()).toHaveLength(1);

    const killedAt = Date.now();
    const closed = new Promise((resolve) => a.child.once('exit', resolve));
    a.child.kill('SIGKILL');
    await closed;

    await expect
      .poll(async () => (await query<{ state: string }>("SELECT state FROM runs WHERE id = 'R-1'"))[0]!.state, {
        timeout: TIMEOUT_SECONDS * 1000 + MARGIN_MS,
        interval: 100,
      })
      .toBe('interrupted');
    const tookMs = Date.now() - killedAt;
    console.info(`replica-crash: R-1 interrupted ${tookMs} ms after kill -9 (timeout ${TIMEOUT_SECONDS * 1000} ms)`);
    expect(tookMs).toBeLessThanOrEqual(TIMEOUT_SECONDS * 1000 + MARGIN_MS);

    // One audit row, naming the dead replica, written by the survivor, with the step's group killed.
    const audit = await query<{ payload: Record<string, unknown> }>("SELECT payload::jsonb AS payload FROM audit_log WHERE kind = 'run.interrupted'");
    expect(audit).toHaveLength(1);
    expect(audit[0]!.payload).toMatchObject({ replica: run!.replica_id, replica_pid: a.child.pid, killed_process_group: step });
    await expect.poll(() => processAlive(step), { timeout: 5_000 }).toBe(false);

    // The channel is told, by B through the Slack stand-in, once A's lease on the channel has run
    // out: it lasts the heartbeat timeout too, so the message is not held back for 30 s.
    await expect
      .poll(() => api.posted('C0GENERAL1').filter((t) => t.includes('R-1 hold (staging) was interrupted')), {
        timeout: TIMEOUT_SECONDS * 1000 + MARGIN_MS,
      })
      .toHaveLength(1);
    expect(api.posted('C0GENERAL1').find((t) => t.includes('R-1 hold (staging) was interrupted'))).toContain(
      'Its leftover processes were stopped; it will not re-run by itself',
    );

    // The lease is free: the same procedure through B is accepted and starts.
    const again = await slashCommand(api, b, '/runbook', 'run hold label=third env=staging');
    const second = /(R-\d+) started: hold in staging/.exec(again)?.[1];
    expect(second, again).toBeDefined();
    await expect.poll(() => starts().map((s) => s.label), { timeout: 15_000 }).toEqual(['first', 'third']);
    expect((await query<{ state: string }>('SELECT state FROM runs WHERE id = $1', [second]))[0]!.state).toBe('running');

    // Never re-run: R-1 started once, and stays interrupted.
    const started = await query<{ run: string }>("SELECT payload::jsonb->>'run' AS run FROM audit_log WHERE kind = 'run.started' ORDER BY seq");
    expect(started.map((r) => r.run)).toEqual(['R-1', second]);
    expect((await query<{ state: string }>("SELECT state FROM runs WHERE id = 'R-1'"))[0]!.state).toBe('interrupted');

    // The new run is cancelled so nothing of it outlives the test.
    expect(await slashCommand(api, b, '/runbook', `cancel ${second}`)).toContain(second);
    await expect.poll(() => processAlive(starts()[1]!.pid), { timeout: 10_000 }).toBe(false);
  }, 90_000);
});
