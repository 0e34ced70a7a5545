// The audit-log port: append-only, gapless, hash-chained (SPEC §7).
import type { AuditEvent, AuditEventInput, ChainVerdict } from './audit-chain.js';

export interface AuditLog {
  /** Appends one row; inside a transaction it lands with everything else the transaction writes. */
  append(input: AuditEventInput): AuditEvent;
  /** Rows of one incident in seq order, read lazily. */
  forIncident(incidentId: string, options?: { kinds?: string[]; afterSeq?: number }): IterableIterator<AuditEvent>;
  /** The last `limit` rows of one incident, oldest first. */
  recentForIncident(incidentId: string, limit: number): AuditEvent[];
  bySeq(seq: number): AuditEvent | undefined;
  head(): { seq: number; hash: string };
  verify(): ChainVerdict;
}
