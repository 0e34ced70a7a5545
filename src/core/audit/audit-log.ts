// The audit-log port: append-only, gapless, hash-chained (docs/export.md).
import type { TranscriptEvent } from '../export/transcript.js';
import type { AuditEvent, AuditEventInput, ChainVerdict, VerifiedRowVisitor } from './audit-chain.js';

export interface AuditLog {
  /** Appends one row; inside a transaction it lands with everything else the transaction writes. */
  append(input: AuditEventInput): Promise<AuditEvent>;
  /**
   * Rows of one incident for transcripts, in seq order: only the columns shown, read a page at a time
   * as the caller iterates (a 100k-event incident streams), each iteration reading afresh.
   */
  transcriptRows(incidentId: string, options?: { kinds?: string[] }): AsyncIterable<TranscriptEvent>;
  /** The last `limit` rows of one incident, oldest first. */
  recentForIncident(incidentId: string, limit: number): Promise<AuditEvent[]>;
  bySeq(seq: number): Promise<AuditEvent | undefined>;
  /** Time of the latest row of these kinds for an incident, if any. */
  lastTime(incidentId: string, kinds: string[]): Promise<number | undefined>;
  /** Rows of a kind for an incident at or after `since` whose payload `reason` is the one given. */
  countSince(incidentId: string, kind: string, since: number, reason: string): Promise<number>;
  /** The latest row of a kind that is about no incident (an anchor posting, a policy reload). */
  lastWithoutIncident(kind: string): Promise<AuditEvent | undefined>;
  head(): Promise<{ seq: number; hash: string }>;
  /** Recomputes the chain; `visit` sees each row that checked out, in seq order. */
  verify(visit?: VerifiedRowVisitor): Promise<ChainVerdict>;
}
