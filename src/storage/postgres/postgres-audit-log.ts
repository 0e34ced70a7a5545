// PostgreSQL implementation of the audit log: appends serialised on the head row, the same chain as SQLite.
import type { AuditLog } from '../../core/audit/audit-log.js';
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
} from '../../core/audit/audit-chain.js';
import type { TranscriptEvent } from '../../core/export/transcript.js';
import type { Clock } from '../../core/ports.js';
import { IntegrityError } from '../../errors.js';
import { TRANSCRIPT_PAGE, toEvent, toStored, type AuditRow } from '../sqlite-audit-log.js';
import type { PostgresUnitOfWork, Queryable } from './postgres-unit-of-work.js';

type Row = AuditRow;

/** Taken only while the log has no head row yet: two first appends cannot lock a row that does not exist. */
const GENESIS_LOCK = 0x6175_6474; // "audt"

/** Rows read per round trip when the whole log is read back (verify). */
const VERIFY_BATCH = 10_000;

export class PostgresAuditLog implements AuditLog {
  constructor(
    private readonly session: PostgresUnitOfWork,
    private readonly key: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Appends one row. Inside the caller's transaction it runs as a savepoint, so a failed append leaves
   * no half row and the caller may go on; outside one it is its own transaction. Either way the head
   * row stays locked until that transaction ends: appends from every connection and replica queue on
   * it, so seq stays gapless and each row links to the one committed before it.
   */
  async append(input: AuditEventInput): Promise<AuditEvent> {
    if (!this.session.inTransaction()) return this.session.transaction(() => this.appendLocked(this.session.current(), input));
    const db = this.session.current();
    await db.query('SAVEPOINT audit_append');
    try {
      const event = await this.appendLocked(db, input);
      await db.query('RELEASE SAVEPOINT audit_append');
      return event;
    } catch (err) {
      await db.query('ROLLBACK TO SAVEPOINT audit_append').catch(() => undefined);
      throw err;
    }
  }

  private async lockHead(db: Queryable): Promise<{ seq: number; hash: string } | undefined> {
    const lock = 'SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE';
    const found = (await db.query<{ seq: number; hash: string }>(lock)).rows[0];
    if (found) return found;
    await db.query('SELECT pg_advisory_xact_lock($1)', [GENESIS_LOCK]);
    return (await db.query<{ seq: number; hash: string }>(lock)).rows[0];
  }

  private async appendLocked(db: Queryable, input: AuditEventInput): Promise<AuditEvent> {
    const head = await this.lockHead(db);
    // Read after the lock, in a statement of its own, so it sees the row the previous holder committed.
    const headTime = head ? (await db.query<{ time: number }>('SELECT time FROM audit_log WHERE seq = $1', [head.seq])).rows[0]?.time : undefined;
    if (head && headTime === undefined) throw new IntegrityError(`the audit chain head names seq ${head.seq}, which is not in the log`);
    const prevHash = head?.hash ?? GENESIS_HASH;
    const payloadText = canonicalJson(input.payload);
    const fields = {
      seq: (head?.seq ?? 0) + 1,
      // Time never runs backwards along the chain, whatever the wall clocks of the replicas do.
      time: Math.max(Math.trunc(this.clock.now()), headTime ?? 0),
      actor: input.actor,
      source: input.source,
      kind: input.kind,
      incidentId: input.incidentId ?? null,
    };
    const hash = chainHashOfText(this.key, prevHash, canonicalRowOfText(fields, payloadText));
    await db.query(
      `INSERT INTO audit_log (seq, time, actor, source, kind, incident_id, payload, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [fields.seq, fields.time, fields.actor, fields.source, fields.kind, fields.incidentId, payloadText, prevHash, hash],
    );
    await db.query(
      `INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, $1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`,
      [fields.seq, hash, headMac(this.key, fields.seq, hash)],
    );
    return { ...fields, payload: JSON.parse(payloadText) as Record<string, unknown>, prevHash, hash };
  }

  /** Page by page, as on SQLite: no cursor or connection is held while the caller awaits between rows. */
  async *transcriptRows(incidentId: string, options: { kinds?: string[] } = {}): AsyncGenerator<TranscriptEvent> {
    const kinds = options.kinds ?? [];
    const kindClause = kinds.length > 0 ? 'AND kind = ANY($4)' : '';
    let after = 0;
    for (;;) {
      const { rows } = await this.session
        .current()
        .query<Row>(
          `SELECT seq, time, actor, source, kind, payload, hash FROM audit_log WHERE incident_id = $1 AND seq > $2 ${kindClause} ORDER BY seq LIMIT $3`,
          kinds.length > 0 ? [incidentId, after, TRANSCRIPT_PAGE, kinds] : [incidentId, after, TRANSCRIPT_PAGE],
        );
      for (const r of rows) {
        yield {
          seq: r.seq,
          time: r.time,
          actor: r.actor,
          source: r.source,
          kind: r.kind,
          payload: JSON.parse(r.payload) as Record<string, unknown>,
          hash: r.hash,
        };
      }
      if (rows.length < TRANSCRIPT_PAGE) return;
      after = rows[rows.length - 1]!.seq;
    }
  }

  async recentForIncident(incidentId: string, limit: number): Promise<AuditEvent[]> {
    const { rows } = await this.session
      .current()
      .query<Row>('SELECT * FROM audit_log WHERE incident_id = $1 ORDER BY seq DESC LIMIT $2', [incidentId, limit]);
    return rows.reverse().map(toEvent);
  }

  async bySeq(seq: number): Promise<AuditEvent | undefined> {
    const row = (await this.session.current().query<Row>('SELECT * FROM audit_log WHERE seq = $1', [seq])).rows[0];
    return row ? toEvent(row) : undefined;
  }

  async lastTime(incidentId: string, kinds: string[]): Promise<number | undefined> {
    const { rows } = await this.session
      .current()
      .query<{ t: number | null }>('SELECT MAX(time) AS t FROM audit_log WHERE incident_id = $1 AND kind = ANY($2)', [incidentId, kinds]);
    return rows[0]?.t ?? undefined;
  }

  async countSince(incidentId: string, kind: string, since: number, reason: string): Promise<number> {
    const { rows } = await this.session
      .current()
      .query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM audit_log WHERE incident_id = $1 AND kind = $2 AND time >= $3 AND payload::jsonb ->> 'reason' = $4",
        [incidentId, kind, since, reason],
      );
    return rows[0]!.n;
  }

  async lastWithoutIncident(kind: string): Promise<AuditEvent | undefined> {
    const row = (
      await this.session.current().query<Row>('SELECT * FROM audit_log WHERE incident_id IS NULL AND kind = $1 ORDER BY seq DESC LIMIT 1', [kind])
    ).rows[0];
    return row ? toEvent(row) : undefined;
  }

  async head(): Promise<{ seq: number; hash: string }> {
    const h = (await this.session.current().query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1')).rows[0];
    return h ? { seq: h.seq, hash: h.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /**
   * Recomputes the chain over one snapshot (REPEATABLE READ, read only): appends by running replicas
   * cannot tear the head from the rows. Rows are read in batches, in seq order.
   */
  async verify(visit?: VerifiedRowVisitor): Promise<ChainVerdict> {
    return readSnapshot(this.session, (db) => verifyInSnapshot(db, this.key, visit));
  }
}

/** Runs `fn` on one connection inside a read-only snapshot. */
export async function readSnapshot<T>(session: PostgresUnitOfWork, fn: (db: Queryable) => Promise<T>): Promise<T> {
  const client = await session.pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      return await fn(client);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** The chain check of `verify`, on a connection already inside a snapshot (shared with the database verifier). */
export async function verifyInSnapshot(db: Queryable, key: string, visit?: VerifiedRowVisitor): Promise<ChainVerdict> {
  const rows: StoredAuditRow[] = [];
  for (let after = -1; ;) {
    const batch = (await db.query<Row>('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [after, VERIFY_BATCH])).rows;
    for (const r of batch) rows.push(toStored(r));
    if (batch.length < VERIFY_BATCH) break;
    after = batch.at(-1)!.seq;
  }
  const head = (await db.query<{ seq: number; hash: string; mac: string }>('SELECT seq, hash, mac FROM audit_head WHERE id = 1')).rows[0];
  const verdict = verifyChain(key, rows, head, visit);
  if (!verdict.ok) return verdict;
  // A log wiped together with its head verifies as empty: the rows that point into it say otherwise.
  const referenced = (await db.query<{ seq: number | null }>('SELECT MAX(cause_seq) AS seq FROM outbox')).rows[0]?.seq ?? 0;
  if (referenced > verdict.lastSeq) {
    return {
      ok: false,
      seq: verdict.lastSeq + 1,
      reason: `the outbox refers to seq ${referenced}, beyond the end of the log (${verdict.lastSeq}): rows were removed`,
      count: verdict.count,
    };
  }
  const incidents = (await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM incidents')).rows[0]!.n;
  if (incidents > 0 && verdict.lastSeq === 0) {
    return { ok: false, seq: 1, reason: `the log is empty but ${incidents} incidents exist: rows were removed`, count: 0 };
  }
  return verdict;
}
