// The audit chain: canonical row encoding and the HMAC that links each row to the one before.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEventInput {
  actor: string;
  source: string;
  kind: string;
  incidentId?: string | null;
  payload: Record<string, unknown>;
}

export interface AuditEvent {
  seq: number;
  /** UTC milliseconds. */
  time: number;
  actor: string;
  source: string;
  kind: string;
  incidentId: string | null;
  payload: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** JSON with object keys sorted at every depth and no insignificant white space. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

type HashedFields = Omit<AuditEvent, 'prevHash' | 'hash'>;

/** The bytes that are hashed: every field of the row except the hashes themselves. */
export function canonicalRow(row: HashedFields): string {
  return canonicalJson({
    seq: row.seq,
    time: row.time,
    actor: row.actor,
    source: row.source,
    kind: row.kind,
    incident: row.incidentId,
    payload: row.payload,
  });
}

/**
 * `canonicalRow` of a row whose payload is already canonical text: the same bytes, built without
 * encoding the payload again (an append encodes it once, to store it).
 */
export function canonicalRowOfText(row: Omit<HashedFields, 'payload'>, payloadText: string): string {
  // The keys in canonical (sorted) order: actor, incident, kind, payload, seq, source, time.
  return `{"actor":${JSON.stringify(row.actor)},"incident":${JSON.stringify(row.incidentId)},"kind":${JSON.stringify(row.kind)},"payload":${payloadText},"seq":${JSON.stringify(row.seq)},"source":${JSON.stringify(row.source)},"time":${JSON.stringify(row.time)}}`;
}

export function chainHash(key: string, prevHash: string, row: HashedFields): string {
  return chainHashOfText(key, prevHash, canonicalRow(row));
}

/** `chainHash` over a row already in canonical form (`canonicalRow` or `canonicalRowOfText`). */
export function chainHashOfText(key: string, prevHash: string, rowText: string): string {
  return createHmac('sha256', key).update(prevHash).update(rowText).digest('hex');
}

/** MAC over the chain head, so that cutting rows off the end is detected too. */
export function headMac(key: string, seq: number, hash: string): string {
  return createHmac('sha256', key).update(`head:${seq}:${hash}`).digest('hex');
}

export function hashesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** A stored row as read back, payload still as stored text so re-encoding cannot hide a change. */
export interface StoredAuditRow extends Omit<AuditEvent, 'payload'> {
  payloadText: string;
}

export type ChainVerdict = { ok: true; count: number; lastSeq: number; lastHash: string } | { ok: false; seq: number; reason: string; count: number };

/** Told of each row once the chain has been checked up to it, with the payload already parsed. */
export type VerifiedRowVisitor = (row: StoredAuditRow, payload: Record<string, unknown>) => void;

/**
 * Recomputes the chain over rows in stored order. The first row that does not follow from the
 * one before (gap, reorder, altered field, wrong link) is named. `visit` sees every row that
 * checked out, so other checks ride on the same pass instead of reading and parsing the log again.
 */
export function verifyChain(
  key: string,
  rows: Iterable<StoredAuditRow>,
  head?: { seq: number; hash: string; mac: string },
  visit?: VerifiedRowVisitor,
): ChainVerdict {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let count = 0;
  for (const row of rows) {
    if (row.seq !== expectedSeq) {
      return row.seq > expectedSeq
        ? { ok: false, seq: expectedSeq, reason: `row ${expectedSeq} is missing (next row is ${row.seq})`, count }
        : { ok: false, seq: row.seq, reason: `row ${row.seq} is out of order (expected ${expectedSeq})`, count };
    }
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(row.payloadText) as Record<string, unknown>;
    } catch {
      return { ok: false, seq: row.seq, reason: 'payload is not valid JSON', count };
    }
    if (canonicalJson(payload) !== row.payloadText) {
      return { ok: false, seq: row.seq, reason: 'payload is not in canonical form', count };
    }
    if (!hashesEqual(row.prevHash, prevHash)) {
      return { ok: false, seq: row.seq, reason: 'prev_hash does not match the previous row', count };
    }
    const expected = chainHash(key, prevHash, { ...row, payload });
    if (!hashesEqual(row.hash, expected)) {
      return { ok: false, seq: row.seq, reason: 'hash does not match the row (altered, or another key)', count };
    }
    visit?.(row, payload);
    prevHash = row.hash;
    expectedSeq += 1;
    count += 1;
  }
  const lastSeq = expectedSeq - 1;
  if (head) {
    if (head.seq > lastSeq) {
      return {
        ok: false,
        seq: lastSeq + 1,
        reason: `the chain head records seq ${head.seq} but the log ends at ${lastSeq}: rows were cut off the end`,
        count,
      };
    }
    if (head.seq < lastSeq) {
      return { ok: false, seq: head.seq + 1, reason: `rows after the chain head (seq ${head.seq}) were added without the key`, count };
    }
    if (!hashesEqual(head.hash, prevHash)) {
      return { ok: false, seq: lastSeq, reason: `the chain head's hash does not match row ${lastSeq}`, count };
    }
    if (!hashesEqual(head.mac, headMac(key, head.seq, head.hash))) {
      return { ok: false, seq: lastSeq, reason: 'the chain head was rewritten without the key (its MAC is invalid)', count };
    }
  } else if (lastSeq > 0) {
    return { ok: false, seq: lastSeq, reason: 'chain head record is missing', count };
  }
  return { ok: true, count, lastSeq, lastHash: prevHash };
}
