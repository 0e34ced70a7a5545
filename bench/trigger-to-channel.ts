// Bench case: from a signed incident.triggered reaching `edgeops serve` to its diagnostic's output landing in the new Slack channel.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { BenchCase, BenchContext, Figure } from './bench-case.js';
import type { RecordedCall } from './fake-slack-api.js';

const SECRET = 'bench-webhook-secret-0123456789';
const SIGNING_SECRET = 'bench-signing-secret-0123456789abcdef';
const SEQUENTIAL = 100;
const WAVES = 5;
const WAVE_SIZE = 20;
/**
 * Opening an incident costs one conversations.create, conversations.setTopic and pins.add, each
 * Tier 2 (20 a minute per workspace): one incident every 3 s is what Slack lets anyone sustain,
 * and a wave of 20 spends a minute's allowance, refilled after 60 s.
 */
const SEQUENTIAL_GAP_MS = 3_000;
const WAVE_GAP_MS = 60_000;
const GOAL_MS = 2_000;
const FIND_TIMEOUT_MS = 120_000;
const MARKER = 'DIAG-OK';

const FAKE = fileURLToPath(new URL('./fake-slack-api.js', import.meta.url));

const POLICY = `version: 1
roles:
  pagerduty: { pagerduty_services: ["*"] }
rules:
  - roles: [pagerduty]
    allow: [run]
    procedures: ["diag-*"]
`;

// About 120 ms of work, then a line that names the PagerDuty incident, so its delivery can be found.
const DIAG = `name: diag-bench
description: A diagnostic that takes about 120 ms
owner: "@bench"
environments: [prod]
concurrency: "diag-bench-{{incident.pagerduty_id}}"
steps:
  - name: probe
    run: ["/bin/sleep", "0.12"]
  - name: report
    run: ["/bin/echo", "${MARKER}", "{{incident.pagerduty_id}}"]
triggers:
  - pagerduty: { event: incident.triggered, service: "Bench*" }
`;

const sign = (body: string): string => `v1=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

function triggered(pdId: string): string {
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
        service: { id: 'PSVCBENCH', summary: 'Bench Checkout', type: 'service_reference' },
        assignees: [{ id: 'PU1', summary: 'Ada', type: 'user_reference' }],
        escalation_policy: { id: 'PEP1', summary: 'Default', type: 'escalation_policy_reference' },
        priority: null,
        urgency: 'high',
        resolve_reason: null,
      },
    },
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: WAVE_SIZE });

function http(url: string, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, agent, headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

interface Child {
  line: string;
  stop(): Promise<void>;
}

/** Starts `node ARGS…` and resolves with the first stdout line `pick` accepts. */
function startChild(args: string[], env: NodeJS.ProcessEnv, cwd: string, pick: (line: string) => string | undefined): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: string): void => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const picked = pick(line);
        if (picked === undefined) continue;
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({
          line: picked,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        });
        return;
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code} before serving: ${stderr.trim().split('\n').pop() ?? ''}`)));
  });
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Follows the fake's record of calls; finds the accepted call that carried a PagerDuty incident's diagnostic output. */
function callLog(apiBase: string) {
  const seen: RecordedCall[] = [];
  const found = new Map<string, number>();
  let refused: Record<string, number> = {};
  const pattern = new RegExp(`${MARKER} (PB[\\w-]+)`);
  // One poll at a time, shared by every waiter: two reading from the same offset would skip calls.
  let polling: Promise<void> | undefined;
  const poll = (): Promise<void> => {
    polling ??= fetchNew().finally(() => {
      polling = undefined;
    });
    return polling;
  };
  async function fetchNew(): Promise<void> {
    const res = await http(`${apiBase}_bench/calls?since=${seen.length}`, { method: 'GET' });
    const body = JSON.parse(res.body) as { calls: RecordedCall[]; refused: Record<string, number> };
    refused = body.refused;
    for (const call of body.calls) {
      seen.push(call);
      const m = call.status === 200 && call.text ? pattern.exec(call.text) : null;
      if (m && !found.has(m[1]!)) found.set(m[1]!, call.at);
    }
  }
  return {
    async deliveredAt(pdId: string): Promise<number> {
      const deadline = Date.now() + FIND_TIMEOUT_MS;
      for (;;) {
        await poll();
        const at = found.get(pdId);
        if (at !== undefined) return at;
        if (Date.now() > deadline) throw new Error(`the diagnostic of ${pdId} never reached the channel`);
        await sleep(5);
      }
    },
    refusals: (): number => Object.values(refused).reduce((a, b) => a + b, 0),
    refusedByMethod: () => refused,
  };
}

function startServe(ctx: BenchContext, apiUrl: string): Promise<Child> {
  const dir = path.join(ctx.workDir, 'serve');
  mkdirSync(path.join(dir, 'policies'), { recursive: true });
  mkdirSync(path.join(dir, 'commands'), { recursive: true });
  writeFileSync(path.join(dir, 'policies', 'bench.yaml'), POLICY);
  writeFileSync(path.join(dir, 'commands', 'diag-bench.yaml'), DIAG);
  const env = {
    PATH: process.env.PATH ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    EDGEOPS_DB: path.join(dir, 'edgeops.db'),
    EDGEOPS_POLICIES: path.join(dir, 'policies'),
    EDGEOPS_COMMANDS: path.join(dir, 'commands'),
    EDGEOPS_AUDIT_KEY: 'c'.repeat(64),
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: apiUrl,
    PAGERDUTY_WEBHOOK_SECRETS: SECRET,
    LOG_LEVEL: 'warn',
  };
  return startChild([ctx.cli, 'serve'], { ...env, LOG_LEVEL: 'info' }, dir, (line) => {
    const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; url?: string }) : {};
    return entry.msg === 'listening' && entry.url ? entry.url : undefined;
  });
}

/** Each PagerDuty incident's diagnostic run time, as the server recorded it (the run's own duration). */
function runTimes(dbFile: string): Map<string, number> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT i.pagerduty_id AS pd, json_extract(a.payload, '$.duration_ms') AS ms
         FROM audit_log a JOIN incidents i ON i.id = a.incident_id WHERE a.kind = 'run.finished'`,
      )
      .all() as Array<{ pd: string; ms: number }>;
    return new Map(rows.map((r) => [r.pd, r.ms]));
  } finally {
    db.close();
  }
}

export const triggerToChannel: BenchCase = {
  name: 'trigger-to-channel',
  summary: `\`edgeops serve\` with Slack pointed at a fake Web API in its own process that enforces Slack's limits (429 + Retry-After: chat.postMessage 3 at once then 1/s per channel; Tier 2/3/4 per workspace), signed PagerDuty incident.triggered webhooks, a ~120 ms diagnostic triggered by each: ${SEQUENTIAL} incidents one after another (one every ${SEQUENTIAL_GAP_MS / 1000} s at most, Tier 2's sustained rate for channel creation) and ${WAVES} waves of ${WAVE_SIZE} at once (${WAVE_GAP_MS / 1000} s apart); time from the webhook sent to the Slack call carrying the diagnostic's output being accepted (chat.update of the run message, or chat.postMessage), minus the run's own duration; goal p99 < ${GOAL_MS} ms`,
  async run(ctx) {
    const fake = await startChild([FAKE], { PATH: process.env.PATH ?? '' }, ctx.workDir, (line) => /^listening (\d+)$/.exec(line.trim())?.[1]);
    const apiBase = `http://127.0.0.1:${fake.line}/`;
    let serve: Child | undefined;
    try {
      serve = await startServe(ctx, `${apiBase}api/`);
      const hook = `${serve.line}/webhooks/pagerduty`;
      const log = callLog(apiBase);
      const fire = async (pdId: string): Promise<number> => {
        const body = triggered(pdId);
        const sentAt = Date.now();
        const res = await http(hook, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-pagerduty-signature': sign(body) } });
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${res.body}`);
        return sentAt;
      };

      const sequential = new Map<string, number>();
      for (let i = 0; i < SEQUENTIAL; i += 1) {
        const pdId = `PBS${i}`;
        const sentAt = await fire(pdId);
        sequential.set(pdId, (await log.deliveredAt(pdId)) - sentAt);
        if ((i + 1) % 10 === 0) ctx.log(`sequential: ${i + 1}/${SEQUENTIAL}, last ${sequential.get(pdId)} ms (run included)`);
        await sleep(sentAt + SEQUENTIAL_GAP_MS - Date.now());
      }
      const sequentialRefused = log.refusals();
      ctx.log(`sequential: ${SEQUENTIAL} incidents, ${sequentialRefused} 429s ${JSON.stringify(log.refusedByMethod())}`);

      const burst = new Map<string, number>();
      for (let w = 0; w < WAVES; w += 1) {
        const waveStart = Date.now();
        await Promise.all(
          Array.from({ length: WAVE_SIZE }, async (_, j) => {
            const pdId = `PBW${w}-${j}`;
            const sentAt = await fire(pdId);
            burst.set(pdId, (await log.deliveredAt(pdId)) - sentAt);
          }),
        );
        ctx.log(`wave ${w + 1}/${WAVES} delivered in ${Date.now() - waveStart} ms`);
        if (w < WAVES - 1) await sleep(waveStart + WAVE_GAP_MS - Date.now());
      }
      const burstRefused = log.refusals() - sequentialRefused;
      ctx.log(`burst: ${burstRefused} 429s ${JSON.stringify(log.refusedByMethod())}`);
      await serve.stop();
      serve = undefined;

      const runs = runTimes(path.join(ctx.workDir, 'serve', 'edgeops.db'));
      const minusRun = (samples: Map<string, number>): number[] => [...samples].map(([pd, ms]) => ms - (runs.get(pd) ?? 0));
      const runMs = [...runs.values()];
      const seq = minusRun(sequential);
      const wav = minusRun(burst);
      const figures: Figure[] = [
        { name: 'diagnostic run itself, p50', value: percentile(runMs, 50), unit: 'ms', note: `${runMs.length} runs` },
        { name: 'diagnostic run itself, p99', value: percentile(runMs, 99), unit: 'ms' },
        { name: `one after another: trigger → output in channel, p50`, value: percentile(seq, 50), unit: 'ms', note: 'minus the run itself' },
        {
          name: `one after another: trigger → output in channel, p99`,
          value: percentile(seq, 99),
          unit: 'ms',
          max: GOAL_MS,
          note: `minus the run itself, ${SEQUENTIAL} incidents`,
        },
        { name: `one after another: trigger → output in channel, max`, value: Math.max(...seq), unit: 'ms', note: 'minus the run itself' },
        { name: 'one after another: raw p99 (run included)', value: percentile([...sequential.values()], 99), unit: 'ms' },
        { name: 'one after another: HTTP 429s received', value: sequentialRefused, unit: 'rows', max: 1, note: 'goal 0' },
        { name: `waves of ${WAVE_SIZE}: trigger → output in channel, p50`, value: percentile(wav, 50), unit: 'ms', note: 'minus the run itself' },
        {
          name: `waves of ${WAVE_SIZE}: trigger → output in channel, p99`,
          value: percentile(wav, 99),
          unit: 'ms',
          max: GOAL_MS,
          note: `minus the run itself, ${WAVES * WAVE_SIZE} incidents`,
        },
        { name: `waves of ${WAVE_SIZE}: trigger → output in channel, max`, value: Math.max(...wav), unit: 'ms', note: 'minus the run itself' },
        { name: `waves of ${WAVE_SIZE}: HTTP 429s received`, value: burstRefused, unit: 'rows' },
      ];
      return figures;
    } finally {
      await serve?.stop();
      await fake.stop();
      agent.destroy();
    }
  },
};
