// `edgeops serve` in Slack HTTP mode as a real child process on loopback (Slack's Web API a loopback stand-in), and raw-socket helpers for what fetch cannot send.
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnCli } from '../helpers/run-cli.js';
import { POLICY, RESTART_SERVICE, SIGNING_SECRET } from '../fixtures/slack/slack-harness.js';

export const PAGERDUTY_SECRET = 'pd-serve-process-secret-0123456789';
const AUTH_OK = { ok: true, user_id: 'U0BOT0001', bot_id: 'B0BOT0001', team_id: 'T0TEAM001' };

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  dir: string;
  /** True while the process has not exited. */
  alive(): boolean;
  /** JSON log lines written so far (stdout). */
  logs(): Array<Record<string, unknown>>;
  /** Resident memory of the process now, from /proc (Linux); undefined elsewhere. For information only. */
  rssBytes(): number | undefined;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Follows a started `edgeops serve` child: its JSON log lines, whether it still runs, its exit; and
 * resolves with the URL of its `listening` line (rejects, with its stderr, if it exits first).
 */
export async function untilListening(
  child: ChildProcess,
  label: string,
): Promise<{ url: string; logs: () => Array<Record<string, unknown>>; alive: () => boolean; exited: Promise<number | null> }> {
  let stdout = '';
  let stderr = '';
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const logs = (): Array<Record<string, unknown>> =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  let listening = false;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (listening) return;
      const line = logs().find((e) => e.msg === 'listening');
      if (typeof line?.url === 'string') {
        listening = true;
        resolve(line.url);
      }
    });
    void exited.then((code) => reject(new Error(`${label} exited ${code} before listening: ${stderr}`)));
  });
  return { url, logs, alive: () => exitCode === undefined, exited };
}

/** Slack's Web API for a child process (nock cannot reach into it): answers auth.test and everything else `ok`. */
async function fakeSlackApi(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '');
      const body = method === 'auth.test' ? AUTH_OK : method === 'usergroups.users.list' ? { ok: true, users: [] } : { ok: true };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, server };
}

/** Starts `edgeops serve` with Slack (HTTP mode) and PagerDuty webhooks configured, in a fresh folder. */
export async function startServeProcess(): Promise<ServeProcess & { close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-serve-process-'));
  mkdirSync(path.join(dir, 'policies'));
  mkdirSync(path.join(dir, 'commands'));
  writeFileSync(path.join(dir, 'policies', 'default.yaml'), POLICY);
  writeFileSync(path.join(dir, 'commands', 'restart-service.yaml'), RESTART_SERVICE);
  const api = await fakeSlackApi();
  const child = spawnCli(['serve'], {
    cwd: dir,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
      EDGEOPS_POLICIES: path.join(dir, 'policies'),
      EDGEOPS_COMMANDS: path.join(dir, 'commands'),
      EDGEOPS_AUDIT_KEY: 's'.repeat(64),
      SLACK_BOT_TOKEN: 'xoxb-serve-process',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: api.url,
      PAGERDUTY_WEBHOOK_SECRETS: PAGERDUTY_SECRET,
      LOG_LEVEL: 'info',
    },
  });
  const { url, logs, alive, exited } = await untilListening(child, 'edgeops serve');
  const stop = async (): Promise<number | null> => {
    if (alive()) child.kill('SIGTERM');
    return exited;
  };
  return {
    child,
    url,
    port: Number(new URL(url).port),
    dir,
    alive,
    logs,
    rssBytes() {
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        return kb === undefined ? undefined : Number(kb) * 1024;
      } catch {
        return undefined;
      }
    },
    stop,
    async close() {
      if (alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `v1=…` over the raw body, as PagerDuty signs a delivery. */
export const pagerdutySignature = (body: string | Buffer, secret: string = PAGERDUTY_SECRET): string =>
  `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** A PagerDuty V3 event whose JSON is `bytes` long (padded in its data), valid and ready to sign. */
export function pagerdutyPing(id: string, bytes = 0): string {
  const event = (pad: string) =>
    JSON.stringify({
      event: {
        id,
        event_type: 'pagey.ping',
        resource_type: 'pagey',
        occurred_at: new Date().toISOString(),
        agent: null,
        client: null,
        data: { type: 'ping', pad },
      },
    });
  const bare = Buffer.byteLength(event(''));
  return event('x'.repeat(Math.max(0, bytes - bare)));
}

export interface RawAnswer {
  /** Everything the server sent back, as latin1 text. */
  text: string;
  /** The status of the first response, or null when none came. */
  status: number | null;
  /** The server closed (or reset) the connection. */
  closed: boolean;
}

/** The status line's code and a header of an HTTP/1.1 answer read off a socket. */
export function statusOf(text: string): number | null {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
  return m ? Number(m[1]) : null;
}
export function headerOf(text: string, name: string): string | undefined {
  const head = text.split('\r\n\r\n')[0] ?? '';
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

/** A fresh connection that collects what the server sends; `answer` settles when the server closes it. */
export function openRaw(port: number): { socket: Socket; connected: Promise<void>; answer: Promise<RawAnswer>; received(): string } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  // Resets and broken pipes are how a server refuses a client still sending: recorded as closed.
  socket.on('error', () => undefined);
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const answer = new Promise<RawAnswer>((resolve) => socket.once('close', () => resolve({ text, status: statusOf(text), closed: true })));
  return { socket, connected, answer, received: () => text };
}

/**
 * Sends `bytes` on a fresh connection and returns what came back once the server closed it, or,
 * if it has not after `waitMs`, what came so far (the client then closes).
 */
export async function exchange(port: number, bytes: string | Buffer, waitMs = 5_000): Promise<RawAnswer> {
  const raw = openRaw(port);
  await raw.connected;
  raw.socket.write(bytes);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<RawAnswer>((resolve) => {
    timer = setTimeout(() => {
      const text = raw.received();
      raw.socket.destroy();
      resolve({ text, status: statusOf(text), closed: false });
    }, waitMs);
  });
  const result = await Promise.race([raw.answer, late]);
  clearTimeout(timer);
  return result;
}
