// SQLite implementation of the audit log: rows are inserted, never updated; the head row is MACed.
import type { AuditLog } from '../core/audit/audit-log.js';
import {
  GENESIS_HASH,
  canonicalJson,
  canonicalRowOfText,
  chainHashOfText,
  headMac,
  verifyChain,
  type AuditEvent,
  type AuditEventInput,
  type ChainVerdict,
  type StoredAuditRow,
  type VerifiedRowVisitor,
} from '../core/audit/audit-chain.js';
import type { TranscriptEvent } from '../core/export/transcript.js';
import type { Clock } from '../core/ports.js';
import { IntegrityError } from '../errors.js';
import type { Db } from './database.js';
import { statementCache } from './statements.js';

/** Rows read per query by `transcriptRows`: large enough that paging costs nothing measurable. */
export const TRANSCRIPT_PAGE = 2000;

/** An audit_log row as both backends return it. */
export interface AuditRow {
  seq: number;
  time: number;
  actor: string;
  source: string;
  kind: string;
  incident_id: string | null;
  payload: string;
  prev_hash: string;
  hash: string;
}

export const toStored = (r: AuditRow): StoredAuditRow => ({
  seq: r.seq,
  time: r.time,
  actor: r.actor,
  source: r.source,
  kind: r.kind,
  incidentId: r.incident_id,
  payloadText: r.payload,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export const toEvent = (r: AuditRow): AuditEvent => {
  const { payloadText, ...rest } = toStored(r);
  return { ...rest, payload: JSON.parse(payloadText) as Record<string, unknown> };
};

export class SqliteAuditLog implements AuditLog {
  private readonly insert;
  private readonly writeHead;
  private readonly readHead;
  private readonly readHeadAndTime;
  private readonly bySeqStmt;
  private readonly appendTx;
  private readonly stmt;

  constructor(
    private readonly db: Db,
    private readonly key: string,
    private readonly clock: Clock,
  ) {
    this.stmt = statementCache(db);
    this.insert = db.prepare(
      `INSERT INTO audit_log (seq, time, actor, source, kind, incident_id, payload, prev_hash, hash)
       VALUES (@seq, @time, @actor, @source, @kind, @incident_id, @payload, @prev_hash, @hash)`,
    );
    this.writeHead = db.prepare(
      `INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`,
    );
    this.readHead = db.prepare('SELECT seq, hash, mac FROM audit_head WHERE id = 1');
    // The head and the time of the row it names, in one lookup: the next row's time starts from it.
    this.readHeadAndTime = db.prepare('SELECT h.seq, h.hash, l.time FROM audit_head h LEFT JOIN audit_log l ON l.seq = h.seq WHERE h.id = 1');
    this.bySeqStmt = db.prepare('SELECT * FROM audit_log WHERE seq = ?');
    // Made once: inside a caller's transaction it runs as a savepoint, so a failed append leaves no half row.
    this.appendTx = db.transaction((input: AuditEventInput): AuditEvent => this.appendNow(input));
  }

  async append(input: AuditEventInput): Promise<AuditEvent> {
    return this.appendTx(input);
  }

  private appendNow(input: AuditEventInput): AuditEvent {
    const head = this.readHeadAndTime.get() as { seq: number; hash: string; time: number | null } | undefined;
    if (head && head.time === null) throw new IntegrityError(`the audit chain head names seq ${head.seq}, which is not in the log`);
    const prevSeq = head?.seq ?? 0;
    const prevHash = head?.hash ?? GENESIS_HASH;
    // Encoded once: the stored text, the hashed bytes and the returned payload all come from it.
    const payloadText = canonicalJson(input.payload);
    const fields = {
      seq: prevSeq + 1,
      // Time never runs backwards along the chain, whatever the wall clock does.
      time: Math.max(Math.trunc(this.clock.now()), head?.time ?? 0),
      actor: input.actor,
      source: input.source,
      kind: input.kind,
      incidentId: input.incidentId ?? null,
    };
    const hash = chainHashOfText(this.key, prevHash, canonicalRowOfText(fields, payloadText));
    this.insert.run({
      seq: fields.seq,
      time: fields.time,
      actor: fields.actor,
      source: fields.source,
      kind: fields.kind,
      incident_id: fields.incidentId,
      payload: payloadText,
      prev_hash: prevHash,
      hash,
    });
    this.writeHead.run(fields.seq, hash, headMac(this.key, fields.seq, hash));
    return { ...fields, payload: JSON.parse(payloadText) as Record<string, unknown>, prevHash, hash };
  }

  /**
   * Lazy and page by page: the first page is read when the first row is asked for, and no statement
   * stays open between pages, so whatever else runs on the connection while the caller awaits (a
   * slow download, another command) is not held up by, nor lands inside, an open read.
   */
  async *transcriptRows(incidentId: string, options: { kinds?: string[] } = {}): AsyncGenerator<TranscriptEvent> {
    const kinds = options.kinds ?? [];
    const kindClause = kinds.length > 0 ? `AND kind IN (${kinds.map(() => '?').join(', ')})` : '';
    // Raw rows: building a keyed object per row is most of the cost of a 100k-event export.
    const stmt = this.db
      .prepare(`SELECT seq, time, actor, source, kind, payload, hash FROM audit_log WHERE incident_id = ? AND seq > ? ${kindClause} ORDER BY seq LIMIT ?`)
      .raw(true);
    let after = 0;
    for (;;) {
      const page = stmt.all(incidentId, after, ...kinds, TRANSCRIPT_PAGE) as Array<[number, number, string, string, string, string, string]>;
      for (const r of page) {
        yield { seq: r[0], time: r[1], actor: r[2], source: r[3], kind: r[4], payload: JSON.parse(r[5]) as Record<string, unknown>, hash: r[6] };
      }
      if (page.length < TRANSCRIPT_PAGE) return;
      after = page[page.length - 1]![0];
    }
  }

  async recentForIncident(incidentId: string, limit: number): Promise<AuditEvent[]> {
    const rows = this.stmt('SELECT * FROM audit_log WHERE incident_id = ? ORDER BY seq DESC LIMIT ?').all(incidentId, limit) as AuditRow[];
    return rows.reverse().map(toEvent);
  }

  async bySeq(seq: number): Promise<AuditEvent | undefined> {
    const row = this.bySeqStmt.get(seq) as AuditRow | undefined;
    return row ? toEvent(row) : undefined;
  }

  async lastTime(incidentId: string, kinds: string[]): Promise<number | undefined> {
    const sql = `SELECT MAX(time) AS t FROM audit_log WHERE incident_id = ? AND kind IN (${kinds.map(() => '?').join(', ')})`;
    const row = this.stmt(sql).get(incidentId, ...kinds) as { t: number | null };
    return row.t ?? undefined;
  }

  async countSince(incidentId: string, kind: string, since: number, reason: string): Promise<number> {
    const row = this.stmt(
      "SELECT COUNT(*) AS n FROM audit_log WHERE incident_id = ? AND kind = ? AND time >= ? AND json_extract(payload, '$.reason') = ?",
    ).get(incidentId, kind, since, reason) as { n: number };
    return row.n;
  }

  async head(): Promise<{ seq: number; hash: string }> {
    const h = this.readHead.get() as { seq: number; hash: string } | undefined;
    return h ? { seq: h.seq, hash: h.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  async lastWithoutIncident(kind: string): Promise<AuditEvent | undefined> {
    // Served by the (incident_id, kind, seq) index: rows about no incident have incident_id NULL.
    const row = this.stmt('SELECT * FROM audit_log WHERE incident_id IS NULL AND kind = ? ORDER BY seq DESC LIMIT 1').get(kind) as AuditRow | undefined;
    return row ? toEvent(row) : undefined;
  }

  async verify(visit?: VerifiedRowVisitor): Promise<ChainVerdict> {
    return this.verifyNow(visit);
  }

  /** `verify` for callers already inside one synchronous read of the file (see verify-audit-database.ts). */
  verifyNow(visit?: VerifiedRowVisitor): ChainVerdict {
    // One read transaction: a snapshot, so appends by a running bot cannot tear head from rows.
    return this.db.transaction((): ChainVerdict => {
      const rows = this.db.prepare('SELECT * FROM audit_log ORDER BY rowid');
      const head = this.readHead.get() as { seq: number; hash: string; mac: string } | undefined;
      function* stored(): IterableIterator<StoredAuditRow> {
        for (const r of rows.iterate()) yield toStored(r as AuditRow);
      }
      const verdict = verifyChain(this.key, stored(), head, visit);
      if (!verdict.ok) return verdict;
      // A log wiped together with its head verifies as empty: the rows that point into it say otherwise.
      const referenced = (this.db.prepare('SELECT MAX(cause_seq) AS seq FROM outbox').get() as { seq: number | null }).seq ?? 0;
      if (referenced > verdict.lastSeq) {
        return {
          ok: false,
          seq: verdict.lastSeq + 1,
          reason: `the outbox refers to seq ${referenced}, beyond the end of the log (${verdict.lastSeq}): rows were removed`,
          count: verdict.count,
        };
      }
      const incidents = (this.db.prepare('SELECT COUNT(*) AS n FROM incidents').get() as { n: number }).n;
      if (incidents > 0 && verdict.lastSeq === 0) {
        return { ok: false, seq: 1, reason: `the log is empty but ${incidents} incidents exist: rows were removed`, count: 0 };
      }
      return verdict;
    })();
  }
}
