// When an incident channel is nudged: no status update for too long (by severity), or no commander. Pure.
import type { RemindersSpec } from '../policy/policy-schema.js';
import { isUserId } from '../user-id.js';
import type { Incident } from './incident.js';

export type ReminderReason = 'status_update' | 'commander';

export interface ReminderPolicy {
  /** Milliseconds without a status update before a reminder, by severity; null: never. */
  statusUpdateMs: Record<number, number | null>;
  /** Milliseconds without a human commander before a reminder; null: never. */
  commanderMs: number | null;
}

export const DEFAULT_REMINDERS: ReminderPolicy = {
  statusUpdateMs: { 1: 15 * 60_000, 2: 30 * 60_000, 3: 2 * 3_600_000, 4: null },
  commanderMs: 10 * 60_000,
};

const ms = (v: number | 'off' | undefined, fallback: number | null): number | null => (v === undefined ? fallback : v === 'off' ? null : v);

export function reminderPolicy(spec: RemindersSpec | undefined): ReminderPolicy {
  if (!spec) return DEFAULT_REMINDERS;
  const s = spec.status_update;
  const d = DEFAULT_REMINDERS.statusUpdateMs;
  return {
    statusUpdateMs: { 1: ms(s.sev1, d[1]!), 2: ms(s.sev2, d[2]!), 3: ms(s.sev3, d[3]!), 4: ms(s.sev4, d[4]!) },
    commanderMs: ms(spec.commander, DEFAULT_REMINDERS.commanderMs),
  };
}

export interface ReminderFacts {
  incident: Incident;
  /** When the incident was declared or last got a status update. */
  lastStatusAt: number;
  /** Status reminders already sent since `lastStatusAt`. */
  statusReminders: number;
  /** Commander reminders already sent. */
  commanderReminders: number;
}

export interface DueReminder {
  incidentId: string;
  reason: ReminderReason;
  /** How long it has been (since the last status update, or since declared). */
  elapsedMs: number;
  /** The start of that period, recorded so later reminders count from it. */
  since: number;
}

/** A Slack user is a human who can command; PagerDuty and the scheduler cannot. */
export const isHuman = (actorId: string | null): boolean => isUserId(actorId);

/**
 * One reminder per full interval elapsed: a SEV1 silent for 15 minutes gets one, at 30 a second,
 * and an update starts the count again.
 */
export function dueReminders(facts: readonly ReminderFacts[], now: number, policy: ReminderPolicy): DueReminder[] {
  const due: DueReminder[] = [];
  for (const f of facts) {
    const { incident } = f;
    if (incident.status === 'resolved') continue;
    const statusEvery = policy.statusUpdateMs[incident.severity] ?? null;
    if (statusEvery !== null) {
      const elapsed = now - f.lastStatusAt;
      if (Math.floor(elapsed / statusEvery) > f.statusReminders) {
        due.push({ incidentId: incident.id, reason: 'status_update', elapsedMs: elapsed, since: f.lastStatusAt });
      }
    }
    if (policy.commanderMs !== null && !isHuman(incident.roles.commander)) {
      const elapsed = now - incident.declaredAt;
      if (Math.floor(elapsed / policy.commanderMs) > f.commanderReminders) {
        due.push({ incidentId: incident.id, reason: 'commander', elapsedMs: elapsed, since: incident.declaredAt });
      }
    }
  }
  return due;
}
