// The example procedures in commands/: they parse, their templates are sound, and they work on a bare Linux box.
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpStepRunner } from '../../../src/adapters/steps/http-step.js';
import { createProcessStepRunner } from '../../../src/adapters/steps/process-step.js';
import { ParamsError, resolveParams } from '../../../src/core/procedures/params.js';
import { ProcedureSchema, type Procedure } from '../../../src/core/procedures/procedure-schema.js';
import type { StepOutcome } from '../../../src/core/procedures/step-runner.js';
import { checkProcedureTemplates, createTemplateContext, resolveConcurrencyKey, resolveStep } from '../../../src/core/procedures/template.js';
import { commandsDir, isAlive, tempDir } from './helpers.js';

const files = readdirSync(commandsDir).filter((f) => f.endsWith('.yaml'));

function load(name: string): Procedure {
  return ProcedureSchema.parse(parse(readFileSync(path.join(commandsDir, `${name}.yaml`), 'utf8')));
}

let stateDir: string;
let removeState: () => Promise<void>;
let server: Server;
let port: number;

beforeAll(async () => {
  ({ dir: stateDir, remove: removeState } = await tempDir('edgeops-demo-state-'));
  server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 503).end('{"status":"ok"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  // Stop any demo service a test started, through the script itself.
  await runProcess({ argv: ['./scripts/demo-service.sh', 'stop', 'checkout', 'web-01'], env: { EDGEOPS_DEMO_STATE: stateDir }, timeoutMs: 10_000 });
  await removeState();
  await new Promise((resolve) => server.close(resolve));
});

const runProcess = createProcessStepRunner({ commandsDir, baseEnv: process.env, killGraceMs: 1000 });
const runHttp = createHttpStepRunner();

interface StepReport {
  name: string;
  outcome: StepOutcome;
  output: string;
}

/** Runs a procedure's steps in order the way the runner does, with the demo state kept in a temp folder. */
async function runProcedure(name: string, given: Record<string, string>, secretEnv: Record<string, string> = {}) {
  const procedure = load(name);
  const { values, secrets } = resolveParams(procedure, given, { secretEnv });
  const ctx = createTemplateContext(procedure, values, { env: 'staging', incident: { id: 'INC-1' } });
  const steps: StepReport[] = [];
  for (const step of procedure.steps) {
    const resolved = resolveStep(step, ctx);
    const timeoutMs = resolved.timeoutMs ?? procedure.timeout;
    const report =
      resolved.kind === 'run'
        ? await runProcess({ argv: resolved.argv, env: { ...resolved.env, EDGEOPS_DEMO_STATE: stateDir }, timeoutMs, secrets }).then((r) => ({
            name: step.name,
            outcome: r.outcome,
            output: r.output,
          }))
        : await runHttp({ ...resolved, timeoutMs, secrets }).then((r) => ({
            name: step.name,
            outcome: r.outcome,
            output: `${r.status} ${r.bodyExcerpt}${r.error ? ` ${r.error}` : ''}`,
          }));
    steps.push(report);
    if (report.outcome !== 'succeeded' && resolved.onError === 'abort') break;
  }
  return {
    steps,
    ok: steps.every((s) => s.outcome === 'succeeded') && steps.length === procedure.steps.length,
    key: resolveConcurrencyKey(procedure, ctx),
  };
}

describe('example procedure files', () => {
  it('ships the documented examples', () => {
    expect(files.sort()).toEqual(['diag-disk.yaml', 'diag-dns.yaml', 'diag-http.yaml', 'diag-logs.yaml', 'restart-service.yaml']);
  });

  it.each(files)('%s parses, is named after its file, has an owner and description, and sound templates', (file) => {
    const procedure = load(file.replace(/\.yaml$/, ''));
    expect(procedure.name).toBe(file.replace(/\.yaml$/, ''));
    expect(procedure.owner).toMatch(/\S/);
    expect(procedure.description.length).toBeGreaterThan(20);
    expect(checkProcedureTemplates(procedure)).toEqual([]);
    for (const step of procedure.steps) {
      const program = step.run?.[0];
      if (program?.startsWith('./')) expect(() => accessSync(path.join(commandsDir, program), constants.X_OK)).not.toThrow();
    }
  });
});

describe('diag-disk, diag-dns, diag-http', () => {
  it('diag-disk shows filesystems', async () => {
    const r = await runProcedure('diag-disk', {});
    expect(r.steps.map((s) => s.outcome)).toEqual(['succeeded', 'succeeded']);
    expect(r.steps[0]!.output).toMatch(/Filesystem/);
    expect(r.key).toBe('diag-disk-staging');
  });

  it('diag-dns resolves localhost by default', async () => {
    const r = await runProcedure('diag-dns', {});
    expect(r.ok).toBe(true);
    expect(r.steps[0]!.output).toMatch(/127\.0\.0\.1|::1/);
  });

  it('diag-dns refuses a host with anything after it, or an option', () => {
    for (const host of ['localhost;id', 'localhost other', '-s', 'localhost\n']) {
      expect(() => resolveParams(load('diag-dns'), { host }, { secretEnv: {} })).toThrow(ParamsError);
    }
  });

  it('diag-http checks a health endpoint', async () => {
    const ok = await runProcedure('diag-http', { url: `http://127.0.0.1:${port}/healthz` });
    expect(ok.steps).toEqual([{ name: 'request', outcome: 'succeeded', output: '200 {"status":"ok"}' }]);
    const down = await runProcedure('diag-http', { url: `http://127.0.0.1:${port}/other` });
    expect(down.steps[0]).toMatchObject({ outcome: 'failed', output: expect.stringContaining('expected status 200, got 503') });
  });

  it('diag-http defaults to the bot health endpoint and refuses other hosts', () => {
    expect(resolveParams(load('diag-http'), {}, { secretEnv: {} }).values.url).toBe('http://127.0.0.1:3000/healthz');
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'file:///etc/passwd', 'http://example.com/', 'http://127.0.0.1@evil.com/']) {
      expect(() => resolveParams(load('diag-http'), { url }, { secretEnv: {} })).toThrow(ParamsError);
    }
  });
});

describe('restart-service and diag-logs with the demo service', () => {
  it('diag-logs says clearly when there is no log yet', async () => {
    const r = await runProcedure('diag-logs', { service: 'search', instance: 'web-09' });
    expect(r.steps[0]).toMatchObject({ outcome: 'failed', output: expect.stringContaining('no log for search/web-09 yet') });
  });

  it('restarts an instance that survives the step, then shows its log', async () => {
    const r = await runProcedure(
      'restart-service',
      { service: 'checkout', instance: 'web-01', reason: 'p99 latency; "quoted" $(touch PWNED)' },
      { DEMO_API_TOKEN: 'demo-token-2f9a' },
    );
    expect(r.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['drain', 'succeeded'],
      ['restart', 'succeeded'],
      ['health', 'succeeded'],
    ]);
    expect(r.key).toBe('checkout-staging');
    const pid = Number(readFileSync(path.join(stateDir, 'checkout-web-01.pid'), 'utf8'));
    expect(isAlive(pid)).toBe(true); // it left the step's group with setsid, so the group cleanup spared it

    const logs = await runProcedure('diag-logs', { service: 'checkout', instance: 'web-01', lines: '5' });
    expect(logs.ok).toBe(true);
    expect(logs.steps[0]!.output).toContain('checkout/web-01 started (reason: p99 latency; "quoted" $(touch PWNED)) for INC-1');

    // A second restart replaces the process.
    const again = await runProcedure('restart-service', { service: 'checkout', instance: 'web-01' });
    expect(again.ok).toBe(true);
    const newPid = Number(readFileSync(path.join(stateDir, 'checkout-web-01.pid'), 'utf8'));
    expect(newPid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(newPid)).toBe(true);
  });

  it('refuses bad input before anything runs', () => {
    expect(() => resolveParams(load('restart-service'), { service: 'billing', instance: 'web-01;ls' }, { secretEnv: {} })).toThrow(
      /service: "billing" is not one of checkout, payments, search; instance: "web-01;ls" does not match/,
    );
    expect(() => resolveParams(load('restart-service'), { service: 'checkout', instance: 'a', api_token: 'x' }, { secretEnv: {} })).toThrow(
      /api_token is a secret/,
    );
  });

  it('the script itself refuses bad input with a clear message', async () => {
    const r = await runProcess({
      argv: ['./scripts/demo-service.sh', 'restart', '--', 'checkout', '../etc'],
      env: { EDGEOPS_DEMO_STATE: stateDir },
      timeoutMs: 10_000,
    });
    expect(r).toMatchObject({ outcome: 'failed', exitCode: 2 });
    expect(r.output).toContain("bad instance name '../etc'");
    const unknown = await runProcess({ argv: ['./scripts/demo-service.sh', 'explode', 'checkout', 'web-01'], timeoutMs: 10_000 });
    expect(unknown).toMatchObject({ outcome: 'failed', exitCode: 2 });
    expect(unknown.output).toContain("unknown command 'explode'");
  });
});
