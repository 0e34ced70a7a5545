// Several real `edgeops serve` processes on one PostgreSQL database, with one loopback stand-in for Slack's Web API that records what every replica posts.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { spawnCli } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { SIGNING_SECRET } from '../../fixtures/slack/slack-harness.js';
import { untilListening } from '../../reliability/serve-process.js';
import { harnessEnv, writeCatalog } from '../pagerduty/pd-harness.js';

const AUTH_OK = { ok: true, user_id: 'U0BOT0001', bot_id: 'B0BOT0001', team_id: 'T0TEAM001' };

/** One Web API call as the stand-in received it: the method, its arguments (JSON or form) and when. */
export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
}

export interface RecordingSlackApi {
  url: string;
  calls: ApiCall[];
  /** Where a command's late answer goes (`response_url`): `${base}/respond/<key>`. */
  responseUrl(key: string): string;
  /** The text of the late answer posted to `responseUrl(key)`, if any came. */
  response(key: string): string | undefined;
  /** The texts posted to a channel with chat.postMessage, in the order Slack received them. */
  posted(channel: string): string[];
  close(): Promise<void>;
}

function parseArgs(body: string, type: string | undefined): Record<string, unknown> {
  if (!body) return {};
  if (type?.startsWith('application/json')) return JSON.parse(body) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(body));
}

/** Slack's Web API for child processes (nock cannot reach into them): every call succeeds and is recorded. */
export async function startRecordingSlackApi(): Promise<RecordingSlackApi> {
  const calls: ApiCall[] = [];
  const responses = new Map<string, string>();
  let ts = 0;
  const channels = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const respond = /^\/respond\/([^/?]+)/.exec(req.url ?? '');
      if (respond) {
        const text = parseArgs(body, req.headers['content-type']).text;
        responses.set(respond[1]!, typeof text === 'string' ? text : '');
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
      const args = parseArgs(body, req.headers['content-type']);
      calls.push({ method, args, at: Date.now() });
      let answer: Record<string, unknown> = { ok: true };
      if (method === 'auth.test') answer = AUTH_OK;
      else if (method === 'usergroups.users.list') answer = { ok: true, users: [] };
      else if (method === 'conversations.create') {
        const name = String(args.name);
        const id = channels.get(name) ?? `C0INC${String(channels.size + 1).padStart(4, '0')}`;
        channels.set(name, id);
        answer = { ok: true, channel: { id, name } };
      } else if (method === 'chat.postMessage') {
        ts += 1;
        answer = { ok: true, channel: args.channel, ts: `1700000000.${String(ts).padStart(6, '0')}` };
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/api/`,
    calls,
    responseUrl: (key) => `${base}/respond/${key}`,
    response: (key) => responses.get(key),
    posted: (channel) => calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel).map((c) => String(c.args.text)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Replica {
  name: string;
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  url: string;
  alive(): boolean;
  /** JSON log lines written so far. */
  logs(): Array<Record<string, unknown>>;
  /** SIGTERM (or the signal given), then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `edgeops serve` in Slack HTTP mode with PagerDuty webhooks, on `databaseUrl`, in `dir`
 * (which holds `policies/` and `commands/`, shared by every replica as a deployment shares its image).
 */
export async function startReplica(options: {
  name: string;
  dir: string;
  databaseUrl: string;
  slackApiUrl: string;
  env?: Record<string, string>;
}): Promise<Replica> {
  const env = {
    ...harnessEnv(options.dir),
    EDGEOPS_DATABASE_URL: options.databaseUrl,
    SLACK_BOT_TOKEN: 'xoxb-replica-test',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: options.slackApiUrl,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const child = spawnCli(['serve'], { cwd: options.dir, env });
  const { url, logs, alive, exited } = await untilListening(child, `replica ${options.name}`);
  return {
    name: options.name,
    child,
    url,
    alive,
    logs,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (alive()) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Two replicas started together on a fresh database, with the Slack stand-in and the folder they share. */
export interface ReplicaPair {
  db: TestDatabase;
  dir: string;
  api: RecordingSlackApi;
  replicas: [Replica, Replica];
  /** Stops both replicas and the stand-in, drops the database and removes the folder. */
  stop(): Promise<void>;
}

/**
 * Replicas `a` and `b` of `edgeops serve` started at the same moment on a new database (so they
 * migrate it together), in a folder holding the test catalog with `procedures` and any extra `files`.
 */
export async function startReplicaPair(options: {
  label: string;
  procedures?: Record<string, string>;
  files?: Record<string, string>;
  env?: Record<string, string>;
}): Promise<ReplicaPair> {
  const db = await testDatabase(options.label);
  const dir = makeTempDir(options.label);
  writeCatalog(dir, options.procedures ?? {});
  for (const [file, text] of Object.entries(options.files ?? {})) writeFileSync(path.join(dir, file), text);
  const api = await startRecordingSlackApi();
  const replicas = (await Promise.all(
    ['a', 'b'].map((name) => startReplica({ name, dir, databaseUrl: db.url, slackApiUrl: api.url, ...(options.env ? { env: options.env } : {}) })),
  )) as [Replica, Replica];
  return {
    db,
    dir,
    api,
    replicas,
    async stop() {
      await Promise.all(replicas.map((r) => r.stop()));
      await api.close();
      await db.drop();
      removeTempDirs();
    },
  };
}
