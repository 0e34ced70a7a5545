// `edgeops demo` as a user runs it: the built CLI in a fresh folder, from declare to a verified postmortem.
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
  it('plays the incident end to end, refuses self-approval, and leaves a verifiable postmortem', async () => {
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
    expect(stdout).toContain('U01SRE0001 #general> /incident declare Checkout errors after deploy sev=2 service=checkout');
    expect(stdout).toContain('(only you) INC-1 declared (SEV2): Checkout errors after deploy.');
    expect(stdout).toContain('✅ R-1 diag-logs (prod) succeeded');
    expect(stdout).toContain('(only you) R-2 waits for approval: restart-service in prod needs 1 approval from sre-oncall');

    // The developer's own approval is refused, and only the SRE's starts the run.
    const selfApproval = stdout.indexOf('U0DEV0001 #inc-1-checkout-errors-after-deploy> /runbook approve R-2\n✗ not allowed: you requested R-2; someone else must approve it');
    const sreApproval = stdout.indexOf('U01SRE0001 #inc-1-checkout-errors-after-deploy> /runbook approve R-2\n(only you) Approved R-2; it is starting.');
    expect(selfApproval).toBeGreaterThan(0);
    expect(sreApproval).toBeGreaterThan(selfApproval);
    expect(stdout).toContain('[#inc-1-checkout-errors-after-deploy] ✅ R-2 restart-service (prod) succeeded');
    expect(stdout).toMatch(/• health: succeeded \(exit 0, .*\)\n```\ncheckout\/web-01 is running/);
    expect(stdout).toContain('(only you) INC-1 resolved after');
    expect(stdout).toMatch(/\(only you\) Timeline of INC-1 \(latest \d+\):\n.*#1  <@U01SRE0001>  declared "Checkout errors after deploy"/);
    expect(stdout).toContain('INC-1 resolved. Postmortem: ./exports/INC-1.md');
    expect(stdout).toContain(`check it with: edgeops audit verify --db ${dbPath}`);
    expect(stdout).toMatch(/Demo service: checkout\/web-01 stopped\n$/);

    const exported = readFileSync(path.join(cwd, 'exports', 'INC-1.md'), 'utf8');
    expect(exported).toMatch(/^# INC-1: Checkout errors after deploy\n/);
    expect(exported).toContain('| Status | resolved |');
    const restart = exported.slice(exported.indexOf('### R-2'), exported.indexOf('## Denied attempts'));
    expect(restart).toMatch(/^### R-2: restart-service in prod — succeeded\n/);
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
