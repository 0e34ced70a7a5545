// `edgeops console` and `edgeops run` on PostgreSQL: they need the audit key of the shared chain, and say which database they use.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRows } from '../../helpers/backends.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { runCli } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { writeRunCatalog } from '../runs/run-fixture.js';

const KEY = 'l'.repeat(64);

let database: TestDatabase | undefined;

afterEach(async () => {
  removeTempDirs();
  await database?.drop();
  database = undefined;
});

async function setup(): Promise<{ dir: string; env: Record<string, string>; url: string }> {
  const dir = makeTempDir('pg-local');
  const { policiesDir, commandsDir } = writeRunCatalog(dir);
  database = await testDatabase('pg_local');
  const env = {
    EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
    EDGEOPS_POLICIES: policiesDir,
    EDGEOPS_COMMANDS: commandsDir,
    EDGEOPS_DATABASE_URL: database.url,
  };
  return { dir, env, url: database.url };
}

describe('local mode on PostgreSQL', () => {
  it('refuses to start without EDGEOPS_AUDIT_KEY, generating no key file and writing nothing', async () => {
    const { dir, env, url } = await setup();
    for (const args of [
      ['run', 'echo-args', 'msg=hello', '--as', 'U0DEV0001'],
      ['console', '--as', 'U0DEV0001'],
    ]) {
      const result = await runCli(args, { env, input: '/incident declare Disk full\n' });
      expect(result.code, args[0]).not.toBe(0);
      expect(result.stderr, args[0]).toContain('EDGEOPS_AUDIT_KEY: required with EDGEOPS_DATABASE_URL');
      expect(result.stderr, args[0]).not.toContain(url);
    }
    // No key of this process's own: every process on the database writes one chain, with one key.
    expect(existsSync(path.join(dir, 'data', 'audit.key'))).toBe(false);
    expect(existsSync(path.join(dir, 'commands', 'out')) ? readdirSync(path.join(dir, 'commands', 'out')) : []).toEqual([]);
    const tables = await readRows<{ n: number }>({ url }, "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'audit_log'");
    if (tables[0]!.n > 0) expect(await readRows({ url }, 'SELECT seq FROM audit_log')).toEqual([]);
  });

  it('names the PostgreSQL database it uses, password masked, in the console banner; audit verify passes with the same key', async () => {
    const { env, url } = await setup();
    const withKey = { ...env, EDGEOPS_AUDIT_KEY: KEY };
    const session = await runCli(['console', '--as', 'U0DEV0001'], { env: withKey, input: '/incident declare Disk full\n' });
    expect(session.code).toBe(0);
    const shown = new URL(url);
    expect(session.stdout).toContain(`  database   postgres://${shown.username}:***@${shown.host}${shown.pathname}`);
    expect(session.stdout).not.toContain(env.EDGEOPS_DB);
    expect(session.stdout).not.toContain(decodeURIComponent(shown.password));
    expect(await readRows<{ kind: string }>({ url }, 'SELECT kind FROM audit_log ORDER BY seq')).toEqual([{ kind: 'incident.declared' }]);
    expect((await runCli(['audit', 'verify'], { env: withKey })).code).toBe(0);
  });
});
