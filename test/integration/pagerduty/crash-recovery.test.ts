// kill -9 right after the 202, on SQLite and on PostgreSQL: the stored event is processed once after a restart, its triggers run once.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/app.js';
import { REPLICA_CLAIM_MS } from '../../../src/core/pagerduty/pagerduty-processor.js';
import { BACKEND_KINDS, readRows, type BackendKind } from '../../helpers/backends.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { harnessEnv, post, sign, startHarness, triggeredBody, writeCatalog, type Harness } from './pd-harness.js';

const CHILD = fileURLToPath(new URL('../../fixtures/pagerduty/pd-server-child.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../../dist/src/adapters/pagerduty/index.js', import.meta.url));

let child: ChildProcess | undefined;
let h: Harness<Backend> | undefined;
let database: TestDatabase | undefined;
const dirs: string[] = [];

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const closed = new Promise((resolve) => child!.once('close', resolve));
    child.kill('SIGKILL');
    await closed;
  }
  child = undefined;
  await h?.close();
  h = undefined;
  // The restarted harness drops the database it took over; one that was never taken over is dropped here.
  await database?.drop();
  database = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Starts the built server in a child process; resolves with its webhook URL once it listens. */
function startChild(dir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first (\`npm test\` builds before it tests)`);
  const proc = spawn(process.execPath, [CHILD, ...args], {
    env: { PATH: process.env.PATH, ...harnessEnv(dir), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    proc.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /LISTENING (\S+)/.exec(out);
      if (m) resolve(`${m[1]}/webhooks/pagerduty`);
    });
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before listening: ${err}`)));
  });
}

function kill9(): Promise<void> {
  const proc = child!;
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  proc.kill('SIGKILL');
  return closed;
}

/** Where the child keeps its record: the SQLite file in `dir`, or a fresh PostgreSQL database the restarted harness takes over. */
async function childStore(backend: BackendKind, dir: string): Promise<{ env: Record<string, string>; where: { file: string } | { url: string } }> {
  if (backend === 'sqlite') return { env: {}, where: { file: path.join(dir, 'data', 'edgeops.db') } };
  database = await testDatabase('pd_crash');
  return { env: { EDGEOPS_DATABASE_URL: database.url }, where: { url: database.url } };
}

function freshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-pd-crash-'));
  dirs.push(dir);
  writeCatalog(dir);
  return dir;
}

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('a crash between "stored" and "processed"', () => {
    it('loses nothing: the event answered 202 is processed once after the restart, and stays deduplicated', async () => {
      const dir = freshDir();
      const store = await childStore(backend, dir);
      const url = await startChild(dir, ['--no-worker'], store.env);
      const body = triggeredBody('PCRASH1', { id: 'evt-crash-1' });
      const res = await post(url, body, { 'x-pagerduty-signature': sign(body), 'x-webhook-id': 'wh-crash-1' });
      expect(res.status).toBe(202);
      await kill9();

      expect(await readRows(store.where, 'SELECT event_id, state FROM pagerduty_events')).toEqual([{ event_id: 'evt-crash-1', state: 'pending' }]);
      expect(await readRows(store.where, 'SELECT COUNT(*) AS n FROM incidents')).toEqual([{ n: 0 }]);

      h = await startHarness({ dir, backend, ...(database ? { database } : {}) });
      await h.settle();
      expect((await h.app.incidents.listOpen()).map((i) => i.pagerdutyId)).toEqual(['PCRASH1']);
      expect(h.ran()).toEqual(['PCRASH1 triggered']);
      expect((await h.deliver(body, { 'x-webhook-id': 'wh-crash-1' })).status).toBe(200);
      await h.settle();
      expect(await h.app.incidents.listOpen()).toHaveLength(1);
      expect(h.ran()).toEqual(['PCRASH1 triggered']);
      expect((await h.app.store.audit.verify()).ok).toBe(true);
    });

    it('with processing under way at the kill, every event is processed once and no trigger runs twice', async () => {
      const dir = freshDir();
      const store = await childStore(backend, dir);
      const url = await startChild(dir, [], store.env);
      const count = 20;
      for (let i = 0; i < count; i += 1) {
        const body = triggeredBody(`PKILL${i}`, { id: `evt-kill-${i}` });
        expect((await post(url, body, { 'x-pagerduty-signature': sign(body) })).status).toBe(202);
      }
      await kill9();

      // On PostgreSQL an event applied by the killed process stays claimed by it for REPLICA_CLAIM_MS
      // (another process cannot tell a dead worker from a live replica's): the restart comes after that.
      const afterClaims = { now: () => Date.now() + REPLICA_CLAIM_MS + 1_000 };
      h = await startHarness({ dir, backend, ...(database ? { database, clock: afterClaims } : {}) });
      await h.settle();
      expect(await h.app.store.pagerdutyEvents.countByState()).toMatchObject({ pending: 0, applied: 0, processed: count, failed: 0 });
      expect(await h.query('SELECT COUNT(*) AS n, COUNT(DISTINCT pagerduty_id) AS d FROM incidents')).toEqual([{ n: count, d: count }]);
      // One run per event: finished, or interrupted by the kill (never re-run by itself).
      const runs = await h.query<{ incident_id: string; state: string }>("SELECT incident_id, state FROM runs WHERE source = 'pagerduty'");
      expect(runs).toHaveLength(count);
      expect(new Set(runs.map((r) => r.incident_id)).size).toBe(count);
      for (const r of runs) expect(['succeeded', 'interrupted']).toContain(r.state);
      expect(await h.query('SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM pagerduty_trigger_runs')).toEqual([{ n: count, d: count }]);
      const ran = h.ran();
      expect(new Set(ran).size).toBe(ran.length);
      expect((await h.app.store.audit.verify()).ok).toBe(true);
    });
  });
});
