// Incident lifecycle: each change is one transaction of audit row, projection and outbox messages.
import { ConflictError } from '../../errors.js';
import type { AuditEvent } from '../audit/audit-chain.js';
import type { AuditLog } from '../audit/audit-log.js';
import { incidentChannelKey } from '../outbox/channel-key.js';
import type { ChatMessage, Outbox } from '../outbox/outbox.js';
import type { By, Clock, UnitOfWork } from '../ports.js';
import { incidentRef, rich, userRef, type ChatText } from '../rich-text.js';
import { describeEvent } from '../timeline/describe-event.js';
import {
  TEXT_MAX,
  TITLE_MAX,
  channelName,
  incidentId,
  noSuchIncident,
  parseServiceName,
  requireText,
  type Incident,
  type IncidentRole,
  type OpenStatus,
} from './incident.js';
import type { IncidentStore } from './incident-store.js';
import { isMember } from './incident-visibility.js';
import { isHuman } from './reminders.js';

export interface IncidentServiceDeps {
  uow: UnitOfWork;
  audit: AuditLog;
  incidents: IncidentStore;
  outbox: Outbox;
  clock: Clock;
  /**
   * Told, inside the transaction, of each change recorded on an incident's timeline after its
   * declaration (ack, resolve, …), so another system can be kept in step with the same commit.
   */
  onRecorded?: (event: AuditEvent, incident: Incident, by: By) => Promise<void>;
}

/** What a change made in another system (PagerDuty) changes here besides the timeline. */
export interface ExternalChanges {
  severity?: number;
  /** Back to investigating, not acknowledged, not resolved (PagerDuty reopened it). */
  reopen?: boolean;
  /** Not acknowledged any more (PagerDuty's acknowledgement ran out). */
  unacknowledge?: boolean;
}

export interface DeclareInput {
  title: string;
  severity?: number;
  service?: string | null;
  private?: boolean;
  /** Where the incident was declared from (a Slack channel ID), if anywhere. */
  fromChannel?: string | null;
  pagerduty?: { id: string; url: string | null; trigger?: PagerdutyTrigger };
}

/** The audit kind of an invitation: who was invited is read back from these rows (see `invited`). */
export const MEMBER_INVITED = 'incident.member_invited';

/** The PagerDuty event that opened an incident: named on its first timeline entry, which the postmortem shows. */
export interface PagerdutyTrigger {
  eventId: string;
  /** The seq of the audit row that recorded the event's receipt. */
  receivedSeq: number;
  /** Who triggered it in PagerDuty (a person's or an integration's name), if PagerDuty said. */
  agent: string | null;
  agentId: string | null;
  /** When it happened in PagerDuty (ISO 8601, as PagerDuty sent it). */
  occurredAt: string | null;
}

/** The first timeline entry's fields naming the triggering event, with the keys later PagerDuty rows use. */
const triggerFields = (t: PagerdutyTrigger): Record<string, unknown> => ({
  pagerduty_event: t.eventId,
  pagerduty_received_seq: t.receivedSeq,
  on_behalf_of: t.agent,
  pagerduty_agent: t.agentId,
  pagerduty_occurred_at: t.occurredAt,
});

export { incidentChannelKey };

export type IncidentService = ReturnType<typeof createIncidentService>;

export function createIncidentService(deps: IncidentServiceDeps) {
  const { uow, audit, incidents, outbox, clock } = deps;

  async function load(id: string): Promise<Incident> {
    const incident = await incidents.get(id);
    if (!incident) throw noSuchIncident(id);
    return incident;
  }

  function requireOpen(incident: Incident, what: string): void {
    if (incident.status === 'resolved') {
      throw new ConflictError(`${incident.id} is resolved; it cannot ${what} any more`);
    }
  }

  /** Records the event, saves the projection and queues the channel message, all or nothing. */
  async function record(by: By, incident: Incident, kind: string, payload: Record<string, unknown>, message?: Partial<ChatMessage>): Promise<AuditEvent> {
    const event = await audit.append({ actor: by.actor.id, source: by.source, kind, incidentId: incident.id, payload: withAuth(payload, by) });
    incident.lastUpdateAt = event.time;
    await incidents.save(incident);
    await outbox.enqueue({
      causeSeq: event.seq,
      target: 'slack',
      channel: incidentChannelKey(incident.id),
      body: { kind, text: rich`${userRef(by.actor.id)} ${describeEvent(event)}`, ...message },
    });
    await deps.onRecorded?.(event, incident, by);
    return event;
  }

  /** People invited with `/incident invite`, read from the audit log, so membership is as tamper-evident as the log. */
  async function invitedTo(id: string): Promise<string[]> {
    const users: string[] = [];
    for await (const event of audit.transcriptRows(id, { kinds: [MEMBER_INVITED] })) {
      if (typeof event.payload.user === 'string') users.push(event.payload.user);
    }
    return users;
  }

  function mutate<T>(id: string, fn: (incident: Incident) => Promise<T>): Promise<T> {
    return uow.transaction(async () => fn(await load(id)));
  }

  return {
    async declare(by: By, input: DeclareInput): Promise<Incident> {
      const title = requireText('the title', input.title, TITLE_MAX);
      // A person's service= must be a service name; PagerDuty names services freely and is kept
      // as sent (for display, policies and triggers); procedures get its service-name form.
      const service = input.service == null || input.pagerduty ? (input.service ?? null) : parseServiceName(input.service);
      return uow.transaction(async () => {
        const number = await incidents.nextNumber();
        const now = clock.now();
        const incident: Incident = {
          id: incidentId(number),
          number,
          title,
          severity: input.severity ?? 3,
          status: 'investigating',
          service,
          private: input.private ?? false,
          channelName: channelName(number, title),
          channelId: null,
          // PagerDuty or the scheduler can open an incident but not command it: a human is asked for.
          roles: { commander: isHuman(by.actor.id) ? by.actor.id : null, comms: null, scribe: null },
          declaredBy: by.actor.id,
          declaredAt: now,
          acknowledgedAt: null,
          resolvedAt: null,
          summary: null,
          pagerdutyId: input.pagerduty?.id ?? null,
          pagerdutyUrl: input.pagerduty?.url ?? null,
          lastUpdateAt: now,
        };
        await incidents.insert(incident);
        const event = await audit.append({
          actor: by.actor.id,
          source: by.source,
          kind: 'incident.declared',
          incidentId: incident.id,
          payload: withAuth(
            {
              title,
              severity: incident.severity,
              service: incident.service,
              private: incident.private,
              channel: incident.channelName,
              commander: incident.roles.commander,
              from_channel: input.fromChannel ?? null,
              pagerduty_id: incident.pagerdutyId,
              pagerduty_url: incident.pagerdutyUrl,
              ...(input.pagerduty?.trigger ? triggerFields(input.pagerduty.trigger) : {}),
            },
            by,
          ),
        });
        incident.declaredAt = event.time;
        incident.lastUpdateAt = event.time;
        await incidents.save(incident);
        await outbox.enqueue({
          causeSeq: event.seq,
          target: 'slack',
          channel: incidentChannelKey(incident.id),
          body: {
            kind: 'incident.declared',
            pin: true,
            text: rich`${incidentRef(incident.id)} declared by ${userRef(by.actor.id)}: ${title}`,
            fields: summaryFields(incident),
            data: { invite: incident.roles.commander ? [incident.roles.commander] : [], private: incident.private, channelName: incident.channelName },
          },
        });
        return incident;
      });
    },

    async update(by: By, id: string, input: { text: string; status?: OpenStatus }): Promise<Incident> {
      const text = requireText('the update', input.text, TEXT_MAX);
      return mutate(id, async (incident) => {
        requireOpen(incident, 'take status updates');
        const payload: Record<string, unknown> = { text };
        if (input.status && input.status !== incident.status) {
          payload.status = input.status;
          payload.previous_status = incident.status;
          incident.status = input.status;
        }
        await record(by, incident, 'incident.updated', payload);
        return incident;
      });
    },

    async note(by: By, id: string, text: string, pinned?: { author: string; permalink: string | null; messageTs: string }): Promise<Incident> {
      const body = requireText('the note', text, TEXT_MAX);
      return mutate(id, async (incident) => {
        const payload: Record<string, unknown> = { text: body };
        if (pinned) Object.assign(payload, { pinned: true, author: pinned.author, permalink: pinned.permalink, message_ts: pinned.messageTs });
        await record(by, incident, 'incident.note', payload);
        return incident;
      });
    },

    async setSeverity(by: By, id: string, severity: number): Promise<Incident> {
      return mutate(id, async (incident) => {
        requireOpen(incident, 'change severity');
        if (incident.severity === severity) throw new ConflictError(`${id} is already SEV${severity}`);
        const from = incident.severity;
        incident.severity = severity;
        await record(by, incident, 'incident.severity_changed', { from, to: severity });
        return incident;
      });
    },

    async assignRole(by: By, id: string, role: IncidentRole, user: string): Promise<Incident> {
      return mutate(id, async (incident) => {
        const previous = incident.roles[role];
        if (previous === user) throw new ConflictError(`<@${user}> is already ${role} of ${id}`);
        incident.roles[role] = user;
        await record(
          by,
          incident,
          'incident.role_assigned',
          { role, user, previous },
          {
            data: { invite: [user] },
          },
        );
        return incident;
      });
    },

    /**
     * Makes `user` a member (which lets them see a private incident) and invites them to its channel.
     * Who may invite is the caller's to check: this records it.
     */
    async invite(by: By, id: string, user: string): Promise<Incident> {
      return mutate(id, async (incident) => {
        if (isMember(incident, user, await invitedTo(incident.id))) throw new ConflictError(`<@${user}> is already a member of ${id}`);
        await record(by, incident, MEMBER_INVITED, { user }, { data: { invite: [user] } });
        return incident;
      });
    },

    async ack(by: By, id: string, extra: Record<string, unknown> = {}): Promise<Incident> {
      return mutate(id, async (incident) => {
        requireOpen(incident, 'be acknowledged');
        if (incident.acknowledgedAt !== null) {
          throw new ConflictError(`${id} was already acknowledged at ${new Date(incident.acknowledgedAt).toISOString()}`);
        }
        const event = await record(by, incident, 'incident.acknowledged', extra);
        incident.acknowledgedAt = event.time;
        await incidents.save(incident);
        return incident;
      });
    },

    async resolve(by: By, id: string, summary?: string, extra: Record<string, unknown> = {}): Promise<Incident> {
      const text = summary?.trim() ? requireText('the summary', summary, TEXT_MAX) : null;
      return mutate(id, async (incident) => {
        requireOpen(incident, 'be resolved again');
        incident.status = 'resolved';
        incident.summary = text;
        const event = await record(by, incident, 'incident.resolved', { summary: text, ...extra });
        incident.resolvedAt = event.time;
        await incidents.save(incident);
        return incident;
      });
    },

    /**
     * Nudges the incident channel (the scheduler's reminders); not an update of the incident itself.
     * `stillDue` is asked inside the transaction, so an update, a commander or a resolve that landed
     * since the reminder was found due stops it; returns whether it was posted.
     */
    async remind(
      id: string,
      reminder: { reason: string; since: number; elapsedMs: number },
      text: ChatText,
      stillDue: (incident: Incident) => Promise<boolean> = async () => true,
    ): Promise<boolean> {
      return uow.transaction(async () => {
        const incident = await load(id);
        if (incident.status === 'resolved' || !(await stillDue(incident))) return false;
        const event = await audit.append({
          actor: 'system',
          source: 'scheduler',
          kind: 'incident.reminder',
          incidentId: incident.id,
          payload: { reason: reminder.reason, since: reminder.since, elapsed_ms: reminder.elapsedMs },
        });
        await outbox.enqueue({
          causeSeq: event.seq,
          target: 'slack',
          channel: incidentChannelKey(incident.id),
          body: { kind: 'incident.reminder', text },
        });
        return true;
      });
    },

    /** Records a change made in another system (PagerDuty) on the timeline, applying what it changed here. */
    async recordExternal(by: By, id: string, kind: string, payload: Record<string, unknown>, changes: ExternalChanges = {}): Promise<Incident> {
      return mutate(id, async (incident) => {
        if (changes.severity !== undefined) incident.severity = changes.severity;
        if (changes.reopen) {
          incident.status = 'investigating';
          incident.summary = null;
          incident.resolvedAt = null;
          incident.acknowledgedAt = null;
        }
        if (changes.unacknowledge) incident.acknowledgedAt = null;
        await record(by, incident, kind, payload);
        return incident;
      });
    },

    /** Queues the transcript for upload to the incident channel (the chat adapter renders it at delivery). */
    async requestExport(by: By, id: string, format: string): Promise<Incident> {
      return mutate(id, async (incident) => {
        await record(by, incident, 'incident.export_requested', { format }, { kind: 'incident.export', data: { incidentId: incident.id, format } });
        return incident;
      });
    },

    /** Links the incident to its chat channel once the chat adapter has created it. */
    async attachChannel(id: string, channelId: string): Promise<void> {
      await uow.transaction(async () => {
        const incident = await load(id);
        incident.channelId = channelId;
        await incidents.save(incident);
      });
    },

    get: load,
    invited: invitedTo,
    find: (id: string): Promise<Incident | undefined> => incidents.get(id),
    byChannel: (channelId: string): Promise<Incident | undefined> => incidents.byChannelId(channelId),
    listOpen: (): Promise<Incident[]> => incidents.listOpen(),
    timeline: async (id: string, limit: number): Promise<AuditEvent[]> => {
      await load(id);
      return audit.recentForIncident(id, limit);
    },
  };
}

/** The policy decision that allowed an action travels in the action's own audit row. */
function withAuth(payload: Record<string, unknown>, by: By): Record<string, unknown> {
  return by.authorization ? { ...payload, authorized: by.authorization } : payload;
}

export function summaryFields(incident: Incident): Array<[string, ChatText]> {
  return [
    ['Severity', `SEV${incident.severity}`],
    ['Status', incident.status],
    ['Commander', incident.roles.commander ? [userRef(incident.roles.commander)] : 'unassigned'],
    ['Service', incident.service ?? '—'],
    ...(incident.pagerdutyUrl ? [['PagerDuty', incident.pagerdutyUrl] as [string, ChatText]] : []),
  ];
}
