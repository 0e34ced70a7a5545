// `edgeops serve` in local mode as a real process: health, metrics, signed output links, clean stop.
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';
import { parsePrometheus } from '../helpers/prometheus.js';

afterEach(() => removeTempDirs());

describe('edgeops serve (local mode)', () => {
  it('serves /healthz, /metrics, run output links and PagerDuty webhooks beside the console, and stops on SIGTERM', async () => {
    const dir = makeTempDir('serve-local');
    const secret = 'whsec-local-test';
    const child = spawnCli(['serve'], {
      env: { EDGEOPS_DB: path.join(dir, 'edgeops.db'), PORT: '0', PAGERDUTY_WEBHOOK_SECRETS: secret },
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.resume();
    child.stdin!.write('/runbook run diag-disk\n');
    await expect.poll(() => /http\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { timeout: 15_000 }).toBeTruthy();
    const base = /http\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    await expect.poll(() => /full output: (http:\/\/\S+)/.exec(out)?.[1], { timeout: 15_000 }).toBeTruthy();
    const link = /full output: (http:\/\/\S+)/.exec(out)![1]!.replace(/^http:\/\/127\.0\.0\.1:0/, base);
    const output = await fetch(new URL(new URL(link).pathname + new URL(link).search, base));
    expect(output.status).toBe(200);
    expect(await output.text()).toMatch(/^R-1 diag-disk \(staging\): succeeded\n\n--- step space: succeeded \(exit 0\)\nFilesystem/);

    const body = JSON.stringify({
      event: {
        id: 'EVT-LOCAL-1',
        event_type: 'pagey.ping',
        resource_type: 'pagey',
        occurred_at: new Date().toISOString(),
        agent: null,
        client: null,
        data: { type: 'ping', message: 'Hello from your friend Pagey!' },
      },
    });
    const sig = `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const hook = await fetch(`${base}/webhooks/pagerduty`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-pagerduty-signature': sig },
    });
    expect(hook.status).toBe(202);
    const forged = await fetch(`${base}/webhooks/pagerduty`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-pagerduty-signature': 'v1=00' },
    });
    expect(forged.status).toBe(401);

    const metrics = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    expect(metrics.get('edgeops_http_requests_total{route="/healthz",method="GET",status="200"}')).toBe(1);
    expect(metrics.get('edgeops_webhook_deliveries_total{outcome="accepted"}')).toBe(1);
    expect(metrics.get('edgeops_webhook_deliveries_total{outcome="rejected"}')).toBe(1);
    expect(metrics.get('edgeops_procedure_runs_total{procedure="diag-disk",state="succeeded"}')).toBe(1);

    child.stdin!.end();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    expect(code).toBe(0);
  });
});
