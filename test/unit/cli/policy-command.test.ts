// `edgeops policy explain` in-process against the shipped policy: exit 0 allowed, 2 approval, 3 denied, 1 bad input.
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const CATALOG = ['--policies', 'policies', '--commands', 'test/fixtures/catalog-example/commands'];

async function explain(args: string[]) {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        append(String(chunk));
        done();
      },
    });
  const code = await runCli(['policy', 'explain', ...args, ...CATALOG], {
    stdin: new PassThrough(),
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    env: {},
    cwd: ROOT,
  });
  return { code, stdout, stderr };
}

describe('edgeops policy explain', () => {
  it('exits 0 when allowed, naming the rule and the roles', async () => {
    const r = await explain(['--user', 'U0SUP0001', '--procedure', 'diag-disk', '--env', 'prod']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ALLOWED: run diag-disk in prod');
    expect(r.stdout).toContain('roles:   support');
    expect(r.stdout).toMatch(/\* \[allow\] default\.yaml:\d+ rules\[1\]/);
    expect(r.stdout).toMatch(/policy sha256 [0-9a-f]{64}/);
  });

  it('exits 2 when allowed only with approval, saying which', async () => {
    const r = await explain(['--user', 'U0DEV0001', '--groups', 'S03DEVS', '--procedure', 'restart-service', '--env', 'prod']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('ALLOWED ONLY WITH APPROVAL: run restart-service in prod');
    expect(r.stdout).toContain('approval needed: 1 approval from sre-oncall, within 15m');
  });

  it('exits 3 when denied, by default deny or for want of any role', async () => {
    const support = await explain(['--user', 'U0SUP0001', '--procedure', 'restart-service', '--env', 'prod']);
    expect(support.code).toBe(3);
    expect(support.stdout).toContain('DENIED: run restart-service in prod');
    expect(support.stdout).toContain('default deny');

    const stranger = await explain(['--user', 'U0STRANGER', '--procedure', 'diag-disk', '--env', 'prod']);
    expect(stranger.code).toBe(3);
    expect(stranger.stdout).toContain('holds no role');
  });

  it('explains the other actions and local identities', async () => {
    expect((await explain(['--user', 'U0LOCAL01', '--procedure', 'restart-service', '--env', 'prod'])).code).toBe(0);
    expect((await explain(['--user', 'U0LOCAL01', '--action', 'approve', '--procedure', 'restart-service', '--env', 'prod'])).code).toBe(0);
    expect((await explain(['--user', 'U0DEV0001', '--action', 'dry-run', '--procedure', 'restart-service', '--env', 'prod'])).code).toBe(0);
    expect((await explain(['--user', 'U0DEV0001', '--action', 'run', '--procedure', 'restart-service', '--env', 'staging'])).code).toBe(3);
    expect((await explain(['--user', 'U0DEV0001', '--action', 'approve', '--procedure', 'restart-service', '--env', 'prod'])).code).toBe(3);
  });

  it('takes incident actions without --procedure or --env', async () => {
    const declare = await explain(['--user', 'U0SUP0001', '--action', 'incident.declare']);
    expect(declare.code).toBe(0);
    expect(declare.stdout).toContain('ALLOWED: incident.declare');
    expect((await explain(['--user', 'U0SUP0001', '--action', 'incident.resolve'])).code).toBe(3);
    expect((await explain(['--user', 'U0LOCAL01', '--action', 'incident.resolve', '--channel', 'C0INC0001'])).code).toBe(0);
  });

  it('explains a PagerDuty-triggered run by its service', async () => {
    const r = await explain(['--pagerduty-service', 'Checkout API', '--procedure', 'diag-http', '--env', 'prod']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('roles:   pagerduty');
    expect((await explain(['--pagerduty-service', 'Checkout API', '--procedure', 'restart-service', '--env', 'prod'])).code).toBe(3);
  });

  it.each([
    [[], /--user U… is required/],
    [['--user', 'alice', '--procedure', 'diag-disk', '--env', 'prod'], /Slack user ID/],
    [['--user', 'U0SUP0001', '--groups', 'devs', '--procedure', 'diag-disk', '--env', 'prod'], /user-group IDs/],
    [['--user', 'U0SUP0001', '--procedure', 'diag-disk'], /needs --procedure NAME and --env ENV/],
    [['--user', 'U0SUP0001', '--action', 'reboot', '--procedure', 'diag-disk', '--env', 'prod'], /unknown action "reboot"/],
    [['--user', 'U0SUP0001', '--procedure', 'diag-nope', '--env', 'prod'], /unknown procedure "diag-nope"; known: diag-disk/],
    [['--user', 'U0SUP0001', '--procedure', 'diag-disk', '--env', 'qa'], /does not run in "qa"; its environments are staging, prod/],
    [['--user', 'U0SUP0001', '--action', 'incident.note', '--procedure', 'diag-disk'], /incident action; it takes no --procedure/],
    [['--user', 'U0SUP0001', '--channel', '#general', '--action', 'incident.note'], /channel ID/],
    [['--user', 'U0SUP0001', '--bogus'], /--bogus/],
  ])('exits 1 with a one-line reason on bad input %j', async (args, reason) => {
    const r = await explain(args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(reason);
  });

  it('exits 1 when the catalog itself is invalid', async () => {
    let stderr = '';
    const code = await runCli(
      [
        'policy',
        'explain',
        '--user',
        'U0SUP0001',
        '--action',
        'incident.note',
        '--policies',
        'test/fixtures/broken-catalog/policies',
        '--commands',
        'test/fixtures/broken-catalog/commands',
      ],
      {
        stdin: new PassThrough(),
        stdout: new PassThrough(),
        stderr: new Writable({
          write(chunk, _enc, done) {
            stderr += String(chunk);
            done();
          },
        }),
        env: {},
        cwd: ROOT,
      },
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/the catalog is invalid \(\d+ errors; first: test\/fixtures\/broken-catalog\/.+\); run edgeops validate/);
  });

  it('requires the explain subcommand', async () => {
    let stderr = '';
    const code = await runCli(['policy', 'show'], {
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr: new Writable({
        write(chunk, _enc, done) {
          stderr += String(chunk);
          done();
        },
      }),
      env: {},
      cwd: ROOT,
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/usage: edgeops policy explain/);
  });
});
