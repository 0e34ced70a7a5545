// The built CLI as users run it: piped console session, export in every format, config refusal.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = path.resolve('dist/src/cli.js');
let dir: string;

function edgeops(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    input: options.input ?? '',
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
      EDGEOPS_POLICIES: path.resolve('policies'),
      EDGEOPS_COMMANDS: path.resolve('commands'),
      ...options.env,
    },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does) first`);
  dir = mkdtempSync(path.join(tmpdir(), 'edgeops-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edgeops CLI', () => {
  it('runs a piped console session, then exports it in md, json and html', () => {
    const session = [
      '/incident declare Payments timing out sev=2 service=payments',
      '/incident update "p99 at 4s" status=investigating',
      '/incident note upstream bank API slow',
      '/incident sev 1',
      '/incident role scribe <@U0SCRIBE1>',
      '/incident ack',
      '/incident resolve bank recovered',
      '',
    ].join('\n');
    const run = edgeops(['console', '--as', 'U0LOCAL01'], { input: session });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('LOCAL MODE');
    expect(run.stdout).toContain('(only you) INC-1 resolved after');
    expect(statSync(path.join(dir, 'data', 'audit.key')).mode & 0o777).toBe(0o600);

    const md = edgeops(['export', 'INC-1']);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^# INC-1: Payments timing out\n/);
    expect(md.stdout.match(/^\| \d{4}-\d\d-\d\dT[\d:.]+Z \| \d+ \| U0LOCAL01 \| console \|/gm)).toHaveLength(7);
    expect(edgeops(['export', 'INC-1']).stdout).toBe(md.stdout);

    const json = edgeops(['export', 'inc-1', '--format', 'json', '--out', 'out/inc-1.json']);
    expect(json.code).toBe(0);
    expect(json.stderr).toContain('out/inc-1.json');
    const parsed = JSON.parse(readFileSync(path.join(dir, 'out', 'inc-1.json'), 'utf8')) as { events: Array<{ seq: number }> };
    expect(parsed.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const html = edgeops(['export', 'INC-1', '--format', 'html']);
    expect(html.code).toBe(0);
    expect(html.stdout).toContain('<h1>INC-1: Payments timing out</h1>');

    expect(edgeops(['audit', 'verify']).stdout).toMatch(/^audit chain intact: 7 rows, last seq 7/);
  });

  it('refuses bad export requests with a one-line reason', () => {
    const missing = edgeops(['export', 'INC-404']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('edgeops export: INC-404 does not exist\n');
    const format = edgeops(['export', 'INC-1', '--format', 'pdf']);
    expect(format.code).toBe(1);
    expect(format.stderr).toContain('--format must be md, json or html (got "pdf")');
  });

  it('exits non-zero at once listing every configuration problem in serve mode', () => {
    const r = edgeops(['serve'], { env: { SLACK_BOT_TOKEN: 'xoxb-123', PORT: 'http', LOG_LEVEL: 'chatty' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid configuration');
    for (const name of ['PORT', 'LOG_LEVEL', 'SLACK_SIGNING_SECRET', 'EDGEOPS_AUDIT_KEY']) expect(r.stderr).toMatch(new RegExp(`^  - ${name}: `, 'm'));
    expect(r.stderr).not.toContain('xoxb-123');
  });

  it('refuses to verify without the key the log was written with', () => {
    const other = mkdtempSync(path.join(tmpdir(), 'edgeops-nokey-'));
    try {
      const r = edgeops(['audit', 'verify', '--db', path.join(other, 'x.db')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/EDGEOPS_AUDIT_KEY: not set, and no key file at/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('never creates or changes the database it is asked to verify', () => {
    const missing = path.join(dir, 'nowhere', 'x.db');
    const r = edgeops(['audit', 'verify', '--db', missing], { env: { EDGEOPS_AUDIT_KEY: 'k'.repeat(40) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`edgeops audit verify: no database at ${missing}\n`);
    expect(existsSync(path.dirname(missing))).toBe(false);
  });

  it('lists its subcommands and rejects unknown ones', () => {
    const help = edgeops(['--help']);
    expect(help.code).toBe(0);
    for (const sub of ['serve', 'console', 'export', 'audit verify', 'migrate']) expect(help.stdout).toContain(`edgeops ${sub}`);
    const bad = edgeops(['frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('edgeops: unknown subcommand "frobnicate"; see edgeops --help\n');
  });
});
