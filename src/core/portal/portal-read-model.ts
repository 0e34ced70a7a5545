// The portal's read port: incident lists with filters and keyset paging, and windows of a timeline.
import type { AuditEvent } from '../audit/audit-chain.js';
import type { Incident, IncidentStatus } from '../incidents/incident.js';

export interface IncidentFilter {
  /** `open` (any open status), `resolved`, or one status. */
  status?: 'open' | IncidentStatus;
  severity?: number;
  service?: string;
  /** Declared at or after (ms). */
  from?: number;
  /** Declared before (ms). */
  to?: number;
  /** Words in the title. */
  q?: string;
}

/** Whose list it is: private incidents show only to their members unless `allPrivate`. */
export interface IncidentScope {
  userId: string;
  allPrivate: boolean;
}

export interface IncidentPage {
  incidents: Incident[];
  /** The incident number to page on from (`before`), or null on the last page. */
  next: number | null;
}

export type TimelineEvent = Pick<AuditEvent, 'seq' | 'time' | 'actor' | 'source' | 'kind' | 'payload'>;

export interface TimelineWindow {
  events: TimelineEvent[];
  /** The seq to continue from (exclusive), or null when nothing is left. */
  next: number | null;
}

export interface PortalReadModel {
  /** Newest first, `limit` at most, numbers below `before` when given. */
  incidents(scope: IncidentScope, filter: IncidentFilter, page: { before?: number; limit: number }): Promise<IncidentPage>;
  /** Service names in use (for the filter's choices). */
  services(): Promise<string[]>;
  /** One window of an incident's timeline: newest first (seqs below `cursor`) or oldest first (above it). */
  timeline(incidentId: string, window: { order: 'newest' | 'oldest'; cursor?: number; limit: number }): Promise<TimelineWindow>;
  /** Events after `seq`, oldest first (what a live page has not shown yet). */
  eventsAfter(incidentId: string, seq: number, limit: number): Promise<TimelineEvent[]>;
}
