// Runs a command in a fresh child process and measures its wall time and peak resident memory.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildMeasure {
  code: number | null;
  wallMs: number;
  /** Peak resident set size in MB (1 MB = 1024 KB). */
  peakRssMb: number;
  /** CPU time, user plus system: unlike wall time, barely moved by other load on the machine. */
  cpuMs: number;
  stdout: string;
  stderr: string;
}

export type RssMethod = 'gnu-time' | 'resource-usage';

const GNU_TIME = '/usr/bin/time';
/** Peak RSS in KB, then user and system CPU seconds; the rss probe writes the same line. */
const FORMAT = '%M %U %S';
let method: RssMethod | undefined;

/** GNU time (`-f %M`) measures the whole process from outside; otherwise the child reports its own maxRSS. */
export function rssMethod(): RssMethod {
  if (method) return method;
  method = 'resource-usage';
  // BENCH_RSS_METHOD=resource-usage forces the fallback, to compare the two or to check it still works.
  if (existsSync(GNU_TIME) && process.env.BENCH_RSS_METHOD !== 'resource-usage') {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-bench-probe-'));
    try {
      const out = path.join(dir, 'rss');
      const probe = spawnSync(GNU_TIME, ['-f', FORMAT, '-o', out, process.execPath, '-e', '0']);
      if (probe.status === 0 && /^\d+ [\d.]+ [\d.]+\s*$/.test(readFileSync(out, 'utf8'))) method = 'gnu-time';
    } catch {
      // Not GNU time (BusyBox, BSD): fall back to the child's own report.
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return method;
}

const probeModule = fileURLToPath(new URL('./rss-probe.js', import.meta.url));

/** Runs `node ARGS…` with `env`, from `cwd`. */
export async function measureNode(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): Promise<ChildMeasure> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-bench-rss-'));
  const rssFile = path.join(dir, 'rss');
  const how = rssMethod();
  const [command, argv] =
    how === 'gnu-time' ? [GNU_TIME, ['-f', FORMAT, '-o', rssFile, process.execPath, ...args]] : [process.execPath, ['--import', probeModule, ...args]];
  const env = how === 'gnu-time' ? options.env : { ...options.env, BENCH_RSS_FILE: rssFile };
  try {
    const started = process.hrtime.bigint();
    const child = spawn(command, argv, { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    // GNU time puts "Command exited with non-zero status N" before the figures when the child fails.
    const last = existsSync(rssFile) ? readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)! : '';
    const [kb = Number.NaN, user = Number.NaN, sys = Number.NaN] = last.split(' ').map(Number);
    return { code, wallMs, peakRssMb: kb / 1024, cpuMs: (user + sys) * 1000, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
