// A `secret` param may not name a variable edgeops reads itself: validate and every start refuse it at file:line:col.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

afterEach(() => removeTempDirs());

const POLICY = `version: 1
roles:
  operator: { users: [U0OPERATOR1] }
rules:
  - roles: [operator]
    allow: ["*"]
`;

/** A catalog of one procedure whose secret param reads `envName`; the `env:` value sits at line 6, column 31. */
function catalogReading(envName: string): { dir: string; file: string } {
  const dir = makeTempDir('secret-env');
  mkdirSync(path.join(dir, 'policies'));
  mkdirSync(path.join(dir, 'commands'));
  writeFileSync(path.join(dir, 'policies', 'base.yaml'), POLICY);
  const file = path.join(dir, 'commands', 'grab.yaml');
  writeFileSync(
    file,
    [
      'name: grab',
      'description: Hands a secret to its step',
      'owner: "@team"',
      'environments: [prod]',
      'params:',
      `  token: { type: secret, env: ${envName} }`,
      'steps:',
      '  - name: show',
      '    run: ["/bin/echo", "ran"]',
      '    env: { TOKEN: "{{token}}" }',
      '',
    ].join('\n'),
  );
  return { dir, file };
}

const validate = (dir: string) => runCli(['validate', '--policies', path.join(dir, 'policies'), '--commands', path.join(dir, 'commands')]);

describe('edgeops validate on a secret param env', () => {
  for (const name of ['SLACK_SIGNING_SECRET', 'SLACK_BOT_TOKEN', 'PAGERDUTY_API_TOKEN', 'PAGERDUTY_WEBHOOK_SECRETS', 'EDGEOPS_AUDIT_KEY']) {
    it(`refuses env: ${name} at file:line:col with exit 1`, async () => {
      const { dir, file } = catalogReading(name);
      const r = await validate(dir);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(`${file}:6:31: params.token.env: names a variable edgeops itself reads (SLACK_…, PAGERDUTY_…, EDGEOPS_…)`);
      expect(r.stdout + r.stderr).toContain('keep the value in a variable such as EDGEOPS_SECRET_API_TOKEN');
    });
  }

  it('accepts env: EDGEOPS_SECRET_X and an ordinary name', async () => {
    for (const name of ['EDGEOPS_SECRET_X', 'PAYMENTS_API_TOKEN']) {
      const { dir } = catalogReading(name);
      const r = await validate(dir);
      expect(r.stdout + r.stderr, name).not.toMatch(/error/i);
      expect(r.code, name).toBe(0);
    }
  });
});

describe('starting with a procedure whose secret names the signing secret', () => {
  it('edgeops run refuses to load the catalog, runs nothing and names file:line:col', async () => {
    const { dir, file } = catalogReading('SLACK_SIGNING_SECRET');
    const r = await runCli(['run', 'grab', '--env', 'prod', '--as', 'U0OPERATOR1'], {
      cwd: dir,
      env: {
        EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
        EDGEOPS_POLICIES: path.join(dir, 'policies'),
        EDGEOPS_COMMANDS: path.join(dir, 'commands'),
        SLACK_SIGNING_SECRET: 'the-signing-secret-0123456789',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:6:31: params.token.env: names a variable edgeops itself reads`);
    expect(r.stdout).not.toContain('ran');
    expect(r.stdout + r.stderr).not.toContain('the-signing-secret-0123456789');
  });
});
