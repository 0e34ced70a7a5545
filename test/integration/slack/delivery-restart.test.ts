// kill -9 with messages pending: a real child process delivers to a loopback Slack stand-in, dies mid-call, restarts, loses nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { By } from '../../../src/core/ports.js';
import { cliEnv, PACKAGE_ROOT } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { makeRunFixture } from '../runs/run-fixture.js';

const CHILD = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'slack-delivery', 'delivery-child.mjs');
const BUILT = path.join(PACKAGE_ROOT, 'dist', 'src', 'adapters', 'slack', 'slack-delivery.js');
const AUDIT_KEY = 'a'.repeat(64);
const DEV: By = { actor: { id: 'U0DEV0001', groups: [] }, source: 'slack' };
const NOTES = 40;
const RAW = 15;
/** The incident channel's post that is left unanswered, and during which the child is killed. */
const HOLD_AT = 12;

interface Received {
  method: string;
  params: Record<string, string>;
}

/** A Slack Web API stand-in on 127.0.0.1 (nock cannot reach into another process). */
class SlackStandIn {
  readonly calls: Received[] = [];
  private server: Server;
  private held: ServerResponse | undefined;
  private waiters: Array<() => void> = [];
  holdPost: ((params: Record<string, string>, index: number) => boolean) | undefined;
  private posts = 0;

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`;
  }

  posted(channel?: string): string[] {
    return this.calls
      .filter((c) => c.method === 'chat.postMessage' && (channel === undefined || c.params.channel === channel))
      .map((c) => c.params.text!);
  }

  /** Resolves once `test` holds (checked after every call). */
  until(test: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (!test()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  async close(): Promise<void> {
    this.held?.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '');
      const params = Object.fromEntries(new URLSearchParams(body).entries());
      this.calls.push({ method, params });
      let answer: Record<string, unknown> = { ok: true };
      if (method === 'conversations.create') answer = { ok: true, channel: { id: 'C0INCIDENT', name: params.name } };
      if (method === 'chat.postMessage') {
        this.posts += 1;
        answer = { ok: true, channel: params.channel, ts: `1700000000.${String(this.posts).padStart(6, '0')}` };
        if (this.holdPost?.(params, this.posts)) {
          // Received, never answered: the child dies before it learns the message went out.
          this.held = res;
          this.holdPost = undefined;
          for (const w of [...this.waiters]) w();
          return;
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      for (const w of [...this.waiters]) w();
    });
  }

  get isHolding(): boolean {
    return this.held !== undefined;
  }
}

let slack: SlackStandIn | undefined;
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGKILL');
      await closed;
    }
  }
  await slack?.close();
  slack = undefined;
  removeTempDirs();
});

function startChild(env: Record<string, string>): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CHILD], { cwd: PACKAGE_ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  return { child, stderr: () => stderr };
}

const exited = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

/** Drops a message repeated right after itself: what an at-least-once resend looks like. */
const collapse = (list: string[]): string[] => list.filter((v, i) => i === 0 || list[i - 1] !== v);

describe('delivery across a kill -9', () => {
  it('sends every queued message after a restart, in order, with only the one in flight at the kill sent twice', async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first (\`npm test\` builds before it tests)`);
    const dir = makeTempDir('slack-restart');
    slack = new SlackStandIn();
    const apiUrl = await slack.listen();

    // Queue everything before any delivery process exists: an incident with its notes, and a plain channel.
    const fx = makeRunFixture(dir, { realClock: true });
    const incident = await fx.app.incidents.declare(DEV, { title: 'Kill me' });
    const expectedIncident = [`${incident.id} declared by <@U0DEV0001>: Kill me`];
    for (let i = 1; i <= NOTES; i += 1) {
      await fx.app.incidents.note(DEV, incident.id, `note-${i}`);
      expectedIncident.push(`<@U0DEV0001> note: note-${i}`);
    }
    const expectedRaw: string[] = [];
    for (let i = 1; i <= RAW; i += 1) {
      await fx.app.store.transaction(async () => {
        const event = await fx.app.store.audit.append({ actor: 'system', source: 'system', kind: 'test.queued', payload: { i } });
        await fx.app.store.outbox.enqueue({ causeSeq: event.seq, target: 'slack', channel: 'C0RAW', body: { kind: 'test.message', text: `raw-${i}` } });
      });
      expectedRaw.push(`raw-${i}`);
    }
    fx.app.close();

    const env = {
      EDGEOPS_DB: fx.dbPath,
      EDGEOPS_AUDIT_KEY: AUDIT_KEY,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: 'test-signing-secret',
      SLACK_API_URL: apiUrl,
      LOG_LEVEL: 'warn',
      PACE_MS: '5',
      RATE_LIMITS: 'off',
    };

    // First life: killed with SIGKILL while Slack holds the answer to one incident post.
    let heldText = '';
    slack.holdPost = (params) => {
      if (params.channel !== 'C0INCIDENT' || slack!.posted('C0INCIDENT').length < HOLD_AT) return false;
      heldText = params.text!;
      return true;
    };
    const first = startChild(env);
    await slack.until(() => slack!.isHolding, 'the held post');
    first.child.kill('SIGKILL');
    expect((await exited(first.child)).signal).toBe('SIGKILL');
    const beforeRestart = slack.posted('C0INCIDENT');
    expect(beforeRestart).toHaveLength(HOLD_AT);
    expect(heldText).toBe(expectedIncident[HOLD_AT - 1]);

    // Second life: picks up where the first stopped.
    const second = startChild(env);
    await slack.until(
      () => collapse(slack!.posted('C0INCIDENT')).length >= expectedIncident.length && collapse(slack!.posted('C0RAW')).length >= expectedRaw.length,
      'every message after the restart',
    );
    second.child.kill('SIGTERM');
    expect(await exited(second.child), second.stderr()).toEqual({ code: 0, signal: null });

    const incidentPosts = slack.posted('C0INCIDENT');
    // Exactly the message in flight at the kill came twice: it had reached Slack, but its "sent" never reached the database.
    expect(incidentPosts).toEqual([...expectedIncident.slice(0, HOLD_AT), ...expectedIncident.slice(HOLD_AT - 1)]);
    const rawPosts = slack.posted('C0RAW');
    expect(collapse(rawPosts)).toEqual(expectedRaw);
    expect(rawPosts.length - expectedRaw.length).toBeLessThanOrEqual(1);
    // The channel made in the first life was remembered: no second channel.
    expect(slack.calls.filter((c) => c.method === 'conversations.create')).toHaveLength(1);

    const db = new Database(fx.dbPath, { readonly: true });
    const states = db.prepare('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state').all();
    db.close();
    expect(states).toEqual([{ state: 'sent', n: 1 + NOTES + RAW }]);
  });
});
