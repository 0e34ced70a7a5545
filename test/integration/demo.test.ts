// `edgeops demo` as a user runs it: the built CLI in a fresh folder, from a signed PagerDuty webhook to a verified postmortem.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

/** Folders the demo made itself (it prints them), removed after the test like our own. */
const demoDirs: string[] = [];

afterEach(() => {
  for (const dir of demoDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  removeTempDirs();
});

/** The value of a `  label   value` line of the demo's header. */
function header(out: CliResult, label: string): string {
  const m = new RegExp(`^  ${label} +(\\S.*)$`, 'm').exec(out.stdout);
  if (!m) throw new Error(`the demo printed no "${label}" line:\n${out.stdout}`);
  return m[1]!;
}

/** Command lines of live processes that mention `text` (Linux /proc). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

describe('edgeops demo', () => {
  it('plays the incident end to end from a PagerDuty page, refuses self-approval, and leaves a verifiable postmortem', async () => {
    const cwd = makeTempDir('demo-cwd');
    const out = await runCli(['demo'], { cwd });
    const dbPath = header(out, 'database');
    const stateDir = header(out, 'demo service');
    for (const dir of [path.dirname(dbPath), stateDir]) {
      expect(path.dirname(dir)).toBe(tmpdir());
      expect(path.basename(dir)).toMatch(/^edgeops-demo-/);
      demoDirs.push(dir);
    }

    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const stdout = out.stdout;
    const channel = '#inc-1-checkout-errors-after-deploy';

    // The page: a signed incident.triggered over loopback HTTP, on a port of the demo's own, answered 202 before anything is posted.
    const httpUrl = /^http:\/\/127\.0\.0\.1:(\d+) /.exec(header(out, 'http'));
    expect(httpUrl).not.toBeNull();
    expect(Number(httpUrl![1])).toBeGreaterThan(0);
    const webhook = stdout.indexOf(`PagerDuty → POST http://127.0.0.1:${httpUrl![1]}/webhooks/pagerduty\n`);
    expect(webhook).toBeGreaterThan(0);
    expect(stdout).toMatch(
      / {4}incident\.triggered P[0-9A-F]{6} "Checkout errors after deploy" \(P2, high urgency\) on service checkout\n {4}X-PagerDuty-Signature: v1=[0-9a-f]{12}…/,
    );
    const accepted = stdout.search(/^ {2}← 202 \{"status":"accepted","event":"[^"]+"\}$/m);
    expect(accepted).toBeGreaterThan(webhook);

    // The incident and its channel are opened from PagerDuty, with severity from the priority and the link back.
    const declared = stdout.indexOf(`[${channel}] 📌 INC-1 declared by <@pagerduty:checkout>: Checkout errors after deploy\n    Severity: SEV2\n`);
    expect(declared).toBeGreaterThan(accepted);
    const opened =
      /^INC-1 was opened from PagerDuty (P[0-9A-F]{6}) \(https:\/\/example\.pagerduty\.com\/incidents\/\1\), SEV2 from priority P2; its trigger ran R-1 diag-disk as pagerduty:checkout\.$/m.exec(
        stdout,
      );
    expect(opened).not.toBeNull();
    const pdId = opened![1]!;

    // The triggered diagnostic runs by itself and its result is posted in the channel, before any human acts.
    const diagnosed = stdout.indexOf(`[${channel}] ✅ R-1 diag-disk (prod) succeeded`);
    expect(diagnosed).toBeGreaterThan(declared);
    expect(stdout.slice(diagnosed)).toMatch(/^.*\n• space: succeeded \(exit 0, .*\)\n```\nFilesystem /);
    expect(stdout).toContain(`[${channel}] ▶ R-1 diag-disk (prod) started for <@pagerduty:checkout>`);
    expect(stdout).toContain(`No PagerDuty API token in the demo, so nothing is written back to PagerDuty: that result is not added to ${pdId} as a note`);
    const firstHuman = stdout.indexOf('U01SRE0001 #general> ');
    expect(firstHuman).toBeGreaterThan(diagnosed);

    // A human takes command of what PagerDuty opened.
    expect(stdout).toContain(`U01SRE0001 ${channel}> /incident ack\n(only you) INC-1 acknowledged after`);
    expect(stdout).toContain(`U01SRE0001 ${channel}> /incident role commander @U01SRE0001\n(only you) <@U01SRE0001> is now commander of INC-1.`);

    expect(stdout).toContain(`[${channel}] ✅ R-2 diag-logs (prod) succeeded`);
    expect(stdout).toContain('(only you) R-3 waits for approval: restart-service in prod needs 1 approval from sre-oncall');

    // The developer's own approval is refused, and only the SRE's starts the run.
    const selfApproval = stdout.indexOf(`U0DEV0001 ${channel}> /runbook approve R-3\n✗ not allowed: you requested R-3; someone else must approve it`);
    const sreApproval = stdout.indexOf(`U01SRE0001 ${channel}> /runbook approve R-3\n(only you) Approved R-3; it is starting.`);
    expect(selfApproval).toBeGreaterThan(0);
    expect(sreApproval).toBeGreaterThan(selfApproval);
    expect(stdout).toContain(`[${channel}] ✅ R-3 restart-service (prod) succeeded`);
    expect(stdout).toMatch(/• health: succeeded \(exit 0, .*\)\n```\ncheckout\/web-01 is running/);
    expect(stdout).toContain('(only you) INC-1 resolved after');
    expect(stdout).toMatch(
      new RegExp(
        `\\(only you\\) Timeline of INC-1 \\(latest \\d+\\):\\n.*#\\d+  <@pagerduty:checkout>  declared "Checkout errors after deploy" \\(SEV2, service checkout, PagerDuty ${pdId}\\)`,
      ),
    );
    expect(stdout).toContain('INC-1 resolved. Postmortem: ./exports/INC-1.md');
    expect(stdout).toContain(`check it with: edgeops audit verify --db ${dbPath}`);
    expect(stdout).toMatch(/Demo service: checkout\/web-01 stopped\n$/);

    const exported = readFileSync(path.join(cwd, 'exports', 'INC-1.md'), 'utf8');
    expect(exported).toMatch(/^# INC-1: Checkout errors after deploy\n/);
    expect(exported).toContain('| Status | resolved |');
    expect(exported).toContain('| Severity | SEV2 |');
    expect(exported).toContain('| Commander | U01SRE0001 |');
    expect(exported).toContain(`| PagerDuty | https://example.pagerduty.com/incidents/${pdId} |`);
    expect(exported).toMatch(/\| Declared \| \S+ by pagerduty:checkout \|/);
    const runs = exported.slice(exported.indexOf('## Procedure runs'));
    expect(runs).toMatch(/### R-1: diag-disk in prod — succeeded\n\n- Requested by: pagerduty:checkout\n- Approved by: —\n/);
    const restart = exported.slice(exported.indexOf('### R-3'), exported.indexOf('## Denied attempts'));
    expect(restart).toMatch(/^### R-3: restart-service in prod — succeeded\n/);
    expect(restart).toContain('- Requested by: U0DEV0001\n- Approved by: U01SRE0001\n');
    expect(restart).toContain('- Parameters: service=checkout, instance=web-01, reason=bad cache after deploy');
    expect(restart).toMatch(/#### Step restart: succeeded, exit 0/);

    // The record the demo left is intact, and exporting it again gives the same bytes.
    const verify = await runCli(['audit', 'verify', '--db', dbPath], { cwd });
    expect(verify.stderr).toBe('');
    expect(verify.stdout).toMatch(/^audit chain intact: \d+ rows/);
    expect(verify.code).toBe(0);
    const again = await runCli(['export', 'INC-1'], { cwd, env: { EDGEOPS_DB: dbPath } });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(exported);

    // Nothing of the demo service is left: no process, no state folder.
    expect(processesMentioning(stateDir)).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('is listed by edgeops --help', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}edgeops demo +a scripted incident in local mode/m);
  });
});
