// Bench case: the ops portal over loopback — a 100,000-event incident's page (server time to first byte, and headless Chromium's time to the first timeline row) and the incidents page with 10,000 incidents.
import { request } from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { mountPlatform } from '../src/adapters/http/platform-routes.js';
import { startHttpServer } from '../src/adapters/http/http-server.js';
import { createApp } from '../src/app.js';
import { bootCatalog } from '../src/cli/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { createIncidentService } from '../src/core/incidents/incident-service.js';
import { createLogger } from '../src/log.js';
import { packageRoot } from '../src/paths.js';
import { Store } from '../src/storage/store.js';
import type { BenchCase, Figure } from './bench-case.js';

const EVENTS = 100_000;
const INCIDENTS = 10_000;
const BATCH = 5_000;
/** Each page is opened this many times (after one warm-up); the median is reported. */
const RUNS = 7;
const GOAL_MS = 300;
const AUDIT_KEY = 'p'.repeat(64);
const USER = 'U0LOCAL01';
const CHROMIUM = '/usr/bin/chromium';
const T0 = Date.parse('2026-03-04T10:00:00.000Z');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** INC-1 with EVENTS chained events, then INCIDENTS - 1 more incidents across services and severities. */
async function seed(file: string): Promise<void> {
  let now = T0;
  const clock = { now: () => now };
  const store = Store.create({ file, auditKey: AUDIT_KEY, clock });
  try {
    const by = { actor: { id: USER, groups: [] }, source: 'console' as const };
    const service = createIncidentService({ uow: store, audit: store.audit, incidents: store.incidents, outbox: store.outbox, clock });
    const incident = await service.declare(by, { title: 'Checkout errors after deploy', severity: 2, service: 'checkout' });
    for (let done = 1; done < EVENTS;) {
      const upTo = Math.min(EVENTS, done + BATCH);
      await store.transaction(async () => {
        for (; done < upTo; done += 1) {
          now += 1_000;
          await store.audit.append({
            actor: USER,
            source: 'console',
            kind: 'incident.note',
            incidentId: incident.id,
            payload: { text: `note ${done}: p99 ${200 + (done % 900)} ms <|>` },
          });
        }
      });
    }
    const services = ['checkout', 'search', 'auth', 'payments', 'db'];
    for (let n = 2; n <= INCIDENTS;) {
      const upTo = Math.min(INCIDENTS, n + BATCH - 1);
      await store.transaction(async () => {
        for (; n <= upTo; n += 1) {
          now += 60_000;
          await service.declare(by, {
            title: `Incident ${n} on ${services[n % services.length]}`,
            severity: 1 + (n % 4),
            service: services[n % services.length]!,
          });
        }
      });
    }
  } finally {
    store.close();
  }
}

/** Time to the response's first byte and to its end, in ms. */
function timedGet(url: string, cookie: string): Promise<{ ttfb: number; total: number; status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { agent: false, headers: { cookie } }, (res) => {
      let ttfb = 0;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) ttfb = performance.now() - started;
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ ttfb, total: performance.now() - started, status: res.statusCode ?? 0, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

export const portalPages: BenchCase = {
  name: 'portal-pages',
  summary: `the ops portal over loopback, in process: the page of an incident with ${EVENTS.toLocaleString('en')} events (server time to first byte; headless Chromium's time to the first timeline row) and the incidents page with ${INCIDENTS.toLocaleString('en')} incidents (median of ${RUNS} after a warm-up)`,
  notes: [
    'The incident page reads one window of 100 events by seq from the (incident_id, seq) index, so its cost does not grow with the incident; the incidents page reads 51 rows by number with LIMIT.',
  ],
  async run(ctx) {
    const db = path.join(ctx.workDir, 'edgeops.db');
    const seedStart = performance.now();
    await seed(db);
    const figures: Figure[] = [
      { name: 'setup: seed', value: performance.now() - seedStart, unit: 'ms', note: `${EVENTS} events + ${INCIDENTS} incidents` },
    ];
    ctx.log(`seeded in ${figures[0]!.value.toFixed(0)} ms`);

    const config = loadConfig(
      {
        PORT: '0',
        HOST: '127.0.0.1',
        EDGEOPS_DB: db,
        EDGEOPS_POLICIES: path.join(packageRoot(), 'policies'),
        EDGEOPS_COMMANDS: path.join(packageRoot(), 'commands'),
        EDGEOPS_AUDIT_KEY: AUDIT_KEY,
        LOG_LEVEL: 'warn',
      },
      { cwd: ctx.workDir },
    );
    const logger = createLogger({ level: 'warn', destination: { write: () => undefined } });
    const catalog = bootCatalog(config);
    const app = createApp({
      config,
      logger,
      auditKey: AUDIT_KEY,
      catalog: () => catalog,
      env: { PATH: process.env.PATH },
      exportsDir: path.join(ctx.workDir, 'exports'),
    });
    const platform = mountPlatform(app, { auditKey: AUDIT_KEY });
    const { server, url } = startHttpServer({ routes: platform.routes, logger, port: 0, host: '127.0.0.1' });
    const base = await url;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    try {
      const link = new URL(await app.portalLink({ id: USER, groups: [] }, 'console'));
      const signIn = await fetch(`${base}/portal/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: link.searchParams.get('token')! }).toString(),
      });
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
      if (!cookie.startsWith('edgeops_portal=')) throw new Error(`sign-in failed: ${signIn.status}`);

      const serverTimes = async (page: string): Promise<{ ttfb: number; total: number; bytes: number }> => {
        const runs = [];
        for (let i = 0; i <= RUNS; i += 1) {
          const r = await timedGet(`${base}${page}`, cookie);
          if (r.status !== 200) throw new Error(`${page} answered ${r.status}`);
          if (i > 0) runs.push(r);
        }
        return { ttfb: median(runs.map((r) => r.ttfb)), total: median(runs.map((r) => r.total)), bytes: runs[0]!.bytes };
      };
      const incident = await serverTimes('/portal/incident?id=INC-1');
      ctx.log(`incident page: ttfb ${incident.ttfb.toFixed(1)} ms, whole ${incident.total.toFixed(1)} ms, ${incident.bytes} bytes`);
      const list = await serverTimes('/portal/incidents?status=all');
      ctx.log(`incidents page: ttfb ${list.ttfb.toFixed(1)} ms, whole ${list.total.toFixed(1)} ms`);
      const filtered = await serverTimes('/portal/incidents?status=all&service=auth&sev=2&q=Incident');
      const deep = await serverTimes('/portal/incidents?status=all&before=200');

      const context = await browser.newContext();
      const [name, value] = [cookie.slice(0, cookie.indexOf('=')), cookie.slice(cookie.indexOf('=') + 1)];
      await context.addCookies([{ name, value, url: base }]);
      const tab = await context.newPage();
      const wall: number[] = [];
      const parsed: number[] = [];
      const painted: number[] = [];
      for (let i = 0; i <= RUNS; i += 1) {
        const started = performance.now();
        await tab.goto(`${base}/portal/incident?id=INC-1`, { waitUntil: 'commit' });
        await tab.waitForSelector('#timeline li');
        const took = performance.now() - started;
        // The browser's own clock, from the start of navigation: the rows come in the HTML, so they are in the DOM once it is parsed.
        const timing = await tab.evaluate<{ interactive: number; fcp: number }>(
          `(() => ({ interactive: performance.getEntriesByType('navigation')[0].domInteractive, fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN }))()`,
        );
        if (i > 0) {
          wall.push(took);
          parsed.push(timing.interactive);
          painted.push(timing.fcp);
        }
      }
      await context.close();
      const browserMs = median(parsed);
      ctx.log(
        `browser, first timeline row in the DOM: ${parsed.map((t) => t.toFixed(0)).join(', ')} ms; first paint ${painted.map((t) => t.toFixed(0)).join(', ')} ms; seen by the driver ${wall.map((t) => t.toFixed(0)).join(', ')} ms`,
      );

      figures.push(
        { name: '100k-event incident page: server time to first byte', value: incident.ttfb, unit: 'ms', max: GOAL_MS },
        { name: '100k-event incident page: whole response', value: incident.total, unit: 'ms', note: `${(incident.bytes / 1024).toFixed(0)} KB` },
        { name: '100k-event incident page: Chromium, navigation to first timeline row in the DOM', value: browserMs, unit: 'ms', max: GOAL_MS },
        { name: '100k-event incident page: Chromium, navigation to first contentful paint', value: median(painted), unit: 'ms', max: GOAL_MS },
        {
          name: '100k-event incident page: Chromium, as the driver sees the first row',
          value: median(wall),
          unit: 'ms',
          note: 'includes DevTools-protocol round trips',
        },
        { name: '10k incidents page: server time to first byte', value: list.ttfb, unit: 'ms', max: GOAL_MS },
        { name: '10k incidents page: whole response', value: list.total, unit: 'ms' },
        { name: '10k incidents page, filtered by service, severity, title', value: filtered.total, unit: 'ms', max: GOAL_MS },
        { name: '10k incidents page, deep page (before=200)', value: deep.total, unit: 'ms', max: GOAL_MS },
      );
      return figures;
    } finally {
      await browser.close();
      await platform.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      app.store.close();
    }
  },
};
