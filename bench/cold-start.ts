// Bench case: `edgeops serve` (local mode) from spawn to its first 200 on /healthz, and its resident memory once idle.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import path from 'node:path';
import { createIncidentService } from '../src/core/incidents/incident-service.js';
import { packageRoot } from '../src/paths.js';
import { Store } from '../src/storage/store.js';
import type { BenchCase, Figure } from './bench-case.js';

/** Starts per database; the median start time and the median idle RSS are reported. */
const RUNS = 5;
/** How long the server sits idle before its memory is read. */
const IDLE_MS = 2_000;
const GOAL_START_MS = 1_500;
const GOAL_RSS_MB = 150;
/** The populated database: this many incidents, each with this many timeline events, all resolved. */
const INCIDENTS = 1_000;
const EVENTS_PER_INCIDENT = 100;
/** Incidents seeded per commit. */
const BATCH = 50;
const AUDIT_KEY = 'c'.repeat(64);
/** However slow the machine, a start that takes this long has failed. */
const GIVE_UP_MS = 30_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const elapsedMs = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6;

/** Months of use: resolved incidents with their timelines on one chain, every message already delivered. */
async function seed(file: string): Promise<number> {
  let now = Date.parse('2026-01-05T08:00:00.000Z');
  const clock = { now: () => now };
  const store = Store.create({ file, auditKey: AUDIT_KEY, clock });
  try {
    const by = { actor: { id: 'U0LOCAL01', groups: [] }, source: 'console' as const };
    const service = createIncidentService({ uow: store, audit: store.audit, incidents: store.incidents, outbox: store.outbox, clock });
    for (let first = 0; first < INCIDENTS; first += BATCH) {
      await store.transaction(async () => {
        for (let n = first; n < Math.min(INCIDENTS, first + BATCH); n += 1) {
          const incident = await service.declare(by, { title: `Checkout errors ${n}`, severity: 1 + (n % 4), service: 'checkout' });
          for (let e = 2; e < EVENTS_PER_INCIDENT; e += 1) {
            now += 1_000;
            await store.audit.append({
              actor: e % 3 === 0 ? 'U0SRE0002' : 'U0LOCAL01',
              source: 'console',
              kind: 'incident.note',
              incidentId: incident.id,
              payload: { text: `note ${e}: p99 latency ${200 + ((n * e) % 900)} ms on checkout-api; error budget burn ${e % 13}x` },
            });
          }
          await service.resolve(by, incident.id, 'rolled back');
        }
      });
    }
    // Delivered long ago: a start has nothing to send.
    store.db.prepare("UPDATE outbox SET state = 'sent', sent_at = created_at").run();
    return (await store.audit.head()).seq;
  } finally {
    store.close();
  }
}

/** The base URL local mode prints in its banner (`http  http://127.0.0.1:PORT …`). */
function printedUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no URL printed within ${GIVE_UP_MS} ms: ${err.trim()}`)), GIVE_UP_MS);
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const url = /^\s*http\s+(http:\/\/\S+)/m.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code} before listening: ${err.trim().split('\n')[0] ?? ''}`));
    });
  });
}

function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

/** Asks until the answer is 200 (a start that is not ready yet answers 503). */
async function firstOk(url: string, since: bigint): Promise<void> {
  for (;;) {
    if ((await status(url)) === 200) return;
    if (elapsedMs(since) > GIVE_UP_MS) throw new Error(`${url} did not answer 200 within ${GIVE_UP_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resident memory now, in MB: VmRSS from /proc, or ps where there is no /proc. */
function rssMb(pid: number): number {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) {
    const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(status, 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  }
  const ps = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  const kb = Number(ps.stdout.trim());
  if (ps.status !== 0 || !Number.isFinite(kb) || kb === 0) throw new Error(`cannot read the resident memory of ${pid}`);
  return kb / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await closed;
  clearTimeout(timer);
}

/** One start of `edgeops serve` on `dbPath`: milliseconds from spawn to the first 200, then RSS after IDLE_MS. */
async function startOnce(cli: string, dbPath: string): Promise<{ startMs: number; idleRssMb: number }> {
  const root = packageRoot();
  const cwd = path.dirname(path.dirname(dbPath));
  mkdirSync(cwd, { recursive: true });
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [cli, 'serve'], {
    cwd,
    // Piped-in input that is already closed: the console ends and the HTTP server keeps serving, as in a container.
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      EDGEOPS_DB: dbPath,
      EDGEOPS_AUDIT_KEY: AUDIT_KEY,
      EDGEOPS_POLICIES: path.join(root, 'policies'),
      EDGEOPS_COMMANDS: path.join(root, 'commands'),
      PORT: '0',
      HOST: '127.0.0.1',
    },
  });
  try {
    const url = await printedUrl(child);
    await firstOk(`${url}/healthz`, started);
    const startMs = elapsedMs(started);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return { startMs, idleRssMb: rssMb(child.pid!) };
  } finally {
    await stop(child);
  }
}

export const coldStart: BenchCase = {
  name: 'cold-start',
  summary: `\`edgeops serve\` in local mode as a fresh process: from spawn to the first 200 on /healthz (median of ${RUNS}), and its resident memory (VmRSS) after ~${IDLE_MS / 1000} s idle (median of ${RUNS}), with a new empty database each start and with a populated one (${INCIDENTS.toLocaleString('en')} resolved incidents, ${(INCIDENTS * EVENTS_PER_INCIDENT).toLocaleString('en')} timeline events)`,
  async run(ctx) {
    const populated = path.join(ctx.workDir, 'populated', 'data', 'edgeops.db');
    mkdirSync(path.dirname(populated), { recursive: true });
    const seeding = process.hrtime.bigint();
    const events = await seed(populated);
    const seedMs = elapsedMs(seeding);
    ctx.log(`seeded ${events} audit events in ${seedMs.toFixed(0)} ms`);

    const measure = async (label: string, dbFor: (run: number) => string) => {
      const starts: number[] = [];
      const rss: number[] = [];
      for (let run = 0; run < RUNS; run += 1) {
        const r = await startOnce(ctx.cli, dbFor(run));
        starts.push(r.startMs);
        rss.push(r.idleRssMb);
      }
      ctx.log(`${label}: start ${starts.map((v) => v.toFixed(0)).join(', ')} ms; idle RSS ${rss.map((v) => v.toFixed(1)).join(', ')} MB`);
      return { startMs: median(starts), rssMb: median(rss) };
    };
    // A new data folder each time: the first start of a fresh install (database created, migrations applied).
    const empty = await measure('empty database', (run) => path.join(ctx.workDir, `empty-${run}`, 'data', 'edgeops.db'));
    const full = await measure('populated database', () => populated);

    const startNote = (what: string): string => `${what}, median of ${RUNS}; our goal < ${GOAL_START_MS / 1000} s`;
    const rssNote = (what: string): string => `${what}, VmRSS after ~${IDLE_MS / 1000} s idle, median of ${RUNS}; our goal < ${GOAL_RSS_MB} MB`;
    const figures: Figure[] = [
      { name: 'setup: seed the populated database', value: seedMs, unit: 'ms', note: `${events} audit events` },
      { name: 'cold start to /healthz 200, empty database', value: empty.startMs, unit: 'ms', max: GOAL_START_MS, note: startNote('fresh install') },
      { name: 'cold start to /healthz 200, populated database', value: full.startMs, unit: 'ms', max: GOAL_START_MS, note: startNote(`${events} events`) },
      { name: 'idle RSS, empty database', value: empty.rssMb, unit: 'MB', max: GOAL_RSS_MB, note: rssNote('fresh install') },
      { name: 'idle RSS, populated database', value: full.rssMb, unit: 'MB', max: GOAL_RSS_MB, note: rssNote(`${events} events`) },
    ];
    return figures;
  },
};
