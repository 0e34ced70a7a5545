// Tamper evidence: `edgeops audit verify` names the first bad seq for each kind of edit to a copied log.
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';

const SESSION = [
  '/incident declare Checkout errors after deploy sev=2 service=checkout',
  '/incident update "5xx at 12%, rolling back" status=identified',
  '/incident note rollback started',
  '/incident ack',
  '/incident sev 1',
  '/incident role comms <@U0COMMS01>',
  '/incident note rollback finished on all pods',
  '/incident resolve Rolled back v2.3',
];
const ROWS = SESSION.length;

let dir: string;
let original: string;
let copies = 0;

beforeAll(async () => {
  dir = makeTempDir('audit');
  original = path.join(dir, 'edgeops.db');
  const session = await runCli(['console', '--as', 'U0LOCAL01'], { env: { EDGEOPS_DB: original }, input: `${SESSION.join('\n')}\n` });
  expect(session.code, session.stderr).toBe(0);
  expect(session.stdout).not.toContain('✗');
  expect(existsSync(path.join(dir, 'audit.key'))).toBe(true);
});

afterAll(removeTempDirs);

/** A copy of the session's database beside it, so the same generated key file applies. */
function copyOfLog(): string {
  copies += 1;
  const file = path.join(dir, `copy-${copies}.db`);
  copyFileSync(original, file);
  for (const suffix of ['-wal', '-shm']) if (existsSync(original + suffix)) copyFileSync(original + suffix, file + suffix);
  return file;
}

/** Edits a copy as an attacker with the sqlite3 shell would: triggers dropped, foreign keys off. */
function tamper(file: string, edit: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = OFF');
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    edit(db);
  } finally {
    db.close();
  }
}

const verify = (file: string) => runCli(['audit', 'verify', '--db', file]);

describe('edgeops audit verify', () => {
  it('passes the untouched log and names its head', async () => {
    for (const file of [original, copyOfLog()]) {
      const result = await verify(file);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        new RegExp(
          `^audit chain intact: ${ROWS} rows, last seq ${ROWS}, last hash [0-9a-f]{64}\\n` +
            'exported tables match the audit log: 1 incidents, 0 runs, 0 steps, 0 approvals\\nchecked in \\d+\\.\\d\\d s\\n$',
        ),
      );
    }
  });

  type Row = Record<string, unknown> & { seq: number };
  const COLUMNS = ['time', 'actor', 'source', 'kind', 'incident_id', 'payload', 'prev_hash', 'hash'];

  const cases: Array<{ name: string; badSeq: number; edit: (db: Database.Database) => void }> = [
    {
      name: "a row's payload changed",
      badSeq: 3,
      edit: (db) => db.prepare('UPDATE audit_log SET payload = ? WHERE seq = 3').run('{"text":"nothing to see here"}'),
    },
    {
      name: "a row's actor changed",
      badSeq: 4,
      edit: (db) => db.prepare("UPDATE audit_log SET actor = 'U0SOMEONE' WHERE seq = 4").run(),
    },
    {
      name: 'two rows swapped (every field but seq exchanged)',
      badSeq: 5,
      edit: (db) => {
        const a = db.prepare('SELECT * FROM audit_log WHERE seq = 5').get() as Row;
        const b = db.prepare('SELECT * FROM audit_log WHERE seq = 6').get() as Row;
        const set = db.prepare(`UPDATE audit_log SET ${COLUMNS.map((c) => `${c} = @${c}`).join(', ')} WHERE seq = @seq`);
        set.run({ ...b, seq: 5 });
        set.run({ ...a, seq: 6 });
      },
    },
    {
      name: 'a middle row deleted',
      badSeq: 4,
      edit: (db) => db.prepare('DELETE FROM audit_log WHERE seq = 4').run(),
    },
    {
      name: 'the last row deleted (caught by the chain head)',
      badSeq: ROWS,
      edit: (db) => db.prepare('DELETE FROM audit_log WHERE seq = ?').run(ROWS),
    },
    {
      name: 'the last row deleted and the head re-pointed without the key',
      badSeq: ROWS - 1,
      edit: (db) => {
        db.prepare('DELETE FROM audit_log WHERE seq = ?').run(ROWS);
        const prev = db.prepare('SELECT seq, hash FROM audit_log WHERE seq = ?').get(ROWS - 1) as { seq: number; hash: string };
        db.prepare('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1').run(prev.seq, prev.hash);
      },
    },
    {
      name: 'every row and the head wiped (the outbox still points into the log)',
      badSeq: 1,
      edit: (db) => {
        db.prepare('DELETE FROM audit_log').run();
        db.prepare('DELETE FROM audit_head').run();
      },
    },
    {
      name: 'a row appended with a hash made without the key',
      badSeq: ROWS + 1,
      edit: (db) => {
        const last = db.prepare('SELECT * FROM audit_log WHERE seq = ?').get(ROWS) as Row;
        db.prepare(`INSERT INTO audit_log (seq, ${COLUMNS.join(', ')}) VALUES (@seq, ${COLUMNS.map((c) => `@${c}`).join(', ')})`).run({
          ...last,
          seq: ROWS + 1,
          prev_hash: last.hash,
          hash: 'f'.repeat(64),
        });
      },
    },
  ];

  for (const { name, badSeq, edit } of cases) {
    it(`refuses a log with ${name}, naming seq ${badSeq}`, async () => {
      const file = copyOfLog();
      tamper(file, edit);
      const result = await verify(file);
      expect(result.code).not.toBe(0);
      expect(result.stdout).not.toContain('intact');
      expect(result.stderr).toMatch(new RegExp(`^audit chain broken at seq ${badSeq}: [^\\n]+\\n$`));
    });
  }

  it('is backed by triggers: SQLite itself refuses UPDATE and DELETE on audit_log', async () => {
    const file = copyOfLog();
    const db = new Database(file);
    try {
      const before = db.prepare('SELECT * FROM audit_log ORDER BY seq').all();
      expect(() => db.prepare("UPDATE audit_log SET payload = '{}' WHERE seq = 2").run()).toThrow(/audit_log is append-only/);
      expect(() => db.prepare('DELETE FROM audit_log WHERE seq = ?').run(ROWS)).toThrow(/audit_log is append-only/);
      expect(() => db.prepare('DELETE FROM audit_log').run()).toThrow(/audit_log is append-only/);
      expect(db.prepare('SELECT * FROM audit_log ORDER BY seq').all()).toEqual(before);
    } finally {
      db.close();
    }
    const result = await verify(file);
    expect(result.code).toBe(0);
  });
});
