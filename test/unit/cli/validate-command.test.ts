// `edgeops validate` in-process: every broken file reported at file:line:col with exit 1; the shipped policy passes.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../../src/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BROKEN = 'test/fixtures/broken-catalog';
const EXAMPLE_COMMANDS = 'test/fixtures/catalog-example/commands';

async function cli(argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        append(String(chunk));
        done();
      },
    });
  const code = await runCli(argv, {
    stdin: new PassThrough(),
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    env: options.env ?? {},
    cwd: options.cwd ?? ROOT,
  });
  return { code, stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '') };
}

/** Each broken file, the line its (first) finding is on, and words the message must hold. */
const BROKEN_FILES: Array<[file: string, line: number, says: string]> = [
  ['policies/syntax.yaml', 4, 'YAML syntax'],
  ['policies/typo-key.yaml', 4, 'unknown key "alow" (did you mean "allow"?)'],
  ['policies/unknown-role.yaml', 5, 'unknown role "sre-on-call"'],
  ['policies/allow-and-deny.yaml', 3, 'exactly one of `allow` or `deny`'],
  ['policies/bad-expires.yaml', 9, '"15 minutes" is not a duration'],
  ['policies/duplicate-role.yaml', 4, 'role "support" is already defined in base.yaml'],
  ['policies/empty.yaml', 1, 'file is empty'],
  ['policies/display-name.yaml', 4, 'never display names'],
  ['policies/unknown-action.yaml', 4, 'unknown action "restart"'],
  ['policies/never-matches.yaml', 3, 'can never match'],
  ['policies/unknown-procedure.yaml', 5, 'unknown procedure "restart-servce" (did you mean "restart-service"?)'],
  ['policies/approval-on-deny.yaml', 5, '`approval` only belongs on an `allow` rule'],
  ['policies/bad-version.yaml', 1, 'version: must be 1'],
  ['commands/bad-regex.yaml', 6, 'not a valid regular expression'],
  ['commands/dup-proc.yml', 1, 'procedure "dup-proc" is already defined in dup-proc.yaml'],
  ['commands/wrong-name.yaml', 1, 'name "right-name" does not match the file name'],
  ['commands/bad-template.yaml', 9, 'unknown template variable {{hostname}}'],
  ['commands/no-steps.yaml', 1, 'missing required key "steps"'],
  ['commands/run-and-http.yaml', 6, 'exactly one of `run` (argv) or `http`'],
  ['commands/bad-timeout.yaml', 5, '"5 minutes" is not a duration'],
  ['commands/bad-enum-default.yaml', 9, 'default "search" is not one of checkout, payments'],
  ['commands/empty.yaml', 1, 'file is empty'],
  ['commands/trigger-with.yaml', 14, 'trigger sets "instance", which is not a parameter'],
  ['commands/tab-indent.yaml', 3, 'Tabs are not allowed'],
  ['commands/bad-param-type.yaml', 6, 'must be one of string, int, bool, enum, duration, secret'],
  ['commands/secret-in-argv.yaml', 9, 'secret {{token}} cannot be used here'],
];

describe('edgeops validate on a folder of broken files', () => {
  it('reports every broken file at file:line:col and exits 1', async () => {
    const r = await cli(['validate', '--policies', `${BROKEN}/policies`, '--commands', `${BROKEN}/commands`]);
    expect(r.code).toBe(1);
    expect(BROKEN_FILES.length).toBeGreaterThanOrEqual(15);
    for (const [file, line, says] of BROKEN_FILES) {
      const prefix = `${BROKEN}/${file}:${line}:`;
      const hit = r.lines.find((l) => l.startsWith(prefix) && l.includes(says));
      expect(hit, `expected a line starting ${prefix} saying ${says}\n${r.stdout}`).toBeDefined();
      expect(hit).toMatch(/^[^:]+:\d+:\d+: (?!warning)/);
    }
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^edgeops validate: \d+ errors in \d+ files/);
  });

  it('covers every file of the folder but the valid ones', () => {
    const valid = ['policies/base.yaml', 'commands/restart-service.yaml', 'commands/dup-proc.yaml', 'commands/anchored-pattern.yaml'];
    const all = ['policies', 'commands'].flatMap((d) => readdirSync(path.join(ROOT, BROKEN, d)).map((f) => `${d}/${f}`));
    expect(all.filter((f) => !valid.includes(f)).sort()).toEqual(BROKEN_FILES.map(([f]) => f).sort());
  });

  it('reports nothing against the valid files of that folder', async () => {
    const r = await cli(['validate', '--policies', `${BROKEN}/policies`, '--commands', `${BROKEN}/commands`]);
    expect(r.lines.filter((l) => l.includes('/base.yaml:') || l.includes('/restart-service.yaml:'))).toEqual([]);
  });

  it('lists warnings without failing on them', async () => {
    const r = await cli(['validate', '--policies', `${BROKEN}/policies`, '--commands', `${BROKEN}/commands`]);
    expect(r.lines).toContain(
      `${BROKEN}/commands/anchored-pattern.yaml:6:34: warning: parameter "host": pattern "^[a-z.]+$" carries ^/$ anchors; patterns always match the whole value, so drop them`,
    );
  });
});

describe('edgeops validate on valid files', () => {
  it('passes the shipped policies with the example procedures and prints a one-line summary', async () => {
    const r = await cli(['validate', '--policies', 'policies', '--commands', EXAMPLE_COMMANDS]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^ok: 1 policy file \(4 roles, 6 rules\), 5 procedures, 0 warnings; policy sha256 [0-9a-f]{12}$/);
  });

  it('takes the folders from EDGEOPS_POLICIES and EDGEOPS_COMMANDS, relative to the working folder', async () => {
    const r = await cli(['validate'], { env: { EDGEOPS_POLICIES: 'policies', EDGEOPS_COMMANDS: EXAMPLE_COMMANDS } });
    expect(r.code).toBe(0);
    const broken = await cli(['validate', '--commands', EXAMPLE_COMMANDS], { env: { EDGEOPS_POLICIES: `${BROKEN}/policies` } });
    expect(broken.code).toBe(1);
  });

  it('defaults to ./policies and ./commands in the working folder', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'edgeops-validate-'));
    onTestFinished(() => rmSync(cwd, { recursive: true, force: true }));
    cpSync(path.join(ROOT, 'policies'), path.join(cwd, 'policies'), { recursive: true });
    cpSync(path.join(ROOT, EXAMPLE_COMMANDS), path.join(cwd, 'commands'), { recursive: true });
    const r = await cli(['validate'], { cwd });
    expect(r.code).toBe(0);
    rmSync(path.join(cwd, 'commands'), { recursive: true });
    const missing = await cli(['validate'], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.lines).toEqual(['commands: folder not found']);
  });

  it('accepts the viewing actions; the shipped policy grants incident.view and runbook.status to every role', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'edgeops-validate-'));
    onTestFinished(() => rmSync(cwd, { recursive: true, force: true }));
    mkdirSync(path.join(cwd, 'policies'));
    cpSync(path.join(ROOT, EXAMPLE_COMMANDS), path.join(cwd, 'commands'), { recursive: true });
    const policy = (actions: string) => `version: 1\nroles:\n  auditors: { users: [U0AUD0001] }\nrules:\n  - roles: [auditors]\n    allow: [${actions}]\n`;
    writeFileSync(path.join(cwd, 'policies', 'view.yaml'), policy('incident.view, incident.view_private, runbook.status'));
    const ok = await cli(['validate'], { cwd });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    writeFileSync(path.join(cwd, 'policies', 'view.yaml'), policy('incident.view, runbook.statuses'));
    const typo = await cli(['validate'], { cwd });
    expect(typo.code).toBe(1);
    expect(typo.lines[0]).toMatch(/^policies\/view\.yaml:6:\d+: .*unknown action "runbook\.statuses"/);

    const shipped = parse(readFileSync(path.join(ROOT, 'policies', 'default.yaml'), 'utf8')) as { rules: Array<{ roles: string[]; allow?: string[] }> };
    const everyone = shipped.rules.filter((r) => r.roles.includes('*') && r.allow).flatMap((r) => r.allow!);
    expect(everyone).toEqual(expect.arrayContaining(['incident.view', 'runbook.status']));
    expect(everyone).not.toContain('incident.view_private');
  });

  it('refuses unknown options with a one-line reason', async () => {
    const r = await cli(['validate', '--polices', 'policies']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/edgeops validate: .*--polices/);
  });
});
