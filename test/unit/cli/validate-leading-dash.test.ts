// `edgeops validate` takes allow_leading_dash: true where a value can begin with "-", and refuses it, at its line, where none can.
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.js';
import { tempCatalog } from '../catalog/temp-catalog.js';

const POLICY = `version: 1
roles:
  sre-oncall: { users: [U0SRE0001] }
rules:
  - roles: [sre-oncall]
    allow: ["*"]
`;

async function validate(root: string) {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        append(String(chunk));
        done();
      },
    });
  const code = await runCli(['validate', '--policies', 'policies', '--commands', 'commands'], {
    stdin: new PassThrough(),
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    env: {},
    cwd: root,
  });
  return { code, stdout, stderr };
}

const procedure = (name: string, params: string) => `name: ${name}
description: Sorts a file
owner: "@team"
environments: [prod]
params:
${params}
steps:
  - name: sort
    run: ["sort", "{{file}}"]
`;

describe('edgeops validate and allow_leading_dash', () => {
  it('accepts allow_leading_dash: true on a string param', async () => {
    const c = tempCatalog({ 'policies/default.yaml': POLICY });
    c.write('commands/sort-file.yaml', procedure('sort-file', '  file: { type: string, allow_leading_dash: true }'));
    const r = await validate(c.root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*1 procedure/);
  });

  it('refuses allow_leading_dash on a secret param, at its line, saying why', async () => {
    const c = tempCatalog({ 'policies/default.yaml': POLICY });
    c.write(
      'commands/sort-file.yaml',
      procedure('sort-file', '  file: { type: string }\n  token:\n    type: secret\n    env: SORT_TOKEN\n    allow_leading_dash: true'),
    );
    const r = await validate(c.root);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^commands\/sort-file\.yaml:10:\d+: params\.token\.allow_leading_dash: allow_leading_dash makes no sense on a secret parameter: a secret never fills an argument .*; remove it$/m,
    );
  });

  it('refuses an enum offering a value beginning with "-" where it begins an argument, without allow_leading_dash', async () => {
    const c = tempCatalog({ 'policies/default.yaml': POLICY });
    c.write('commands/sort-file.yaml', procedure('sort-file', '  file: { type: enum, values: [a.txt, -o] }'));
    const r = await validate(c.root);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('{{file}} begins this argument and may be "-o", which would be refused at run time');
  });
});
