// The read port behind the procedures, reports and audit pages: incidents for reports, and the audit chain's status.
import type { ChainVerdict } from '../audit/audit-chain.js';
import type { HeadRef } from '../audit/head-ref.js';
import type { Incident } from '../incidents/incident.js';
import type { IncidentScope } from './portal-read-model.js';

/** The last daily anchor: the head it named, when, where it was posted and whether the post went out. */
export interface AnchorStatus {
  /** The seq of the `audit.anchored` row. */
  seq: number;
  time: number;
  head: HeadRef;
  /** The Slack channel ID it was posted to. */
  channel: string;
  delivery: 'pending' | 'sent' | 'failed' | 'unknown';
  sentAt: number | null;
}

export interface AuditStatus {
  chain: ChainVerdict;
  lastAnchor: AnchorStatus | null;
}

export interface PortalOpsReads {
  /** Incidents declared at or after `since` (ms), private ones only to their members unless `allPrivate`. */
  incidentsSince(scope: IncidentScope, since: number): Promise<Incident[]>;
  /** The chain checked now from its first row, and the last anchor. */
  auditStatus(): Promise<AuditStatus>;
}
