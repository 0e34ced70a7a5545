// Reminder rules: one per elapsed interval by severity, reset by an update; commander reminders.
import { describe, expect, it } from 'vitest';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { DEFAULT_REMINDERS, dueReminders, reminderPolicy, type ReminderFacts } from '../../../src/core/incidents/reminders.js';

const MIN = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'INC-1',
    number: 1,
    title: 't',
    severity: 1,
    status: 'investigating',
    service: null,
    private: false,
    channelName: 'inc-1-t',
    channelId: null,
    roles: { commander: 'U0ONCALL1', comms: null, scribe: null },
    declaredBy: 'U0ONCALL1',
    declaredAt: T0,
    acknowledgedAt: null,
    resolvedAt: null,
    summary: null,
    pagerdutyId: null,
    pagerdutyUrl: null,
    lastUpdateAt: T0,
    ...over,
  };
}
const facts = (over: Partial<ReminderFacts> = {}, inc: Partial<Incident> = {}): ReminderFacts => ({
  incident: incident(inc),
  lastStatusAt: T0,
  statusReminders: 0,
  commanderReminders: 0,
  ...over,
});

describe('dueReminders', () => {
  it('reminds a SEV1 once after 15 minutes without an update, again after 30', () => {
    expect(dueReminders([facts()], T0 + 14 * MIN + 59_999, DEFAULT_REMINDERS)).toEqual([]);
    expect(dueReminders([facts()], T0 + 15 * MIN, DEFAULT_REMINDERS)).toEqual([
      { incidentId: 'INC-1', reason: 'status_update', elapsedMs: 15 * MIN, since: T0 },
    ]);
    expect(dueReminders([facts({ statusReminders: 1 })], T0 + 29 * MIN, DEFAULT_REMINDERS)).toEqual([]);
    expect(dueReminders([facts({ statusReminders: 1 })], T0 + 30 * MIN, DEFAULT_REMINDERS)).toHaveLength(1);
  });

  it('uses the interval of the severity, and none where it is off', () => {
    expect(dueReminders([facts({}, { severity: 2 })], T0 + 20 * MIN, DEFAULT_REMINDERS)).toEqual([]);
    expect(dueReminders([facts({}, { severity: 2 })], T0 + 30 * MIN, DEFAULT_REMINDERS)).toHaveLength(1);
    expect(dueReminders([facts({}, { severity: 4 })], T0 + 48 * 60 * MIN, DEFAULT_REMINDERS)).toEqual([]);
  });

  it('counts from the last status update', () => {
    expect(dueReminders([facts({ lastStatusAt: T0 + 10 * MIN })], T0 + 20 * MIN, DEFAULT_REMINDERS)).toEqual([]);
  });

  it('never reminds a resolved incident', () => {
    expect(dueReminders([facts({}, { status: 'resolved' })], T0 + 60 * MIN, DEFAULT_REMINDERS)).toEqual([]);
  });

  it('asks for a human commander when PagerDuty opened the incident', () => {
    const due = dueReminders([facts({}, { severity: 4, roles: { commander: null, comms: null, scribe: null } })], T0 + 10 * MIN, DEFAULT_REMINDERS);
    expect(due).toEqual([{ incidentId: 'INC-1', reason: 'commander', elapsedMs: 10 * MIN, since: T0 }]);
  });

  it('takes intervals from the policy file, falling back to the defaults', () => {
    const policy = reminderPolicy({ status_update: { sev1: 5 * MIN, sev3: 'off' }, commander: 'off' });
    expect(policy).toEqual({ statusUpdateMs: { 1: 5 * MIN, 2: 30 * MIN, 3: null, 4: null }, commanderMs: null });
  });
});
