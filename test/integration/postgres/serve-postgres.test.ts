// `edgeops serve` on PostgreSQL as a real process: signed Slack commands, an approval click and a PagerDuty event over loopback; the record lands in PostgreSQL and verifies.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORM, RESTART_SERVICE, SIGNING_SECRET, USERS, clickBody, commandBody, post, signedHeaders } from '../../fixtures/slack/slack-harness.js';
import { runCli, spawnCli } from '../../helpers/run-cli.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { sign, triggeredBody } from '../pagerduty/pd-harness.js';

const KEY = 'q'.repeat(64);
const PD_SECRET = 'pd-serve-postgres-secret-0123456789';
const GENERAL = 'C0GENERAL1';

/** The Slack harness's people and rules, and PagerDuty allowed to declare. */
const POLICY = `version: 1
roles:
  sre-oncall: { users: [${USERS.sre}], groups: [S0SREONCALL] }
  developer: { groups: [S0DEVS] }
  pagerduty: { pagerduty_services: ["*"] }
rules:
  - roles: ["*"]
    allow: [incident.declare, incident.update, incident.note, incident.resolve, incident.view, runbook.list, runbook.status]
  - roles: [developer]
    allow: [run]
    procedures: [restart-service]
    environments: [prod]
    approval: { roles: [sre-oncall], count: 1 }
  - roles: [sre-oncall]
    allow: ["*"]
`;

const RESTART_SCRIPT = `#!/bin/sh
echo "restarting $1 $2"
mkdir -p ./out && echo "$1 $2" >> ./out/restarted
`;

/** Slack for a child process: the Web API calls it answers and records, and the response_url replies it receives. */
async function fakeSlack(): Promise<{
  base: string;
  calls: Array<{ method: string; body: string }>;
  replies: Array<Record<string, unknown>>;
  server: Server;
}> {
  const calls: Array<{ method: string; body: string }> = [];
  const replies: Array<Record<string, unknown>> = [];
  const groups: Record<string, string[]> = { S0DEVS: [USERS.dev], S0SREONCALL: [] };
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const url = req.url ?? '';
      if (url.startsWith('/respond/')) {
        replies.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const method = url.replace(/^\/api\//, '');
      calls.push({ method, body });
      const args = new URLSearchParams(body);
      const answers: Record<string, Record<string, unknown>> = {
        'auth.test': { ok: true, user_id: 'U0BOT0001', bot_id: 'B0BOT0001', team_id: 'T0TEAM001' },
        'usergroups.users.list': { ok: true, users: groups[args.get('usergroup') ?? ''] ?? [] },
        'conversations.create': { ok: true, channel: { id: 'C0INC0001', name: args.get('name') } },
        'chat.postMessage': { ok: true, channel: args.get('channel'), ts: `1700000000.${String(calls.length).padStart(6, '0')}` },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[method] ?? { ok: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, replies, server };
}

/** `body` (a command or a click) with its response_url pointed at the fake Slack. */
function replyingTo(base: string, body: string): string {
  const form = new URLSearchParams(body);
  const payload = form.get('payload');
  if (payload === null) {
    form.set('response_url', `${base}/respond/${new URL(form.get('response_url')!).pathname.split('/').slice(2).join('/')}`);
  } else {
    const p = JSON.parse(payload) as { response_url: string };
    p.response_url = `${base}/respond/${new URL(p.response_url).pathname.split('/').slice(2).join('/')}`;
    form.set('payload', JSON.stringify(p));
  }
  return form.toString();
}

async function until<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1_500; i++) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('edgeops serve with EDGEOPS_DATABASE_URL', () => {
  let db: TestDatabase;
  let dir: string;
  let client: pg.Client;
  beforeAll(async () => {
    db = await testDatabase('serve');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    dir = mkdtempSync(path.join(tmpdir(), 'edgeops-serve-pg-'));
    mkdirSync(path.join(dir, 'policies'));
    mkdirSync(path.join(dir, 'commands', 'scripts'), { recursive: true });
    writeFileSync(path.join(dir, 'policies', 'default.yaml'), POLICY);
    writeFileSync(path.join(dir, 'commands', 'restart-service.yaml'), RESTART_SERVICE);
    writeFileSync(path.join(dir, 'commands', 'scripts', 'restart.sh'), RESTART_SCRIPT);
    chmodSync(path.join(dir, 'commands', 'scripts', 'restart.sh'), 0o755);
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves Slack and PagerDuty on PostgreSQL: every row there, the audit chain verifies, nothing in the SQLite file', async () => {
    const slack = await fakeSlack();
    const sqliteFile = path.join(dir, 'data', 'edgeops.db');
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      EDGEOPS_DATABASE_URL: db.url,
      EDGEOPS_DB: sqliteFile,
      EDGEOPS_POLICIES: path.join(dir, 'policies'),
      EDGEOPS_COMMANDS: path.join(dir, 'commands'),
      EDGEOPS_AUDIT_KEY: KEY,
      SLACK_BOT_TOKEN: 'xoxb-serve-postgres',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: `${slack.base}/api/`,
      PAGERDUTY_WEBHOOK_SECRETS: PD_SECRET,
      LOG_LEVEL: 'info',
    };
    const child = spawnCli(['serve'], { env, cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const logs = (): Array<Record<string, unknown>> =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          const listening = logs().find((e) => e.msg === 'listening');
          if (typeof listening?.url === 'string') resolve(listening.url);
        });
        void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
      });
      const password = new URL(db.url).password;
      expect(logs().find((e) => e.msg === 'using PostgreSQL')).toMatchObject({
        backend: 'postgres',
        database: `postgres://postgres:***@${new URL(db.url).host}/${db.name}`,
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);

      const send = async (body: string): Promise<string> => {
        const signed = replyingTo(slack.base, body);
        const before = slack.replies.length;
        const res = await post(`${url}/slack/events`, signed, { 'content-type': FORM, ...signedHeaders(signed) });
        expect(res.status).toBe(200);
        if (res.body) return String((JSON.parse(res.body) as { text: unknown }).text);
        return String((await until('the reply', async () => slack.replies[before])).text);
      };
      expect(await send(commandBody(USERS.sre, GENERAL, '/incident', 'declare "Checkout 5xx after deploy" sev=2 service=checkout'))).toContain(
        'INC-1 declared (SEV2)',
      );
      expect(await send(commandBody(USERS.sre, GENERAL, '/incident', 'note "Rolling back the deploy" incident=INC-1'))).toContain('INC-1');
      expect(await send(commandBody(USERS.sre, GENERAL, '/incident', 'ack incident=INC-1'))).toContain('INC-1');
      expect(await send(commandBody(USERS.sre, GENERAL, '/incident', 'ack incident=INC-1'))).toMatch(/INC-1 was already acknowledged/);
      expect(
        await send(commandBody(USERS.dev, GENERAL, '/runbook', 'run restart-service service=checkout instance=web-01 env=prod incident=INC-1')),
      ).toMatch(/^R-1 waits for approval: restart-service in prod/);
      expect(await send(clickBody(USERS.sre, GENERAL, 'run_approve', 'R-1'))).toBe('Approved R-1; it is starting.');
      await until('R-1 to succeed', async () =>
        (await client.query<{ state: string }>("SELECT state FROM runs WHERE id = 'R-1'")).rows[0]?.state === 'succeeded' ? true : undefined,
      );

      const event = triggeredBody('PINC900', { title: 'Checkout latency above 2s' });
      const delivered = await fetch(`${url}/webhooks/pagerduty`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-pagerduty-signature': sign(event, PD_SECRET) },
        body: event,
      });
      expect(delivered.status).toBe(202);
      const opened = await until('the PagerDuty incident', async () => {
        const { rows } = await client.query<{ id: string; title: string; declared_by: string }>(
          "SELECT id, title, declared_by FROM incidents WHERE pagerduty_id = 'PINC900'",
        );
        return rows[0];
      });
      expect(opened).toEqual({ id: 'INC-2', title: 'Checkout latency above 2s', declared_by: 'pagerduty:Checkout API' });
      // The portal's sign-in links and the /metrics figures come from PostgreSQL too.
      const portal = await send(commandBody(USERS.sre, GENERAL, '/incident', 'portal'));
      const link = /(http[^\s>|]+sign-in\?token=[\w-]+)/.exec(portal)?.[1];
      expect(link, portal).toBeDefined();
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM portal_links')).rows[0]!.n).toBe(1);
      const metrics = await fetch(`${url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^edgeops_procedure_runs_total\{[^}]*procedure="restart-service"[^}]*\} 1$/m);
      // The channel of INC-1 was made in Slack from the outbox on PostgreSQL.
      await until('the incident channel', async () => (slack.calls.some((c) => c.method === 'conversations.create') ? true : undefined));

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout + stderr).not.toContain(password);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise<void>((resolve) => slack.server.close(() => resolve()));
    }

    const kinds = (
      await client.query<{ kind: string; actor: string }>("SELECT kind, actor FROM audit_log WHERE incident_id = 'INC-1' ORDER BY seq")
    ).rows.map((r) => `${r.kind}:${r.actor}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        `incident.declared:${USERS.sre}`,
        `incident.note:${USERS.sre}`,
        `incident.acknowledged:${USERS.sre}`,
        `run.requested:${USERS.dev}`,
        `run.approved:${USERS.sre}`,
        'run.finished:system',
      ]),
    );
    expect(kinds.filter((k) => k.startsWith('incident.acknowledged:'))).toHaveLength(1);
    const incidents = (
      await client.query<{ id: string; acknowledged: boolean }>('SELECT id, acknowledged_at IS NOT NULL AS acknowledged FROM incidents ORDER BY number')
    ).rows;
    expect(incidents).toEqual([
      { id: 'INC-1', acknowledged: true },
      { id: 'INC-2', acknowledged: false },
    ]);
    expect(
      (await client.query<{ state: string }>('SELECT state FROM pagerduty_events WHERE event_id = (SELECT MAX(event_id) FROM pagerduty_events)')).rows[0]
        ?.state,
    ).toBe('processed');
    expect(existsSync(sqliteFile)).toBe(false);

    const verified = await runCli(['audit', 'verify'], { cwd: dir, env: { EDGEOPS_DATABASE_URL: db.url, EDGEOPS_AUDIT_KEY: KEY } });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    const exported = await runCli(['export', 'INC-1', '--format', 'json'], { cwd: dir, env: { EDGEOPS_DATABASE_URL: db.url, EDGEOPS_AUDIT_KEY: KEY } });
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ incident: { id: 'INC-1', title: 'Checkout 5xx after deploy' } });
  });
});
