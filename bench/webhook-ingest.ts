// Bench case: signed PagerDuty webhooks into the real server (vs a bare HMAC route), and trigger-to-result latency.
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createHttpServer, listen } from '../src/adapters/http/http-server.js';
import { mountPagerduty } from '../src/adapters/pagerduty/index.js';
import { verifyPagerdutySignature } from '../src/adapters/pagerduty/verify-signature.js';
import { createApp } from '../src/app.js';
import { bootCatalog } from '../src/cli/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import type { BenchCase, Figure } from './bench-case.js';

export const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
const SECRET = WEBHOOK_SECRET;
const CONCURRENCY = 20;
const EVENTS = 4_000;
const WARMUP = 300;
const INCIDENTS = 100;
const GOAL_RATIO = 0.5;
const GOAL_LATENCY_MS = 2_000;

const POLICY = `version: 1
roles:
  pagerduty: { pagerduty_services: ["*"] }
rules:
  - roles: [pagerduty]
    allow: [run]
    procedures: ["diag-*"]
`;

// Fires only for the latency part's service; the throughput part's events open incidents and run nothing.
const DIAG = `name: diag-bench
description: A quick diagnostic
owner: "@bench"
environments: [prod]
concurrency: "diag-bench-{{incident.pagerduty_id}}"
steps:
  - name: check
    run: ["/bin/echo", "ok"]
triggers:
  - pagerduty: { event: incident.triggered, service: "Bench Latency" }
`;

const sign = (body: string): string => `v1=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

function triggered(pdId: string, service: string): string {
  return JSON.stringify({
    event: {
      id: randomUUID(),
      event_type: 'incident.triggered',
      resource_type: 'incident',
      occurred_at: new Date().toISOString(),
      agent: { id: 'PBENCH1', summary: 'Bench Agent', type: 'user_reference' },
      client: null,
      data: {
        id: pdId,
        type: 'incident',
        html_url: `https://acme.pagerduty.com/incidents/${pdId}`,
        number: 1,
        status: 'triggered',
        title: `Bench incident ${pdId}`,
        service: { id: `PSVC-${service.replace(/\W/g, '')}`, summary: service, type: 'service_reference' },
        assignees: [{ id: 'PU1', summary: 'Ada', type: 'user_reference' }],
        escalation_policy: { id: 'PEP1', summary: 'Default', type: 'escalation_policy_reference' },
        priority: null,
        urgency: 'high',
        resolve_reason: null,
      },
    },
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-pagerduty-signature': sign(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The load generator, run in its own process as PagerDuty is another machine: the server under test
 * does not share its event loop with the sender. Bodies are made and signed before the clock starts.
 * argv: url, count, secret, concurrency, incident-id prefix, service. Prints events per second.
 */
const LOAD_GENERATOR = `
import { createHmac, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
const [url, count, secret, concurrency, prefix, service] = process.argv.slice(1);
const n = Number(count);
const agent = new Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const bodies = Array.from({ length: n }, (_, i) => JSON.stringify({ event: {
  id: randomUUID(), event_type: 'incident.triggered', resource_type: 'incident', occurred_at: new Date().toISOString(),
  agent: { id: 'PBENCH1', summary: 'Bench Agent', type: 'user_reference' }, client: null,
  data: { id: prefix + i, type: 'incident', html_url: 'https://acme.pagerduty.com/incidents/' + prefix + i, number: i, status: 'triggered',
    title: 'Bench incident ' + prefix + i, service: { id: 'PSVCBENCH', summary: service, type: 'service_reference' },
    assignees: [{ id: 'PU1', summary: 'Ada', type: 'user_reference' }], escalation_policy: { id: 'PEP1', summary: 'Default' },
    priority: null, urgency: 'high', resolve_reason: null } } }));
const signatures = bodies.map((b) => 'v1=' + createHmac('sha256', secret).update(b).digest('hex'));
const post = (i) => new Promise((resolve, reject) => {
  const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-pagerduty-signature': signatures[i] } }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', reject);
  req.end(bodies[i]);
});
let next = 0;
const started = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, async () => {
  while (next < n) {
    const status = await post(next++);
    if (status < 200 || status >= 300) throw new Error('webhook answered ' + status);
  }
}));
process.stdout.write(String((n / (performance.now() - started)) * 1000));
process.exit(0);
`;

/** Sends `count` signed incident.triggered events from another process, CONCURRENCY at a time; returns events per second. */
export function blast(url: string, count: number, prefix: string, service = 'Bench Throughput'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', LOAD_GENERATOR, url, String(count), SECRET, String(CONCURRENCY), prefix, service],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`load generator failed: ${err.split('\n')[0] ?? code}`))));
  });
}

/** The least a webhook route can do: read the body, check the HMAC, answer 202. */
export async function bareRoute(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ok = verifyPagerdutySignature(req.headers['x-pagerduty-signature'], Buffer.concat(chunks), [SECRET]).ok;
      res.writeHead(ok ? 202 : 401, { 'content-type': 'application/json' }).end(ok ? '{"status":"accepted"}' : '{"error":"invalid signature"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/pagerduty` };
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

export const webhookIngest: BenchCase = {
  name: 'webhook-ingest',
  summary: `signed PagerDuty webhooks at ${CONCURRENCY} concurrent from a separate load-generator process into the real server (durable store + audit row before each 202, the worker processing alongside) vs a bare node:http route doing only the HMAC, median of 3 rounds of ${EVENTS}; and, over ${INCIDENTS} incidents one after another, the time from a signed incident.triggered arriving to its diagnostic's result message being queued for the new incident channel, minus the procedure's own run time`,
  async run(ctx) {
    const dir = ctx.workDir;
    mkdirSync(path.join(dir, 'policies'), { recursive: true });
    mkdirSync(path.join(dir, 'commands'), { recursive: true });
    writeFileSync(path.join(dir, 'policies', 'bench.yaml'), POLICY);
    writeFileSync(path.join(dir, 'commands', 'diag-bench.yaml'), DIAG);
    chmodSync(path.join(dir, 'commands'), 0o755);
    const config = loadConfig(
      {
        EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
        EDGEOPS_POLICIES: path.join(dir, 'policies'),
        EDGEOPS_COMMANDS: path.join(dir, 'commands'),
        PAGERDUTY_WEBHOOK_SECRETS: SECRET,
      },
      { cwd: dir },
    );
    const catalog = bootCatalog(config);
    const logger = createLogger({ level: 'silent' });
    const app = createApp({ config, logger, auditKey: 'w'.repeat(64), catalog: () => catalog, env: { PATH: process.env.PATH } });
    const pd = mountPagerduty(app, config, logger);
    const server = createHttpServer({ routes: pd.routes, logger });
    const url = `${await listen(server, 0, '127.0.0.1')}/webhooks/pagerduty`;
    pd.start();
    const bare = await bareRoute();
    try {
      // Warm both (JIT), then measure each in turn, three times, keeping the median of each.
      await blast(bare.url, WARMUP, 'PWARMB');
      await blast(url, WARMUP, 'PWARME');
      await pd.processed();
      const bareRates: number[] = [];
      const ourRates: number[] = [];
      for (const round of [1, 2, 3]) {
        bareRates.push(await blast(bare.url, EVENTS, `PBARE${round}-`));
        ourRates.push(await blast(url, EVENTS, `PEDGE${round}-`));
        // The backlog the burst left is processed before the next round, as it would be after a real one.
        await pd.processed();
      }
      const bareRate = median(bareRates);
      const ourRate = median(ourRates);
      ctx.log(`edgeops ${ourRate.toFixed(0)} events/s, bare HMAC route ${bareRate.toFixed(0)} events/s (${((ourRate / bareRate) * 100).toFixed(0)}%)`);

      // Headline: one incident at a time, from the request leaving to the result message in the outbox.
      const latencies: number[] = [];
      const resultQueued = app.store.db.prepare(
        'SELECT created_at FROM outbox WHERE target = \'slack\' AND channel = ? AND body LIKE \'%"kind":"run.finished"%\' ORDER BY id LIMIT 1',
      );
      for (let i = 0; i < INCIDENTS; i += 1) {
        const pdId = `PLAT${i}`;
        const sentAt = Date.now();
        const status = await post(url, triggered(pdId, 'Bench Latency'));
        if (status !== 202) throw new Error(`webhook answered ${status}`);
        let row: { created_at: number } | undefined;
        for (;;) {
          const incident = await app.store.incidents.byPagerdutyId(pdId);
          row = incident ? (resultQueued.get(`incident:${incident.id}`) as { created_at: number } | undefined) : undefined;
          if (row) break;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const incident = (await app.store.incidents.byPagerdutyId(pdId))!;
        const [run] = await app.runs.forIncident(incident.id);
        await app.runs.idle();
        const runMs = run && run.startedAt !== null ? (await app.runs.get(run.id)).finishedAt! - run.startedAt : 0;
        latencies.push(row.created_at - sentAt - runMs);
      }
      const p50 = percentile(latencies, 50);
      const p99 = percentile(latencies, 99);
      ctx.log(`trigger → result queued, minus run time: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`);

      const figures: Figure[] = [
        { name: `bare node:http HMAC route, ${CONCURRENCY} concurrent`, value: bareRate, unit: 'rows/s', note: 'signed events/s' },
        {
          name: `edgeops /webhooks/pagerduty, ${CONCURRENCY} concurrent`,
          value: ourRate,
          unit: 'rows/s',
          min: Math.round(bareRate * GOAL_RATIO),
          note: `signed events/s, ${((ourRate / bareRate) * 100).toFixed(0)}% of the bare route; goal ≥ ${GOAL_RATIO * 100}%`,
        },
        { name: 'incident.triggered → diagnostic result queued, p50', value: p50, unit: 'ms', note: 'minus the run itself' },
        {
          name: 'incident.triggered → diagnostic result queued, p99',
          value: p99,
          unit: 'ms',
          max: GOAL_LATENCY_MS,
          note: `minus the run itself, ${INCIDENTS} incidents`,
        },
      ];
      return figures;
    } finally {
      await pd.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => bare.server.close(() => resolve()));
      bare.server.closeAllConnections();
      agent.destroy();
      await app.runs.idle();
      app.close();
    }
  },
};
