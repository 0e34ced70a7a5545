// The reminder tick: gathers facts about open incidents, asks the pure rules what is due, posts it.
import type { AuditLog } from '../audit/audit-log.js';
import type { Policy } from '../policy/policy.js';
import type { Clock } from '../ports.js';
import { formatDuration } from '../duration.js';
import { rich, userRef, type RichText } from '../rich-text.js';
import type { Incident } from './incident.js';
import type { IncidentService } from './incident-service.js';
import { dueReminders, reminderPolicy, type DueReminder, type ReminderFacts } from './reminders.js';

export interface ReminderServiceDeps {
  audit: AuditLog;
  incidents: IncidentService;
  clock: Clock;
  policy: () => Policy;
}

export type ReminderService = ReturnType<typeof createReminderService>;

const STATUS_KINDS = ['incident.declared', 'incident.updated'];

export function createReminderService(deps: ReminderServiceDeps) {
  async function factsOf(incident: Incident): Promise<ReminderFacts> {
    const lastStatusAt = (await deps.audit.lastTime(incident.id, STATUS_KINDS)) ?? incident.declaredAt;
    return {
      incident,
      lastStatusAt,
      statusReminders: await deps.audit.countSince(incident.id, 'incident.reminder', lastStatusAt, 'status_update'),
      commanderReminders: await deps.audit.countSince(incident.id, 'incident.reminder', incident.declaredAt, 'commander'),
    };
  }

  async function facts(): Promise<ReminderFacts[]> {
    const out: ReminderFacts[] = [];
    for (const incident of await deps.incidents.listOpen()) out.push(await factsOf(incident));
    return out;
  }

  async function text(reminder: DueReminder): Promise<RichText> {
    const incident = await deps.incidents.get(reminder.incidentId);
    const commander = incident.roles.commander ? userRef(incident.roles.commander) : 'Commander';
    return reminder.reason === 'status_update'
      ? rich`⏰ ${incident.id} (SEV${incident.severity}) has had no status update for ${formatDuration(reminder.elapsedMs, 'elapsed')}. ${commander}: post one with /incident update <text>.`
      : rich`⏰ ${incident.id} has no commander after ${formatDuration(reminder.elapsedMs, 'elapsed')}. Take it with /incident role commander <@you>.`;
  }

  return {
    /** Posts every reminder due now; returns them. */
    async tick(): Promise<DueReminder[]> {
      const now = deps.clock.now();
      const policy = reminderPolicy(deps.policy().reminders);
      const posted: DueReminder[] = [];
      for (const reminder of dueReminders(await facts(), now, policy)) {
        // Asked again inside the reminder's transaction: the facts above were read before it.
        const stillDue = async (incident: Incident): Promise<boolean> =>
          dueReminders([await factsOf(incident)], now, policy).some((r) => r.reason === reminder.reason);
        if (await deps.incidents.remind(reminder.incidentId, reminder, await text(reminder), stillDue)) posted.push(reminder);
      }
      return posted;
    },
  };
}
