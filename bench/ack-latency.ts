// Bench case: ack latency of signed `/incident note` commands against `edgeops serve` (Slack mode) and a bare Bolt app that only acks.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { slackSignature } from '../src/adapters/slack/verify-signature.js';
import type { BenchCase, BenchContext, Figure } from './bench-case.js';

const N = 2_000;
const CONCURRENCY = 20;
/** Requests per side before measuring, so both run warm. */
const WARMUP = 200;
const GOAL_RATIO = 1.3;
const GOAL_MAX_MS = 3_000;
const SECRET = 'bench-signing-secret-0123456789abcdef';
const USER = 'U0BENCH01';

interface Stats {
  p50: number;
  p99: number;
  max: number;
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

/** Slack's Web API as far as the server and its delivery need it: every call succeeds. */
export function fakeSlackApi(): Promise<{ server: Server; url: string }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n += 1;
      const method = (req.url ?? '').replace(/^\/api\//, '');
      const body: Record<string, unknown> = { ok: true };
      if (method === 'auth.test') Object.assign(body, { user_id: 'U0BOT0001', bot_id: 'B0BOT0001', team_id: 'T0BENCH01' });
      if (method === 'usergroups.users.list') body.users = [];
      if (method === 'conversations.create') body.channel = { id: 'C0BENCH01', name: 'inc-1-bench' };
      if (method === 'chat.postMessage') body.ts = `1700000000.${String(n).padStart(6, '0')}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/` })),
  );
}

function commandBody(i: number, text: string, command = '/incident'): string {
  return new URLSearchParams({
    token: 'x',
    team_id: 'T0BENCH01',
    channel_id: 'C0GENERAL1',
    user_id: USER,
    command,
    text,
    response_url: 'http://127.0.0.1:9/respond',
    trigger_id: `1.2.${i}`,
  }).toString();
}

/** One signed POST; resolves with the time from sending to the whole answer, failing on anything but 200. */
function send(agent: Agent, url: string, body: string): Promise<number> {
  const ts = String(Math.floor(Date.now() / 1000));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.setHeader('content-type', 'application/x-www-form-urlencoded');
    req.setHeader('x-slack-request-timestamp', ts);
    req.setHeader('x-slack-signature', slackSignature(SECRET, ts, body));
    req.end(body);
  });
}

/** `count` commands, `CONCURRENCY` at a time over `agent`'s connections; the latency of each. */
export async function fire(
  agent: Agent,
  url: string | ((i: number) => string),
  count: number,
  offset: number,
  command: string,
  text: (i: number) => string,
): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = offset + next;
      next += 1;
      samples.push(await send(agent, typeof url === 'string' ? url : url(i), commandBody(i, text(i), command)));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return samples;
}

export const NOTE = (i: number): string => `note incident=INC-1 "latency probe ${i}: p99 at 180 ms"`;

export interface Child {
  url: string;
  stop(): Promise<void>;
}

/** Starts `node ARGS…` and resolves once a stdout line yields the URL to send to. */
function startChild(args: string[], env: NodeJS.ProcessEnv, cwd: string, urlOf: (line: string) => string | undefined): Promise<Child> {
  const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: string): void => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const url = urlOf(line);
        if (!url) continue;
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve({
          url,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        });
        return;
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code} before serving: ${stderr.trim().split('\n').pop() ?? ''}`)));
  });
}

/**
 * `edgeops serve` in Slack HTTP mode, as deployed: its own process, JSON logs on stdout; `env` adds
 * settings (a PostgreSQL URL, webhook secrets), `name` its folder. `url` is its Slack events URL.
 */
export function startOurs(ctx: BenchContext, apiUrl: string, options: { name?: string; env?: Record<string, string> } = {}): Promise<Child> {
  const dir = path.join(ctx.workDir, options.name ?? 'ours');
  mkdirSync(path.join(dir, 'policies'), { recursive: true });
  mkdirSync(path.join(dir, 'commands'), { recursive: true });
  writeFileSync(
    path.join(dir, 'policies', 'bench.yaml'),
    `version: 1\nroles:\n  responder: { users: [${USER}] }\nrules:\n  - roles: ["*"]\n    allow: [incident.declare, incident.update, incident.note]\n`,
  );
  const env = {
    PATH: process.env.PATH ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    EDGEOPS_DB: path.join(dir, 'edgeops.db'),
    EDGEOPS_POLICIES: path.join(dir, 'policies'),
    EDGEOPS_COMMANDS: path.join(dir, 'commands'),
    EDGEOPS_AUDIT_KEY: 'b'.repeat(64),
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: apiUrl,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  return startChild([ctx.cli, 'serve'], env, dir, (line) => {
    const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; url?: string }) : {};
    return entry.msg === 'listening' && entry.url ? `${entry.url}/slack/events` : undefined;
  });
}

/** The baseline: Bolt's own HTTP receiver and signature check, a listener that only acks, in its own process. */
export function startBare(ctx: BenchContext, apiUrl: string): Promise<Child> {
  const script = path.join(ctx.workDir, 'bare-bolt.mjs');
  writeFileSync(
    script,
    [
      `import bolt from ${JSON.stringify(import.meta.resolve('@slack/bolt'))};`,
      `const app = new bolt.App({ token: 'xoxb-bench', signingSecret: ${JSON.stringify(SECRET)}, logLevel: bolt.LogLevel.ERROR,`,
      `  clientOptions: { slackApiUrl: ${JSON.stringify(apiUrl)}, retryConfig: { retries: 0 } } });`,
      `app.command('/incident', async ({ ack }) => { await ack(); });`,
      `const server = await app.start({ port: 0, host: '127.0.0.1' });`,
      `console.log('listening ' + server.address().port);`,
      `process.once('SIGTERM', () => app.stop().then(() => process.exit(0)));`,
    ].join('\n'),
  );
  return startChild([script], { PATH: process.env.PATH ?? '' }, ctx.workDir, (line) => {
    const m = /^listening (\d+)$/.exec(line.trim());
    return m ? `http://127.0.0.1:${m[1]}/slack/events` : undefined;
  });
}

export const ackLatency: BenchCase = {
  name: 'ack-latency',
  summary: `${N.toLocaleString('en')} signed \`/incident note\` commands, ${CONCURRENCY} concurrent, against \`edgeops serve\` in Slack HTTP mode (signature, groups, policy, durable audit row, outbox, ephemeral ack; delivery running) and against a bare Bolt app that only acks, each server in its own process, with \`/incident help\` (no write) on the same server as a third series, alternated in two rounds after ${WARMUP} warm-up requests each, every series on its own ${CONCURRENCY} keep-alive connections opened in its warm-up; goal: edgeops p99 ≤ ${GOAL_RATIO}× bare Bolt, never above ${GOAL_MAX_MS} ms`,
  notes: [
    "Where the time goes (`node --cpu-prof` on the served process, 2,200 notes at 20 concurrent, on a quiet machine): a note costs ~0.6 ms more CPU than `/incident help` on the same server (~1.45 against ~0.85 ms per request under the profiler). Of that, the SQLite transaction takes 0.31 ms (audit append with its HMAC 0.11 ms, incident read 0.07 ms, incident update, outbox insert, commit), a second read of the incident for the access check 0.06 ms, extra garbage collection 0.06 ms, the outbox sender's wake-up scans 0.04 ms. With 20 requests queued on one event loop, that is ~6 ms at p50.",
    'The wait: no answer leaves before the shared fdatasync of the log covering its commit has returned. It runs on the thread pool, and a note waits for the sync in flight, then for its own. Timed inside the server: p50 4.5 ms and p99 18–31 ms on a quiet machine, p50 17–34 ms and p99 190–280 ms under load (load average 11–14 on 2 cores). Bare Bolt waits for no disk. This part of the ratio cannot go below 1× and grows with disk contention.',
    "Stalls: the slow samples came in groups of ~20 equal latencies, meaning every request in flight was held up together. The regular ones, every ~145 notes, came from SQLite's automatic checkpoint. The commit that takes the log past 1,000 pages copies it into the database file and syncs both files on the event loop: 2–6 ms on a quiet machine, p50 8–9 ms and up to 38 ms under load. `edgeops serve` now checkpoints from a worker thread, so commits only append. The spikes at the start of each round were connection accepts, on both sides. Each series now keeps its keep-alive connections from its warm-up on.",
    'Figures above: one run at load average 12. Of the runs with every figure recorded, its ratio (1.81×) is nearest the median of nine runs of this code at load average 9–12. Those ratios were 0.96×, 1.13×, 1.23×, 1.32×, 1.81×, 1.77×, 2.23×, 1.93× and 1.76× (median 1.76×). Three more at load average 6 gave 2.04×, 2.12× and 1.14×, with the write-free `/incident help` itself at 2.14× in one of them. **The goal is not met.** A/B against the server before the background checkpoints, with this same bench and interleaved, at load average 9–11: note p99 214–579 ms before and 167–416 ms after, ratio 1.26–1.86× before and 1.76–2.23× after. At this load the noise hides any difference. Removing the checkpoint from the commit shows only in the commit times (mean main-thread commit 0.54–0.58 ms → 0.38–0.46 ms over 3,000 notes).',
    "Stage by stage inside the server (timestamps around each stage, load 6): reading, signature, parsing, Bolt, policy and transaction p50 0.6 ms together (no step's p99 above 7.4 ms); the wait for the log's fdatasync p50 16.6 ms, p99 85.6 ms; writing the answer p50 0.9 ms; in all p50 19.3 ms, p99 91.1 ms, against 0.31 ms and 12.2 ms for `/incident help`. Changed since: a note's sync starts at the end of its turn without waiting for the sync in flight (which began before its commit and cannot cover it; that wait was about half of the fdatasync wait), two at most at once; and the outbox sender's sent and retry marks, each an fdatasync on the event loop before (mean 15–24 ms, catching 12–19% of the notes in flight), commit without a sync of their own, covered by the next one. Figures before and after: \"Where the ack time goes\" in bench/RESULTS.md.",
    'Not done yet, and why: moving the write connection to a worker thread with batched commits would take the transaction (p50 0.23 ms, but p99 7 ms at load 6 and 35–38 ms at load 20) off the event loop, but not the fdatasync wait, which dominates under load.',
  ],
  async run(ctx) {
    const api = await fakeSlackApi();
    const ours = await startOurs(ctx, api.url);
    const bare = await startBare(ctx, api.url).catch(async (err: unknown) => {
      await ours.stop();
      throw err;
    });
    try {
      const agent = new Agent({ keepAlive: false });
      await send(agent, ours.url, commandBody(0, 'declare "Bench incident" sev=3'));
      // Three series: the measured one; the same server answering `/incident help`, which writes nothing,
      // to show what the Slack layer alone adds; and the bare Bolt baseline. Alternated so drift falls on all three.
      // Each series keeps its own keep-alive connections (CONCURRENCY of them) from warm-up to the end, as Slack's
      // senders reuse theirs: accepting new connections (a spike on both sides) falls in the warm-up.
      const keptAlive = (): Agent => new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      const series = [
        { name: 'edgeops /incident note', url: ours.url, command: '/incident', text: NOTE, agent: keptAlive(), samples: [] as number[] },
        { name: 'bare Bolt', url: bare.url, command: '/incident', text: NOTE, agent: keptAlive(), samples: [] as number[] },
        { name: 'edgeops help (no write)', url: ours.url, command: '/incident', text: () => 'help', agent: keptAlive(), samples: [] as number[] },
      ];
      for (const s of series) await fire(s.agent, s.url, WARMUP, 1, s.command, s.text);
      const half = N / 2;
      for (let round = 0; round < 2; round += 1) {
        for (const s of series) s.samples.push(...(await fire(s.agent, s.url, half, WARMUP + 1 + round * half, s.command, s.text)));
      }
      for (const s of series) s.agent.destroy();
      const [note, baseline, help] = series.map((s) => ({ name: s.name, ...stats(s.samples) }));
      const ratio = note!.p99 / baseline!.p99;
      const layerRatio = help!.p99 / baseline!.p99;
      for (const r of [note!, baseline!, help!]) {
        ctx.log(`${r.name.padEnd(27)} p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms`);
      }
      ctx.log(`p99 ratio /incident note : bare Bolt = ${ratio.toFixed(2)}× (goal ≤ ${GOAL_RATIO}×); help : bare Bolt = ${layerRatio.toFixed(2)}×`);
      const figures: Figure[] = [
        { name: 'edgeops note: ack p50', value: note!.p50, unit: 'ms' },
        {
          name: 'edgeops note: ack p99',
          value: note!.p99,
          unit: 'ms',
          max: GOAL_MAX_MS,
          ratio: { of: "bare Bolt's p99", value: ratio, max: GOAL_RATIO },
          note: `${ratio.toFixed(2)}× bare Bolt's p99`,
        },
        { name: 'edgeops note: ack max', value: note!.max, unit: 'ms', max: GOAL_MAX_MS },
        { name: 'bare Bolt: ack p50', value: baseline!.p50, unit: 'ms' },
        { name: 'bare Bolt: ack p99', value: baseline!.p99, unit: 'ms' },
        { name: 'bare Bolt: ack max', value: baseline!.max, unit: 'ms' },
        {
          name: 'edgeops /incident help (no write): ack p99',
          value: help!.p99,
          unit: 'ms',
          note: `${layerRatio.toFixed(2)}× bare Bolt's p99: the Slack layer alone`,
        },
      ];
      return figures;
    } finally {
      await bare.stop();
      await ours.stop();
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
    }
  },
};
