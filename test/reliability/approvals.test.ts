// Approvals cannot outlive the policy or the code they approve: `edgeops serve` in Slack mode, signed requests, the catalog edited on disk, on SQLite and on PostgreSQL.
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PACKAGE_ROOT } from '../helpers/run-cli.js';
import { FORM, clickBody, commandBody, post, signedHeaders } from '../fixtures/slack/slack-harness.js';
import type { Backend } from '../../src/app.js';
import { shortBinding } from '../../src/core/runs/run.js';
import { BACKEND_KINDS } from '../helpers/backends.js';
import { startServe, type Served as ServedOn } from './slack-serve.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'approvals');
const GENERAL = 'C0GENERAL1';
const DEV = 'U0DEV0001';
const SRE = 'U0SRE0001';
const STRANGER = 'U0NOBODY1';
const PROD_RESTART = 'run restart-service service=checkout instance=web-01 env=prod';

/** The rule that stops developers restarting anything in prod, whatever else allows it. */
const DENY_DEVELOPERS_IN_PROD = `
  - roles: [developer]
    deny: [run]
    procedures: [restart-service]
    environments: [prod]
`;

type Served = ServedOn<Backend>;

let s: Served | undefined;

afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Sends a signed request; the ephemeral answer, whether it came in the ack or later through response_url. */
async function send(served: Served, body: string): Promise<string> {
  const next = served.slack.responds.length + 1;
  const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
  expect(res.status).toBe(200);
  if (res.body) return String((JSON.parse(res.body) as { text: unknown }).text);
  return String((await served.slack.waitForRespond(next)).body.text);
}

const say = (served: Served, user: string, text: string): Promise<string> => send(served, commandBody(user, GENERAL, '/runbook', text));

const out = (served: Served, file: string): string => path.join(served.dir, 'commands', 'out', file);

async function auditRows(served: Served, kind: string): Promise<Array<{ actor: string; payload: Record<string, unknown> }>> {
  return (await served.query<{ actor: string; payload: string }>('SELECT actor, payload FROM audit_log WHERE kind = ? ORDER BY seq', kind)).map((r) => ({
    actor: r.actor,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
  }));
}

const kinds = async (served: Served): Promise<string[]> =>
  (await served.query<{ kind: string }>('SELECT kind FROM audit_log ORDER BY seq')).map((r) => r.kind);

const runCount = (served: Served): Promise<Array<{ n: number }>> => served.query<{ n: number }>('SELECT count(*) AS n FROM runs');

/** What the bot posted in #general so far (delivered through the outbox). */
async function postedInGeneral(served: Served): Promise<string[]> {
  await served.server.drain();
  return served.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === GENERAL)
    .map((c) => c.args.text ?? '');
}

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('a run waiting for approval when the policy changes', () => {
    it('is denied by the reload that refuses its requester, who is told in the channel; a later approval runs nothing', async () => {
      s = await startServe({ backend, catalog: CATALOG, watchCatalog: true, groups: { S0DEVS: [DEV] } });
      const served = s;
      expect(await say(served, DEV, PROD_RESTART)).toMatch(/^R-1 waits for approval: restart-service in prod needs 1 approval from sre-oncall/);

      const policy = path.join(served.dir, 'policies', 'policy.yaml');
      writeFileSync(policy, readFileSync(policy, 'utf8') + DENY_DEVELOPERS_IN_PROD);
      await vi.waitFor(async () => expect((await served.app.runs.get('R-1')).state).toBe('denied'), { timeout: 10_000, interval: 20 });

      const reason = 'the policy in force no longer lets U0DEV0001 run restart-service in prod';
      expect((await served.app.runs.get('R-1')).error).toContain(reason);
      // Recorded after the reload, with the rule that now refuses and the policy it belongs to.
      const all = await kinds(served);
      expect(all.indexOf('run.approval_voided')).toBeGreaterThan(all.indexOf('policy_reloaded'));
      const [voided] = await auditRows(served, 'run.approval_voided');
      expect(voided).toMatchObject({
        actor: 'system',
        payload: {
          run: 'R-1',
          check: 'policy',
          reason: expect.stringContaining(reason),
          rules: [expect.stringContaining('policy.yaml')],
          policy_hash: served.app.catalog().policyHash,
        },
      });
      await vi.waitFor(
        async () =>
          expect((await postedInGeneral(served)).some((t) => t.includes('R-1 restart-service (prod), requested by') && t.includes('was denied'))).toBe(
            true,
          ),
        {
          timeout: 5_000,
        },
      );

      // A fresh request is refused, and the SRE's approval of the old one finds nothing to approve.
      expect(await say(served, DEV, PROD_RESTART)).toMatch(/^⛔ Not allowed: you may not run restart-service in prod/);
      expect(await say(served, SRE, 'approve R-1')).toBe('⚠ R-1 is denied; only runs waiting for approval can be approved');
      await served.app.runs.idle();
      expect(existsSync(out(served, 'restarted'))).toBe(false);
      expect(await auditRows(served, 'run.started')).toHaveLength(0);
    });

    it('is denied when the last approval completes if its requester has left the Slack group that gave the role', async () => {
      const groupsClock = { value: Date.now() };
      const groups = { S0DEVS: [DEV] };
      s = await startServe({ backend, catalog: CATALOG, groups, groupsClock: { now: () => groupsClock.value } });
      const served = s;
      expect(await say(served, DEV, PROD_RESTART)).toMatch(/^R-1 waits for approval/);

      // The developer leaves the group; once the directory's membership is too old to trust, it reads Slack again.
      served.slack.groups = { S0DEVS: [] };
      groupsClock.value += 16 * 60_000;
      expect(await send(served, clickBody(SRE, GENERAL, 'run_approve', 'R-1'))).toBe(
        '⚠ R-1 is void: the policy in force no longer lets U0DEV0001 run restart-service in prod: U0DEV0001 holds no role in the policy, so no rule applies (default deny)',
      );
      await served.app.runs.idle();
      expect(await served.app.runs.get('R-1')).toMatchObject({ state: 'denied' });
      expect(existsSync(out(served, 'restarted'))).toBe(false);
      expect(await auditRows(served, 'run.approval_voided')).toEqual([
        expect.objectContaining({ payload: expect.objectContaining({ check: 'policy', groups: [], roles: [] }) }),
      ]);
      // The approval that could not complete is not recorded as given.
      expect(await auditRows(served, 'run.approved')).toHaveLength(0);
      expect(await served.app.runs.approvals('R-1')).toEqual([]);
    });
  });

  describe('an approval binds the scripts the run executes', () => {
    it('shows the binding in the approval request and the dry-run, and a script replaced before approval voids it; the new script never runs', async () => {
      s = await startServe({ backend, catalog: CATALOG, groups: { S0DEVS: [DEV] } });
      const served = s;
      expect(await say(served, DEV, PROD_RESTART)).toMatch(/^R-1 waits for approval/);
      const binding = shortBinding((await served.app.runs.get('R-1')).binding);
      expect((await postedInGeneral(served)).find((t) => t.includes('asks to run restart-service'))).toContain(`Binding ${binding}`);
      const dryRun = await say(served, DEV, 'run restart-service service=checkout instance=web-01 env=staging --dry-run');
      expect(dryRun).toMatch(/binding: [0-9a-f]{12} /);

      writeFileSync(path.join(served.dir, 'commands', 'scripts', 'restart.sh'), '#!/bin/sh\nmkdir -p ./out && echo replaced > ./out/replaced\n');
      const dryRunAfter = await say(served, DEV, 'run restart-service service=checkout instance=web-01 env=staging --dry-run');
      expect(/binding: ([0-9a-f]{12})/.exec(dryRunAfter)?.[1]).not.toBe(/binding: ([0-9a-f]{12})/.exec(dryRun)?.[1]);

      expect(await say(served, SRE, 'approve R-1')).toBe(
        '⚠ R-1 is void: restart-service, its parameters or a program it runs changed after R-1 was requested; request it again',
      );
      await served.app.runs.idle();
      expect((await served.app.runs.get('R-1')).state).toBe('denied');
      expect(existsSync(out(served, 'replaced'))).toBe(false);
      expect(await auditRows(served, 'run.approval_voided')).toEqual([
        expect.objectContaining({ payload: expect.objectContaining({ check: 'binding' }) }),
      ]);
      expect(await auditRows(served, 'run.started')).toHaveLength(0);
    });

    it('binds a script an interpreter runs from the commands folder: replaced before approval, the run is void and neither script runs', async () => {
      s = await startServe({ backend, catalog: CATALOG, groups: { S0DEVS: [DEV] } });
      const served = s;
      expect(await say(served, DEV, 'run sh-restart env=prod')).toMatch(/^R-1 waits for approval/);
      expect((await auditRows(served, 'run.requested'))[0]?.payload.bound_files).toEqual([
        { path: 'scripts/sh-restart.sh', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      ]);

      writeFileSync(path.join(served.dir, 'commands', 'scripts', 'sh-restart.sh'), '#!/bin/sh\nmkdir -p ./out && echo replaced > ./out/replaced\n');
      expect(await say(served, SRE, 'approve R-1')).toBe(
        '⚠ R-1 is void: sh-restart, its parameters or a program it runs changed after R-1 was requested; request it again',
      );
      await served.app.runs.idle();
      expect((await served.app.runs.get('R-1')).state).toBe('denied');
      expect(existsSync(out(served, 'replaced'))).toBe(false);
      expect(existsSync(out(served, 'sh-restarted'))).toBe(false);
      expect(await auditRows(served, 'run.approval_voided')).toEqual([
        expect.objectContaining({ payload: expect.objectContaining({ check: 'binding' }) }),
      ]);
      expect(await auditRows(served, 'run.started')).toHaveLength(0);
    });

    it('does not start a step whose script was replaced while an earlier step ran', async () => {
      s = await startServe({ backend, catalog: CATALOG });
      const served = s;
      expect(await say(served, SRE, 'run two-step env=staging')).toMatch(/^R-1 started/);
      await served.app.runs.idle();
      expect(await served.app.runs.get('R-1')).toMatchObject({
        state: 'failed',
        error: 'a program of two-step changed during the run; step second and those after it were not started',
      });
      expect(existsSync(out(served, 'second'))).toBe(false);
      expect((await auditRows(served, 'run.step_started')).map((r) => r.payload.step)).toEqual(['first']);
    });

    it('refuses a procedure whose program climbs out of the commands folder, by path or by symbolic link, and runs nothing', async () => {
      s = await startServe({ backend, catalog: CATALOG });
      const served = s;
      writeFileSync(path.join(served.dir, 'outside.sh'), '#!/bin/sh\nmkdir -p ./out && echo outside > ./out/outside\n', { mode: 0o755 });
      symlinkSync(path.join(served.dir, 'outside.sh'), path.join(served.dir, 'commands', 'scripts', 'linked.sh'));

      expect(await say(served, SRE, 'run climb-out env=staging')).toBe(
        '✗ step "outside": its program ./scripts/../../outside.sh is outside the commands folder; keep the scripts a procedure runs under the commands folder',
      );
      expect(await say(served, SRE, 'run linked-out env=staging')).toBe(
        '✗ scripts/linked.sh leads outside the commands folder (through a symbolic link); keep the scripts a procedure runs under the commands folder',
      );
      await served.app.runs.idle();
      expect(existsSync(out(served, 'outside'))).toBe(false);
      expect(await runCount(served)).toEqual([{ n: 0 }]);
    });
  });

  describe('the policy before the parameters', () => {
    it('answers a caller with no right to run a procedure with the refusal, never a parameter error, and records the decision', async () => {
      s = await startServe({ backend, catalog: CATALOG });
      const served = s;
      const refusal = '⛔ Not allowed: you may not run restart-service in prod: U0NOBODY1 holds no role in the policy, so no rule applies (default deny)';
      // Bad, missing and unknown parameters alike: nothing about what the procedure takes.
      expect(await say(served, STRANGER, 'run restart-service service=bogus instance=web-01 env=prod')).toBe(refusal);
      expect(await say(served, STRANGER, 'run restart-service env=prod')).toBe(refusal);
      expect(await say(served, STRANGER, 'run restart-service service=checkout instance=web-01 colour=red env=prod')).toBe(refusal);
      const denials = await auditRows(served, 'policy.denied');
      expect(denials).toHaveLength(3);
      expect(denials.every((d) => d.actor === STRANGER && d.payload.action === 'run' && d.payload.procedure === 'restart-service')).toBe(true);
      // Unchecked text is not recorded (it could hold a secret); checked parameters are.
      expect(denials.map((d) => d.payload.params)).toEqual([undefined, undefined, undefined]);
      expect(await say(served, STRANGER, 'run restart-service service=checkout instance=web-01 env=prod')).toBe(refusal);
      expect((await auditRows(served, 'policy.denied'))[3]!.payload.params).toEqual({ service: 'checkout', instance: 'web-01' });
      expect(await runCount(served)).toEqual([{ n: 0 }]);
    });
  });
});
