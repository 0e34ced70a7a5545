// Which queued chat messages go first in a busy channel, and which message a later one may replace.
import type { ChatMessage, OutboxTarget } from './outbox.js';

/**
 * Delivery classes, lowest first. Within a class a channel's messages keep the order they were
 * queued in; across classes a channel's backlog of routine notes never holds back what someone is
 * waiting for. Stored with each message, so the order survives a restart.
 */
export const PRIORITY = {
  /** The incident's summary: it opens the channel, so it must be first. */
  opening: 0,
  /** Run starts, results and approval requests, and status changes. */
  urgent: 1,
  /** Notes, reminders, role changes, exports, PagerDuty annotations, everything else. */
  routine: 2,
} as const;

/** Kinds that change the incident's status or severity: people act on them. */
const STATUS_KINDS = new Set([
  'incident.updated',
  'incident.acknowledged',
  'incident.unacknowledged',
  'incident.resolved',
  'incident.reopened',
  'incident.severity_changed',
  'incident.priority_updated',
]);

const kindOf = (body: ChatMessage | Record<string, unknown>): string | undefined => (typeof body.kind === 'string' ? body.kind : undefined);

export function priorityOf(target: OutboxTarget, body: ChatMessage | Record<string, unknown>): number {
  // PagerDuty writes (notes, ack, resolve) must land in the order they happened: one class.
  if (target !== 'slack') return PRIORITY.routine;
  const kind = kindOf(body);
  if (kind === 'incident.declared') return PRIORITY.opening;
  if (kind !== undefined && (kind.startsWith('run.') || STATUS_KINDS.has(kind))) return PRIORITY.urgent;
  return PRIORITY.routine;
}

/** The key of a run's start message, which its result may update in place. */
export const runStartedKey = (runId: string): string => `run.started:${runId}`;

/** What a message is about, when a later message may need to find it; null for most. */
export function messageKeyOf(target: OutboxTarget, body: ChatMessage | Record<string, unknown>): string | null {
  if (target !== 'slack' || kindOf(body) !== 'run.started') return null;
  const data = (body as ChatMessage).data;
  return typeof data?.runId === 'string' ? runStartedKey(data.runId) : null;
}
