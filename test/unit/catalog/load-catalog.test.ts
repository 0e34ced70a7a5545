// Loading policies and procedures: positions of every error, merging, hashing, folder problems.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatCatalogError, type CatalogError } from '../../../src/catalog/catalog-error.js';
import { hashFiles, loadCatalog, type LoadCatalogResult } from '../../../src/catalog/load-catalog.js';
import { MINIMAL_POLICY, RESTART_SERVICE, tempCatalog } from './temp-catalog.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

function errorsOf(result: LoadCatalogResult): CatalogError[] {
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

/** `name:line:col: message` with the folder stripped, for compact expectations. */
const short = (e: CatalogError) => formatCatalogError(e, { file: path.basename(e.file) });

describe('loadCatalog on the shipped policy', () => {
  it('loads policies/ with the example procedures and records where each rule was written', () => {
    const result = loadCatalog({
      policiesDir: path.join(ROOT, 'policies'),
      commandsDir: path.join(ROOT, 'test/fixtures/catalog-example/commands'),
    });
    if (!result.ok) throw new Error(result.errors.map((e) => formatCatalogError(e)).join('\n'));
    const { catalog } = result;
    expect(catalog.policyHash).toMatch(/^[0-9a-f]{64}$/);
    expect([...catalog.procedures.keys()].sort()).toEqual(['diag-disk', 'diag-dns', 'diag-http', 'diag-logs', 'restart-service']);
    expect(Object.keys(catalog.policy.roles).sort()).toEqual(['developer', 'pagerduty', 'sre-oncall', 'support']);
    expect(catalog.policy.rules[0]!.source).toEqual({ file: 'default.yaml', index: 0, line: expect.any(Number) });
    expect(result.warnings).toEqual([]);
  });
});

describe('positions of errors', () => {
  it('points an unknown key at the key itself', () => {
    const c = tempCatalog({
      'policies/a.yaml': 'version: 1\nroles:\n  ops: { users: [U0OPS0001] }\nrules:\n  - roles: [ops]\n    alow: [run]\n',
    });
    const errors = errorsOf(loadCatalog(c)).map(short);
    expect(errors).toContain('a.yaml:6:5: rules[0]: unknown key "alow" (did you mean "allow"?)');
    expect(errors).toContain('a.yaml:5:5: rules[0]: a rule has exactly one of `allow` or `deny`');
  });

  it('points a bad value inside a flow sequence at that element', () => {
    const c = tempCatalog({ 'policies/a.yaml': 'version: 1\nroles:\n  ops: { users: [U0OPS0001, "@bob"] }\n' });
    expect(errorsOf(loadCatalog(c)).map(short)).toEqual(['a.yaml:3:29: roles.ops.users[1]: users are Slack user IDs (U… or W…), never display names']);
  });

  it('points a missing key at the mapping that lacks it', () => {
    const c = tempCatalog({
      'policies/a.yaml': MINIMAL_POLICY,
      'commands/restart-service.yaml': RESTART_SERVICE,
      'commands/x.yaml': '# a comment first\nname: x\ndescription: d\nowner: o\nenvironments: [prod]\n',
    });
    expect(errorsOf(loadCatalog(c)).map(short)).toEqual(['x.yaml:2:1: missing required key "steps"']);
  });

  it('reports YAML syntax errors at their own position', () => {
    const c = tempCatalog({ 'policies/a.yaml': 'version: 1\nroles:\n  ops: { users: [U0OPS0001] }\n  ops: {}\n' });
    const [e] = errorsOf(loadCatalog(c));
    expect(short(e!)).toMatch(/^a\.yaml:4:3: YAML syntax: Map keys must be unique/);
  });

  it('points a role defined in two files at the second definition', () => {
    const c = tempCatalog({
      'policies/a.yaml': MINIMAL_POLICY,
      'policies/b.yaml':
        'version: 1\nroles:\n  auditors: { users: [U0AUD0001] }\n  developer: { users: [U0DEV0009] }\nrules:\n  - roles: [auditors]\n    allow: [incident.export]\n',
      'commands/restart-service.yaml': RESTART_SERVICE,
    });
    expect(errorsOf(loadCatalog(c)).map(short)).toEqual(['b.yaml:4:3: role "developer" is already defined in a.yaml; define each role in one file only']);
  });

  it('points a bad procedure duration and a bad step at their nodes', () => {
    const c = tempCatalog({
      'policies/a.yaml': MINIMAL_POLICY,
      'commands/restart-service.yaml': RESTART_SERVICE.replace(
        'steps:\n',
        'timeout: 5 minutes\nsteps:\n  - name: both\n    run: [x]\n    http: { url: "https://x.internal/" }\n',
      ),
    });
    expect(errorsOf(loadCatalog(c)).map(short)).toEqual([
      'restart-service.yaml:8:10: timeout: "5 minutes" is not a duration; write e.g. 30s, 5m, 1h',
      'restart-service.yaml:10:5: steps[0]: a step has exactly one of `run` (argv) or `http`',
    ]);
  });
});

describe('folders and merging', () => {
  it('merges several policy files, keeping each rule with its file and line', () => {
    const c = tempCatalog({
      'policies/a.yaml': MINIMAL_POLICY,
      'policies/b.yaml': 'version: 1\nrules:\n  - roles: ["*"]\n    allow: [incident.declare]\n',
      'commands/restart-service.yaml': RESTART_SERVICE,
    });
    const result = loadCatalog(c);
    if (!result.ok) throw new Error(result.errors.map((e) => formatCatalogError(e)).join('\n'));
    expect(result.catalog.policy.rules.map((r) => r.source)).toEqual([
      { file: 'a.yaml', index: 0, line: 6 },
      { file: 'a.yaml', index: 1, line: 8 },
      { file: 'b.yaml', index: 0, line: 3 },
    ]);
    expect(result.catalog.files.policies.map((f) => path.basename(f))).toEqual(['a.yaml', 'b.yaml']);
  });

  it('refuses a policy folder without policy files, and missing folders', () => {
    const c = tempCatalog({ 'commands/restart-service.yaml': RESTART_SERVICE });
    expect(errorsOf(loadCatalog(c)).map((e) => [e.file, e.line, e.message])).toEqual([
      [c.policiesDir, 0, 'no policy files (*.yaml); with no policy every request would be denied'],
    ]);
    const missing = errorsOf(loadCatalog({ policiesDir: path.join(c.root, 'nope'), commandsDir: path.join(c.root, 'nada') }));
    expect(missing.map((e) => formatCatalogError(e))).toEqual([
      `${path.join(c.root, 'nope')}: folder not found`,
      `${path.join(c.root, 'nada')}: folder not found`,
    ]);
  });

  it('accepts an empty commands folder', () => {
    const c = tempCatalog({
      'policies/a.yaml': 'version: 1\nroles:\n  ops: { users: [U0OPS0001] }\nrules:\n  - roles: [ops]\n    allow: [incident.declare]\n',
    });
    const result = loadCatalog(c);
    expect(result.ok).toBe(true);
  });
});

describe('policyHash', () => {
  const file = (name: string, text: string) => ({ file: name, name, bytes: new TextEncoder().encode(text) });

  it('is sha256 over names and bytes, independent of the order files are given in', () => {
    const a = file('a.yaml', 'version: 1\n');
    const b = file('b.yaml', 'rules: []\n');
    expect(hashFiles([a, b])).toBe(hashFiles([b, a]));
    expect(hashFiles([a, b])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with a rename, an edit, or bytes moved between files', () => {
    const base = hashFiles([file('a.yaml', 'xy'), file('b.yaml', 'z')]);
    expect(hashFiles([file('c.yaml', 'xy'), file('b.yaml', 'z')])).not.toBe(base);
    expect(hashFiles([file('a.yaml', 'xY'), file('b.yaml', 'z')])).not.toBe(base);
    expect(hashFiles([file('a.yaml', 'x'), file('b.yaml', 'yz')])).not.toBe(base);
  });

  it('is the same on every load and ignores procedure files', () => {
    const c = tempCatalog({ 'policies/a.yaml': MINIMAL_POLICY, 'commands/restart-service.yaml': RESTART_SERVICE });
    const first = loadCatalog(c);
    c.write('commands/restart-service.yaml', RESTART_SERVICE.replace('Restart one instance', 'Restart an instance'));
    const second = loadCatalog(c);
    if (!first.ok || !second.ok) throw new Error('expected both loads to succeed');
    expect(second.catalog.policyHash).toBe(first.catalog.policyHash);
    expect(second.catalog.commandsHash).not.toBe(first.catalog.commandsHash);
  });
});
