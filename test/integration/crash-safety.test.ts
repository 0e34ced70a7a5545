// Crash safety: a console killed with SIGKILL mid-burst loses no acknowledged note and leaves a sound chain.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

const USER = 'U0LOCAL01';
const ACK = '(only you) Noted on INC-1.';
/** Kill once this many notes are acknowledged… */
const KILL_AT = 100;
/** …and at least this many more are sent but not yet acknowledged, so the kill lands mid-burst. */
const BACKLOG = 250;
/** Lines written at a time; a console that catches up before the kill is fed another burst. */
const BURST = 1_000;

let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const closed = new Promise((resolve) => child!.once('close', resolve));
    child.kill('SIGKILL');
    await closed;
  }
  child = undefined;
  removeTempDirs();
});

interface Burst {
  /** Note texts in the order their acknowledgements were printed. */
  acked: string[];
  /** Notes written to the console's stdin before the kill. */
  sent: number;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/**
 * Declares INC-1, then streams `/incident note note-<i>` lines, topping the pipe up so that it never
 * runs dry, and sends SIGKILL once KILL_AT acknowledgements have been read with BACKLOG still pending.
 */
function burstThenKill(db: string): Promise<Burst> {
  const proc = spawnCli(['console', '--as', USER], { env: { EDGEOPS_DB: db } });
  child = proc;
  const acked: string[] = [];
  let sent = 0;
  let killed = false;
  let lastEchoed: string | undefined;
  let partial = '';
  let stderr = '';

  const feed = (count: number): void => {
    const lines: string[] = [];
    for (let i = 0; i < count; i += 1) lines.push(`/incident note note-${sent + i + 1}\n`);
    sent += count;
    proc.stdin!.write(lines.join(''));
  };

  // Writes that race the kill find the pipe closed; that is expected.
  proc.stdin!.on('error', () => undefined);
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      // Piped input is echoed after the prompt, so each acknowledgement follows the line it answers.
      const echoed = /^U0LOCAL01 #\S+> \/incident note (\S+)$/.exec(line);
      if (echoed) lastEchoed = echoed[1];
      else if (line === ACK) acked.push(lastEchoed ?? '(no echoed line before this acknowledgement)');
    }
    if (killed) return;
    const backlog = sent - acked.length;
    if (acked.length >= KILL_AT && backlog >= BACKLOG) {
      killed = true;
      proc.kill('SIGKILL');
    } else if (backlog < BACKLOG) {
      feed(BURST);
    }
  });

  proc.stdin!.write('/incident declare Checkout errors sev=2\n');
  feed(BURST);
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code, signal) => resolve({ acked, sent, signal, code, stderr }));
  });
}

interface AuditRow {
  seq: number;
  kind: string;
  payload: string;
}

function readBack(db: string): { rows: AuditRow[]; causes: number[] } {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const rows = conn.prepare('SELECT seq, kind, payload FROM audit_log ORDER BY seq').all() as AuditRow[];
    const causes = (conn.prepare('SELECT cause_seq FROM outbox ORDER BY cause_seq').all() as Array<{ cause_seq: number }>).map((r) => r.cause_seq);
    return { rows, causes };
  } finally {
    conn.close();
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('crash safety of the console and the audit log', () => {
  it('keeps every acknowledged note, a gapless verified chain and a working store after kill -9 mid-burst', async () => {
    const dir = makeTempDir('crash');
    const db = path.join(dir, 'edgeops.db');

    const burst = await burstThenKill(db);
    expect(burst.signal, `the console should have been killed, but exited with ${burst.code}:\n${burst.stderr}`).toBe('SIGKILL');
    // The kill landed mid-burst: enough notes were acknowledged, and some that were sent were not.
    expect(burst.acked.length).toBeGreaterThanOrEqual(KILL_AT);
    expect(burst.acked.length).toBeLessThan(burst.sent);
    // Acknowledgements answer the notes in the order they were typed.
    expect(burst.acked).toEqual(range(1, burst.acked.length).map((i) => `note-${i}`));

    const verified = await runCli(['audit', 'verify'], { env: { EDGEOPS_DB: db } });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);

    const { rows, causes } = readBack(db);
    const n = rows.length;
    expect(verified.stdout).toContain(`audit chain intact: ${n} rows, last seq ${n},`);
    expect(rows.map((r) => r.seq)).toEqual(range(1, n));
    expect(rows[0]!.kind).toBe('incident.declared');
    const notes = rows.slice(1).map((r) => {
      expect(r.kind).toBe('incident.note');
      return (JSON.parse(r.payload) as { text: string }).text;
    });
    // Committed notes are exactly the first ones typed: none lost, skipped or doubled; the burst
    // was cut short, and every acknowledged note is among them.
    expect(notes).toEqual(range(1, notes.length).map((i) => `note-${i}`));
    expect(notes.length).toBeGreaterThanOrEqual(burst.acked.length);
    expect(notes.length).toBeLessThan(burst.sent);
    expect(notes.slice(0, burst.acked.length)).toEqual(burst.acked);
    // Each event was committed together with its channel message, never one without the other.
    expect(causes).toEqual(range(1, n));

    const after = await runCli(['console', '--as', USER], { env: { EDGEOPS_DB: db }, input: '/incident note after-crash incident=INC-1\n' });
    expect(after.stderr).toBe('');
    expect(after.code).toBe(0);
    expect(after.stdout).toContain(ACK);

    const reverified = await runCli(['audit', 'verify'], { env: { EDGEOPS_DB: db } });
    expect(reverified.code).toBe(0);
    expect(reverified.stdout).toContain(`audit chain intact: ${n + 1} rows, last seq ${n + 1},`);
    const last = readBack(db).rows.at(-1)!;
    expect(last.seq).toBe(n + 1);
    expect(JSON.parse(last.payload)).toMatchObject({ text: 'after-crash' });
  });
});
