// Under umask 022, what edgeops writes about incidents is its owner's only: data folder 0700; database, -wal, -shm, key, log and exports 0600.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, builtCli, cliEnv, spawnCli } from '../helpers/run-cli.js';

let dir: string;
let umaskBefore: number;

const modeOf = (file: string): string => (statSync(file).mode & 0o777).toString(8).padStart(4, '0');

const env = (): Record<string, string> => ({
  EDGEOPS_DB: path.join(dir, 'data', 'edgeops.db'),
  EDGEOPS_POLICIES: path.join(PACKAGE_ROOT, 'policies'),
  EDGEOPS_COMMANDS: path.join(PACKAGE_ROOT, 'commands'),
  PORT: '0',
});

function edgeops(args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtCli(), ...args], { cwd: dir, input, encoding: 'utf8', env: cliEnv(env()), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  // The common default, under which files are created world-readable unless edgeops says otherwise.
  umaskBefore = process.umask(0o022);
  dir = mkdtempSync(path.join(tmpdir(), 'edgeops-file-modes-'));
});
afterAll(() => {
  process.umask(umaskBefore);
  rmSync(dir, { recursive: true, force: true });
});

describe('file modes under umask 022', () => {
  it('creates the data folder 0700 and the database, audit key, log and local-mode exports 0600', () => {
    const run = edgeops(
      ['console', '--as', 'U0LOCAL01'],
      ['/incident declare Card payments failing sev=2', '/incident note customer list attached', '/incident export', ''].join('\n'),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Transcript of INC-1 (md)');
    const data = path.join(dir, 'data');
    expect(modeOf(data)).toBe('0700');
    expect(modeOf(path.join(data, 'edgeops.db'))).toBe('0600');
    expect(modeOf(path.join(data, 'audit.key'))).toBe('0600');
    expect(modeOf(path.join(data, 'edgeops.log'))).toBe('0600');
    expect(modeOf(path.join(dir, 'exports'))).toBe('0700');
    expect(modeOf(path.join(dir, 'exports', 'INC-1.md'))).toBe('0600');
  });

  it('writes `edgeops export --out` files 0600 in a folder it creates 0700', () => {
    const out = edgeops(['export', 'INC-1', '--format', 'json', '--out', 'postmortems/inc-1.json']);
    expect(out.code, out.stderr).toBe(0);
    expect(modeOf(path.join(dir, 'postmortems'))).toBe('0700');
    expect(modeOf(path.join(dir, 'postmortems', 'inc-1.json'))).toBe('0600');
  });

  it('keeps the -wal and -shm files SQLite creates while serving 0600', async () => {
    const child = spawnCli(['serve'], { cwd: dir, env: env() });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await expect.poll(() => /http\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { timeout: 20_000 }).toBeTruthy();
      const base = /http\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      // A write through the console, so the log holds a transaction while we look.
      child.stdin!.write('/incident note WAL written while serving\n');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const db = path.join(dir, 'data', 'edgeops.db');
      await expect.poll(() => existsSync(`${db}-wal`) && existsSync(`${db}-shm`), { timeout: 10_000 }).toBe(true);
      expect(modeOf(`${db}-wal`)).toBe('0600');
      expect(modeOf(`${db}-shm`)).toBe('0600');
      expect(modeOf(db)).toBe('0600');
    } finally {
      child.stdin!.end();
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('narrows a database and log an earlier version left world-readable to 0600 when it next opens them', () => {
    const data = path.join(dir, 'data');
    chmodSync(path.join(data, 'edgeops.db'), 0o644);
    chmodSync(path.join(data, 'edgeops.log'), 0o644);
    const migrated = edgeops(['migrate']);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(modeOf(path.join(data, 'edgeops.db'))).toBe('0600');
    const console = edgeops(['console', '--as', 'U0LOCAL01'], '/incident list\n');
    expect(console.code, console.stderr).toBe(0);
    expect(modeOf(path.join(data, 'edgeops.log'))).toBe('0600');
  });
});
