// A secret param's value, or a credential of the bot, printed every way a step can, must surface nowhere: console, `edgeops run`, log, database, exports.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, runCli, spawnCli } from '../helpers/run-cli.js';
import { leakedEncoding } from '../helpers/secret-leaks.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'canary');
const HOSTILE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'hostile');
const OPERATOR = 'U0CANARY1';
const MASK = '[secret]';

afterEach(() => removeTempDirs());

/** A console child driven line by line: waits on its output as a person at the terminal would. */
function converse(child: ChildProcess) {
  let stdout = '';
  let stderr = '';
  const waiting: Array<{ text: string; resolve: () => void }> = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const w of waiting.filter((w) => stdout.includes(w.text))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return {
    type: (...lines: string[]): void => void child.stdin!.write(lines.map((l) => `${l}\n`).join('')),
    /** Resolves once `text` has been printed; fails if the console ends first. */
    until: (text: string): Promise<void> =>
      stdout.includes(text)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiting.push({ text, resolve })),
            closed.then((code) => {
              throw new Error(`the console ended (exit ${code}) before printing ${JSON.stringify(text)}:\n${stdout}\n${stderr}`);
            }),
          ]),
    async end(): Promise<{ code: number | null; stdout: string; stderr: string }> {
      child.stdin!.end();
      const code = await closed;
      return { code, stdout, stderr };
    },
  };
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('a secret param at the CLI', () => {
  it('is masked in the console, edgeops run, the log, the database and its WAL, and every export', async () => {
    const canary = `cnry${randomBytes(16).toString('hex')}`;
    const work = makeTempDir('canary');
    const dataDir = path.join(work, 'data');
    const dbPath = path.join(dataDir, 'edgeops.db');
    const env = {
      EDGEOPS_DB: dbPath,
      EDGEOPS_POLICIES: path.join(FIXTURE, 'policies'),
      EDGEOPS_COMMANDS: path.join(FIXTURE, 'commands'),
      LOG_LEVEL: 'debug',
      CANARY_TOKEN: canary,
    };
    const holdsCanary = (bytes: Buffer): boolean => bytes.includes(canary);
    const dbBytes = (): Buffer => Buffer.concat([dbPath, `${dbPath}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));

    // The console, as piped into by a person: the run's result arrives while it still has the database open.
    const console1 = converse(spawnCli(['console', '--as', OPERATOR], { cwd: work, env }));
    console1.type('/incident declare Canary check sev=3', '/runbook run leak-canary');
    await console1.until('✅ R-1 leak-canary (staging) succeeded');
    expect(existsSync(`${dbPath}-wal`)).toBe(true);
    const open = dbBytes();
    expect(holdsCanary(open)).toBe(false);
    expect(open.includes('stdout token=[secret]')).toBe(true);
    console1.type('/runbook run leak-canary --dry-run', '/runbook status R-1', '/incident timeline limit=100');
    const session = await console1.end();
    expect(session.stderr).toBe('');
    expect(session.code).toBe(0);
    for (const line of ['stdout token=[secret]', 'stderr token=[secret]', 'TOKEN=[secret]', 'split token=[secret]']) {
      expect(session.stdout).toContain(line);
    }
    expect(session.stdout).toContain('1. leak: argv ["/bin/sh","-c",');
    expect(session.stdout).toContain('env TOKEN');
    expect(session.stdout).not.toContain(canary);

    // `edgeops run` prints each step's output in full.
    const cli = await runCli(['run', 'leak-canary', '--env', 'staging', '--as', OPERATOR, '--incident', 'INC-1'], { cwd: work, env });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^R-2 leak-canary \(staging\) started\n/);
    // stdout and stderr are two pipes: the stderr line may land anywhere among the stdout lines.
    for (const line of ['stdout token=[secret]\n', 'stderr token=[secret]\n', '\nTOKEN=[secret]\n']) expect(cli.stdout).toContain(line);
    expect(cli.stdout).toContain('split token=[secret]\n');
    expect(cli.stdout).not.toContain(canary);

    const exported: Record<string, string> = {};
    for (const format of ['md', 'json', 'html']) {
      const out = await runCli(['export', 'INC-1', '--format', format, '--out', `exports/INC-1.${format}`], { cwd: work, env });
      expect(out.code).toBe(0);
      expect(out.stdout + out.stderr).not.toContain(canary);
      exported[format] = readFileSync(path.join(work, 'exports', `INC-1.${format}`), 'utf8');
    }
    for (const [format, text] of Object.entries(exported)) {
      expect(text, format).toContain(MASK);
      expect(text, format).not.toContain(canary);
    }
    const json = JSON.parse(exported.json!) as { runs: Array<{ id: string; steps: Array<{ output_excerpt?: string }> }> };
    expect(json.runs.map((r) => r.id)).toEqual(['R-1', 'R-2']);
    expect(JSON.stringify(json.runs)).toContain('stderr token=[secret]');

    // After every process has closed the database, nothing anywhere in the data or export folders holds it.
    const logFile = path.join(dataDir, 'edgeops.log');
    expect(existsSync(logFile)).toBe(true);
    expect(dbBytes().includes(MASK)).toBe(true);
    const files = filesUnder(work);
    expect(files).toEqual(expect.arrayContaining([dbPath, logFile, path.join(work, 'exports', 'INC-1.md')]));
    expect(files.filter((f) => holdsCanary(readFileSync(f)))).toEqual([]);
  });

  it('is refused when given in chat or on the command line, and nothing of it is kept', async () => {
    const canary = `cnry${randomBytes(16).toString('hex')}`;
    const work = makeTempDir('canary-chat');
    const dbPath = path.join(work, 'data', 'edgeops.db');
    const env = {
      EDGEOPS_DB: dbPath,
      EDGEOPS_POLICIES: path.join(FIXTURE, 'policies'),
      EDGEOPS_COMMANDS: path.join(FIXTURE, 'commands'),
      LOG_LEVEL: 'debug',
      CANARY_TOKEN: 'the-one-in-the-environment',
    };
    const typed = `/runbook run leak-canary token=${canary}`;
    const chat = await runCli(['console', '--as', OPERATOR], { cwd: work, env, input: `/incident declare Canary in chat\n${typed}\n` });
    expect(chat.stderr).toBe('');
    expect(chat.code).toBe(0);
    expect(chat.stdout).toContain(
      `${typed}\n✗ error: leak-canary: a parameter was refused: token is a secret: it is read from the bot's environment variable CANARY_TOKEN and can never be given in chat or on the command line\n`,
    );
    // The only place it shows is the echo of what was typed.
    expect(chat.stdout.split('\n').filter((l) => l.includes(canary))).toEqual([`${OPERATOR} #inc-1-canary-in-chat> ${typed}`]);

    const cli = await runCli(['run', 'leak-canary', `token=${canary}`, '--env', 'staging', '--as', OPERATOR], { cwd: work, env });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(
      /^edgeops run: leak-canary: a parameter was refused: token is a secret: .* can never be given in chat or on the command line\n$/,
    );
    expect(cli.stdout + cli.stderr).not.toContain(canary);

    // Neither request was recorded: the log holds only the declaration.
    const verify = await runCli(['audit', 'verify'], { cwd: work, env });
    expect(verify.stdout).toMatch(/^audit chain intact: 1 rows,/);
    expect(filesUnder(work).filter((f) => readFileSync(f).includes(canary))).toEqual([]);
  });
});

describe("the bot's credentials at the CLI", () => {
  it('read by a step from /proc/<bot>/environ and printed encoded, surface in no output, log, database or export', async () => {
    const work = makeTempDir('credentials');
    const dbPath = path.join(work, 'data', 'edgeops.db');
    const credentials = {
      EDGEOPS_AUDIT_KEY: randomBytes(32).toString('hex'),
      PAGERDUTY_API_TOKEN: `u+${randomBytes(12).toString('base64url')}`,
      PAGERDUTY_WEBHOOK_SECRETS: `${randomBytes(16).toString('base64')},${randomBytes(16).toString('hex')}`,
      SLACK_SIGNING_SECRET: randomBytes(16).toString('hex'),
    };
    const env = {
      EDGEOPS_DB: dbPath,
      EDGEOPS_POLICIES: path.join(HOSTILE, 'policies'),
      EDGEOPS_COMMANDS: path.join(HOSTILE, 'commands'),
      LOG_LEVEL: 'debug',
      ...credentials,
    };
    const values = [
      credentials.EDGEOPS_AUDIT_KEY,
      credentials.PAGERDUTY_API_TOKEN,
      ...credentials.PAGERDUTY_WEBHOOK_SECRETS.split(','),
      credentials.SLACK_SIGNING_SECRET,
    ];

    const cli = await runCli(['run', 'steal-credentials', '--env', 'staging', '--as', OPERATOR], { cwd: work, env });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    // It did read them all, and printed each (masked) in every encoding.
    expect(cli.stdout).toContain('read /proc/');
    expect(cli.stdout).toContain('environ: 4 credentials');
    for (const line of [
      'EDGEOPS_AUDIT_KEY raw=[secret]',
      'SLACK_SIGNING_SECRET hex=[secret]',
      'PAGERDUTY_API_TOKEN url=[secret]',
      'PAGERDUTY_WEBHOOK_SECRETS base64+2=',
    ]) {
      expect(cli.stdout).toContain(line);
    }
    const sinks: Record<string, string | Buffer> = { stdout: cli.stdout };
    for (const file of filesUnder(work)) sinks[path.relative(work, file)] = readFileSync(file);
    expect(Object.keys(sinks)).toEqual(expect.arrayContaining([path.join('data', 'edgeops.db'), path.join('data', 'edgeops.log')]));
    const leaks = Object.entries(sinks).flatMap(([sink, text]) =>
      values.flatMap((value, i) => {
        const how = leakedEncoding(text, value);
        return how ? [`credential ${i} ${how} in ${sink}`] : [];
      }),
    );
    expect(leaks).toEqual([]);
  });
});
