// `edgeops serve` with Slack configured, as a process: JSON logs, signed commands, SIGTERM, refused setups.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../../helpers/run-cli.js';
import { FORM, POLICY, RESTART_SERVICE, SIGNING_SECRET, USERS, commandBody, post, signedHeaders } from '../../fixtures/slack/slack-harness.js';

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Slack's Web API for a child process (nock cannot reach into it): a loopback server answering as told. */
async function slackApi(answers: Record<string, Record<string, unknown>>): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '');
      calls.push(method);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[method] ?? { ok: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, calls };
}

function workDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-serve-slack-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'policies'));
  mkdirSync(path.join(dir, 'commands'));
  writeFileSync(path.join(dir, 'policies', 'default.yaml'), POLICY);
  writeFileSync(path.join(dir, 'commands', 'restart-service.yaml'), RESTART_SERVICE);
  return dir;
}

const slackEnv = (dir: string, apiUrl: string): Record<string, string> => ({
  PORT: '0',
  EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
  EDGEOPS_POLICIES: path.join(dir, 'policies'),
  EDGEOPS_COMMANDS: path.join(dir, 'commands'),
  EDGEOPS_AUDIT_KEY: 'c'.repeat(64),
  SLACK_BOT_TOKEN: 'xoxb-cli-test',
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  SLACK_API_URL: apiUrl,
});

const AUTH_OK = { ok: true, user_id: 'U0BOT0001', bot_id: 'B0BOT0001', team_id: 'T0TEAM001' };

describe('edgeops serve with Slack', () => {
  it('serves /healthz and signed commands, logs JSON on stdout, and stops cleanly on SIGTERM', async () => {
    const dir = workDir();
    const api = await slackApi({ 'auth.test': AUTH_OK, 'usergroups.users.list': { ok: true, users: [] } });
    const child = spawnCli(['serve'], { env: slackEnv(dir, api.url), cwd: dir });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const listening = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg?: string; url?: string; mode?: string })
          .find((e) => e.msg === 'listening');
        if (listening?.url) resolve(listening.url);
      });
      void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    expect(api.calls).toContain('auth.test');

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const body = commandBody(USERS.sre, 'C0GENERAL1', '/incident', 'declare "From the CLI" sev=2');
    const res = await post(`${url}/slack/events`, body, { 'content-type': FORM, ...signedHeaders(body) });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('INC-1 declared (SEV2): From the CLI') });
    const forged = await post(`${url}/slack/events`, body, { 'content-type': FORM, ...signedHeaders(body, { secret: 'wrong' }) });
    expect(forged.status).toBe(401);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('SLACK MODE (HTTP)');
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(stdout).not.toContain('xoxb-cli-test');
    expect(stdout).not.toContain(SIGNING_SECRET);
    expect(stdout).toContain('"mode":"slack-http"');

    // The incident declared over Slack is in the database the process closed cleanly.
    const audit = await runCli(['audit', 'verify', '--db', path.join(dir, 'data', 'edgeops.db')], {
      cwd: dir,
      env: { EDGEOPS_AUDIT_KEY: 'c'.repeat(64) },
    });
    expect(audit.code).toBe(0);
  });

  it('refuses to start when Slack refuses the bot token, saying which setting is wrong', async () => {
    const dir = workDir();
    const api = await slackApi({ 'auth.test': { ok: false, error: 'invalid_auth' } });
    const result = await runCli(['serve'], { env: slackEnv(dir, api.url), cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('SLACK_BOT_TOKEN: Slack refused it (invalid_auth)');
  });

  it('refuses to start when SLACK_TEAM_ID is not the token’s workspace', async () => {
    const dir = workDir();
    const api = await slackApi({ 'auth.test': AUTH_OK });
    const result = await runCli(['serve'], { env: { ...slackEnv(dir, api.url), SLACK_TEAM_ID: 'T0ELSEWHERE' }, cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('SLACK_TEAM_ID: is T0ELSEWHERE, but SLACK_BOT_TOKEN belongs to workspace T0TEAM001');
  });

  it('lists every configuration problem at once and never asks Slack', async () => {
    const dir = workDir();
    const api = await slackApi({ 'auth.test': AUTH_OK });
    const env = { ...slackEnv(dir, api.url), SLACK_SIGNING_SECRET: '', EDGEOPS_AUDIT_KEY: '' };
    const result = await runCli(['serve'], { env, cwd: dir });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('SLACK_SIGNING_SECRET');
    expect(result.stderr).toContain('EDGEOPS_AUDIT_KEY');
    expect(api.calls).toEqual([]);
  });
});
