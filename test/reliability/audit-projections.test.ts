// `edgeops audit verify` holds what exports show (titles, run states, approvers, step output) to the audit rows, and a log to an anchored head.
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

let data: string;
let original: string;
let copies = 0;

beforeAll(async () => {
  // The demo leaves a real incident: PagerDuty-declared, three runs with steps, one approved by someone else.
  const dir = makeTempDir('audit-projections');
  data = path.join(dir, 'data');
  original = path.join(data, 'edgeops.db');
  const demo = await runCli(['demo'], { cwd: dir, env: { EDGEOPS_DB: original } });
  expect(demo.code, demo.stderr).toBe(0);
}, 120_000);

afterAll(removeTempDirs);

/** A copy beside the original (so the demo's generated key file applies), with its WAL if any. */
function copyOf(file: string): string {
  copies += 1;
  const copy = path.join(data, `copy-${copies}.db`);
  copyFileSync(file, copy);
  for (const suffix of ['-wal', '-shm']) if (existsSync(file + suffix)) copyFileSync(file + suffix, copy + suffix);
  return copy;
}

/** Edits a file as someone with write access to it would, with the sqlite3 shell. */
function tamper(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

function seqOf(file: string, sql: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

const verify = (file: string, ...extra: string[]) => runCli(['audit', 'verify', '--db', file, ...extra]);

describe('edgeops audit verify, on what exports show', () => {
  it('passes the untouched demo database, counting the rows it checked', async () => {
    const result = await verify(original);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^audit chain intact: \d+ rows, last seq \d+, last hash [0-9a-f]{64}\n/);
    expect(result.stdout).toContain('exported tables match the audit log: 1 incidents, 3 runs, 6 steps, 1 approvals\n');
    expect(result.stdout).toMatch(/\nchecked in \d+\.\d\d s\n$/);
  });

  const cases: Array<{ name: string; sql: string; seq: string; line: (seq: number) => string }> = [
    {
      name: 'the approver of an approval rewritten',
      sql: "UPDATE run_approvals SET approver = 'U0EVIL001' WHERE run_id = 'R-3'",
      seq: "SELECT seq FROM audit_log WHERE kind = 'run.approved' AND json_extract(payload, '$.run') = 'R-3'",
      line: (seq) => `run_approvals row R-3 approver U0EVIL001: approver differs from seq ${seq} (recorded "U01SRE0001", stored "U0EVIL001")`,
    },
    {
      name: "a step's output rewritten",
      sql: "UPDATE run_steps SET output = 'all healthy, nothing restarted' WHERE run_id = 'R-3' AND idx = 1",
      seq: "SELECT seq FROM audit_log WHERE kind = 'run.step_finished' AND json_extract(payload, '$.run') = 'R-3' AND json_extract(payload, '$.index') = 1",
      line: (seq) => `run_steps row R-3 step 1: output differs from seq ${seq} (recorded `,
    },
    {
      name: "the incident's title rewritten",
      sql: "UPDATE incidents SET title = 'Routine maintenance' WHERE id = 'INC-1'",
      seq: "SELECT seq FROM audit_log WHERE kind = 'incident.declared' AND incident_id = 'INC-1'",
      line: (seq) => `incidents row INC-1: title differs from seq ${seq} (recorded "Checkout errors after deploy", stored "Routine maintenance")`,
    },
    {
      name: "a run's state rewritten",
      sql: "UPDATE runs SET state = 'failed' WHERE id = 'R-2'",
      seq: "SELECT seq FROM audit_log WHERE kind = 'run.finished' AND json_extract(payload, '$.run') = 'R-2'",
      line: (seq) => `runs row R-2: state differs from seq ${seq} (recorded "succeeded", stored "failed")`,
    },
    {
      name: "a run's start time moved",
      sql: "UPDATE runs SET started_at = started_at - 3600000 WHERE id = 'R-1'",
      seq: "SELECT seq FROM audit_log WHERE kind = 'run.finished' AND json_extract(payload, '$.run') = 'R-1'",
      line: (seq) => `runs row R-1: started_at differs from seq ${seq} (recorded `,
    },
    {
      name: 'an approval no audit row records',
      sql: "INSERT INTO run_approvals (run_id, approver, decision, at, binding, reason) SELECT 'R-1', 'U0EVIL002', 'approve', created_at, binding, NULL FROM runs WHERE id = 'R-1'",
      seq: 'SELECT NULL',
      line: () => 'run_approvals row R-1 approver U0EVIL002: no audit row records it',
    },
  ];

  for (const c of cases) {
    it(`refuses a database with ${c.name}, naming the table, row and seq`, async () => {
      const file = copyOf(original);
      const seq = seqOf(file, c.seq);
      tamper(file, c.sql);
      const result = await verify(file);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const lines = result.stderr.split('\n');
      expect(
        lines.some((l) => l.startsWith(c.line(seq))),
        result.stderr,
      ).toBe(true);
      expect(result.stderr).toMatch(
        /\n1 row of the tables exports read does not match the audit log, which is itself intact \(\d+ rows, last seq \d+\)\nchecked in /,
      );
    });
  }
});

describe('edgeops audit anchor and verify --expect-head', () => {
  it('prints the head as SEQ:HASH; a log rolled back to before it fails, a log that grew past it passes', async () => {
    const earlier = copyOf(original);
    const earlierAnchor = await runCli(['audit', 'anchor', '--db', earlier]);
    expect(earlierAnchor.stderr).toBe('');
    expect(earlierAnchor.code).toBe(0);
    expect(earlierAnchor.stdout).toMatch(/^\d+:[0-9a-f]{64}\n$/);
    const earlierRef = earlierAnchor.stdout.trim();
    const earlierSeq = Number(earlierRef.split(':')[0]);

    // The log grows after the earlier copy was taken; then it is anchored.
    const later = copyOf(original);
    const session = await runCli(['console', '--as', 'U01SRE0001'], {
      env: { EDGEOPS_DB: later },
      input: '/incident note "review held" incident=INC-1\n/incident note "actions filed" incident=INC-1\n',
    });
    expect(session.code, session.stderr).toBe(0);
    const laterAnchor = await runCli(['audit', 'anchor', '--db', later]);
    expect(laterAnchor.code).toBe(0);
    const laterRef = laterAnchor.stdout.trim();
    expect(laterRef).toMatch(new RegExp(`^${earlierSeq + 2}:[0-9a-f]{64}$`));

    const passes = await verify(later, '--expect-head', laterRef);
    expect(passes.stderr).toBe('');
    expect(passes.stdout).toContain(`anchored head ${laterRef} is in the log\n`);
    expect(passes.code).toBe(0);
    const grown = await verify(later, '--expect-head', earlierRef);
    expect(grown.stdout).toContain(`anchored head ${earlierRef} is in the log\n`);
    expect(grown.code).toBe(0);

    // The whole file swapped for the earlier copy: intact by itself, but it does not reach the anchor.
    const rolledBack = await verify(earlier, '--expect-head', laterRef);
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.stdout).toBe('');
    expect(rolledBack.stderr).toContain(
      `audit log does not hold the anchored head ${laterRef}: the log ends at seq ${earlierSeq}, before the anchored seq ${earlierSeq + 2}: it was rolled back to an older copy or cut short\n`,
    );

    // Another hash at the anchored seq: a log rebuilt with the key from some point on.
    const forgedRef = `${earlierSeq}:${'0'.repeat(64)}`;
    const forged = await verify(later, '--expect-head', forgedRef);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain(
      `audit log does not hold the anchored head ${forgedRef}: row ${earlierSeq} has hash ${earlierRef.split(':')[1]}, not the anchored ${'0'.repeat(64)}`,
    );
  }, 60_000);

  it('refuses an --expect-head that is not SEQ:HASH, saying what to give', async () => {
    const result = await verify(original, '--expect-head', '12:abc');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'edgeops audit: "12:abc" is not an audit anchor; give SEQ:HASH as `edgeops audit anchor` prints it (a seq from 1, a colon, 64 hex digits)\n',
    );
  });
});
