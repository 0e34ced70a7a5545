// The audit-log port: append-only, gapless, hash-chained (SPEC §7).
import type { TranscriptEvent } from '../export/transcript.js';
import type { AuditEvent, AuditEventInput, ChainVerdict } from './audit-chain.js';

export interface AuditLog {
  /** Appends one row; inside a transaction it lands with everything else the transaction writes. */
  append(input: AuditEventInput): AuditEvent;
  /** Rows of one incident for transcripts: only the columns shown, read lazily and cheaply. */
  transcriptRows(incidentId: string, options?: { kinds?: string[] }): IterableIterator<TranscriptEvent>;
  /** The last `limit` rows of one incident, oldest first. */
  recentForIncident(incidentId: string, limit: number): AuditEvent[];
  bySeq(seq: number): AuditEvent | undefined;
  head(): { seq: number; hash: string };
  verify(): ChainVerdict;
}
