// Bench case: export an incident of 100,000 audit events to md, json and html, each in a fresh process.
import { statSync } from 'node:fs';
import path from 'node:path';
import { createIncidentService } from '../src/core/incidents/incident-service.js';
import { Store } from '../src/storage/store.js';
import type { BenchCase, Figure } from './bench-case.js';
import { measureNode, rssMethod, type ChildMeasure } from './measure-child.js';

const EVENTS = 100_000;
const BATCH = 5_000;
const FORMATS = ['md', 'json', 'html'] as const;
/** Each format is exported this many times; the median wall time and the highest peak RSS are reported. */
const RUNS = 3;
const GOAL_MS = 1_000;
const GOAL_MB = 200;
/** `audit verify` replays every row and checks the tables exports read: a few seconds for 100k events. */
const VERIFY_GOAL_MS = 5_000;
const AUDIT_KEY = 'b'.repeat(64);
const T0 = Date.parse('2026-03-04T10:00:00.000Z');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** INC-1 with EVENTS events on a real hash chain, appended in transactions of BATCH, and a one-event INC-2. */
async function seed(file: string): Promise<void> {
  let now = T0;
  const clock = { now: () => now };
  const store = Store.create({ file, auditKey: AUDIT_KEY, clock });
  try {
    const by = { actor: { id: 'U0LOCAL01', groups: [] }, source: 'console' as const };
    const service = createIncidentService({ uow: store, audit: store.audit, incidents: store.incidents, outbox: store.outbox, clock });
    const incident = await service.declare(by, { title: 'Checkout errors after deploy', severity: 2, service: 'checkout' });
    // A one-event incident beside it: its export is the fixed cost (process start, module loading, schema check).
    await service.declare(by, { title: 'Baseline', severity: 4 });
    for (let done = 1; done < EVENTS;) {
      const upTo = Math.min(EVENTS, done + BATCH);
      await store.transaction(async () => {
        for (; done < upTo; done += 1) {
          now += 1_000;
          const update = done % 10 === 0;
          await store.audit.append({
            actor: done % 3 === 0 ? 'U0SRE0002' : 'U0LOCAL01',
            source: 'console',
            kind: update ? 'incident.updated' : 'incident.note',
            incidentId: incident.id,
            payload: update
              ? { text: `5xx rate at ${done % 17}% on checkout-api, pods ${done % 40} of 40 rolled back`, status: 'identified' }
              : { text: `note ${done}: p99 latency ${200 + (done % 900)} ms on checkout-api; error budget burn ${done % 13}x <|>` },
          });
        }
      });
    }
    // What the updates above set, as the service would have saved it: `audit verify` checks the table against the log.
    const seeded = (await store.incidents.get(incident.id))!;
    seeded.status = 'identified';
    await store.transaction(async () => await store.incidents.save(seeded));
  } finally {
    store.close();
  }
}

export const export100k: BenchCase = {
  name: 'export-100k',
  summary: `\`edgeops export\` of one incident with ${EVENTS.toLocaleString('en')} events, per format, in a fresh process (median of ${RUNS} runs; highest peak RSS), beside the export of a one-event incident`,
  async run(ctx) {
    const db = path.join(ctx.workDir, 'edgeops.db');
    const started = process.hrtime.bigint();
    await seed(db);
    const setupMs = Number(process.hrtime.bigint() - started) / 1e6;
    ctx.log(`seeded ${EVENTS} events in ${setupMs.toFixed(0)} ms; peak RSS via ${rssMethod()}`);
    const figures: Figure[] = [{ name: 'setup: seed 100k chained events', value: setupMs, unit: 'ms', note: `transactions of ${BATCH}` }];

    const env = { PATH: process.env.PATH ?? '', EDGEOPS_DB: db, EDGEOPS_AUDIT_KEY: AUDIT_KEY, LOG_LEVEL: 'warn' };
    const exportRuns = async (incident: string, format: string) => {
      const out = path.join(ctx.workDir, `${incident}.${format}`);
      const runs: ChildMeasure[] = [];
      for (let run = 0; run < RUNS; run += 1) {
        const m = await measureNode([ctx.cli, 'export', incident, '--format', format, '--out', out], { env, cwd: ctx.workDir });
        if (m.code !== 0) throw new Error(`export ${incident} --format ${format} exited ${m.code}: ${m.stderr.trim()}`);
        runs.push(m);
      }
      return {
        wallMs: median(runs.map((m) => m.wallMs)),
        cpuMs: median(runs.map((m) => m.cpuMs)),
        peakRssMb: Math.max(...runs.map((m) => m.peakRssMb)),
        bytes: statSync(out).size,
        walls: runs.map((m) => m.wallMs.toFixed(0)).join(', '),
      };
    };

    const base = await exportRuns('INC-2', 'md');
    ctx.log(`baseline (1 event, md): ${base.walls} ms; cpu ${base.cpuMs.toFixed(0)} ms; ${base.peakRssMb.toFixed(1)} MB`);
    figures.push(
      { name: 'baseline: 1-event export (md), wall time', value: base.wallMs, unit: 'ms' },
      { name: 'baseline: 1-event export (md), peak RSS', value: base.peakRssMb, unit: 'MB' },
    );
    for (const format of FORMATS) {
      const r = await exportRuns('INC-1', format);
      ctx.log(`${format}: ${r.walls} ms; cpu ${r.cpuMs.toFixed(0)} ms; ${r.peakRssMb.toFixed(1)} MB; ${(r.bytes / 1e6).toFixed(1)} MB written`);
      figures.push(
        { name: `${format}: wall time`, value: r.wallMs, unit: 'ms', max: GOAL_MS },
        { name: `${format}: CPU time (user+sys)`, value: r.cpuMs, unit: 'ms' },
        { name: `${format}: peak RSS`, value: r.peakRssMb, unit: 'MB', max: GOAL_MB },
        { name: `${format}: file size`, value: r.bytes / 1024, unit: 'KB' },
      );
    }
    const verify = await measureNode([ctx.cli, 'audit', 'verify', '--db', db], { env, cwd: ctx.workDir });
    if (verify.code !== 0) throw new Error(`audit verify exited ${verify.code}: ${verify.stderr.trim()}`);
    ctx.log(`audit verify: ${verify.wallMs.toFixed(0)} ms; ${verify.peakRssMb.toFixed(1)} MB; ${verify.stdout.trim().split('\n').pop() ?? ''}`);
    figures.push(
      { name: 'audit verify (chain and exported tables): wall time', value: verify.wallMs, unit: 'ms', max: VERIFY_GOAL_MS },
      { name: 'audit verify: peak RSS', value: verify.peakRssMb, unit: 'MB', max: GOAL_MB },
    );
    return figures;
  },
};
