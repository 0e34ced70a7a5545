// Processes stored PagerDuty events in arrival order: incident effects once per event, then its triggers once each.
import { EdgeopsError, NotAllowedError } from '../../errors.js';
import type { AuditLog } from '../audit/audit-log.js';
import { TEXT_MAX, type Incident } from '../incidents/incident.js';
import type { IncidentService } from '../incidents/incident-service.js';
import type { By, Clock, UnitOfWork } from '../ports.js';
import type { Procedure } from '../procedures/procedure-schema.js';
import type { RunService } from '../runs/run-service.js';
import { parsePagerdutyEvent, type IncidentData, type PagerdutyEvent, type PagerdutyService } from './pagerduty-event.js';
import type { PagerdutyEventStore, StoredPagerdutyEvent, UnfinishedPagerdutyEvent } from './pagerduty-event-store.js';
import { agentName, matchingTriggers, pagerdutyBy, serviceLabel, severityOf, titleOf } from './pagerduty-mapping.js';
import { EDGEOPS_NOTE_MARK } from './pagerduty-sync.js';
import { payloadText } from '../timeline/describe-event.js';

export interface PagerdutyProcessorDeps {
  uow: UnitOfWork;
  audit: AuditLog;
  events: PagerdutyEventStore;
  incidents: IncidentService;
  findByPagerdutyId: (pdIncidentId: string) => Promise<Incident | undefined>;
  runs: Pick<RunService, 'request'>;
  catalog: () => { procedures: ReadonlyMap<string, Procedure> };
  clock: Clock;
  /** Attempts before an event that keeps failing is recorded as failed, unblocking its incident's later events. */
  maxAttempts?: number;
  /** Wait before the next attempt after `attempts` failures. */
  retryDelayMs?: (attempts: number) => number;
  /** Told when processing queued messages (channel posts, PagerDuty writes). */
  onMessages?: () => void;
  /** Errors of single events, which have no caller to throw to. */
  onError?: (err: unknown, eventId: string) => void;
  /**
   * Replicas sharing one database: how long an event this worker has applied stays its own while it
   * starts the event's triggers. Other workers leave it alone until then, and take it up after,
   * should this one have died on the way. 0 (the default): one process, nothing to leave alone.
   */
  claimMs?: number;
}

export interface ProcessPass {
  /** Events finished or moved on in this pass. */
  processed: number;
  /** True when due events were left for the next pass. */
  more: boolean;
  /** The earliest retry deadline among events waiting after a failure, if any. */
  nextAttemptAt: number | null;
}

/** What applying an event did: `outcome` is kept with the event, for tests and people alike. */
interface Applied {
  outcome: string;
  incident: Incident | null;
  /** False when the event must not fire triggers (the echo of edgeops' own note). */
  fireTriggers: boolean;
}

/** How many unfinished events a pass looks at per event it may process, so one stuck incident cannot hide the others behind it. */
const WINDOW_FACTOR = 4;
const MIN_WINDOW = 200;
const DEFAULT_MAX_ATTEMPTS = 5;
/**
 * `claimMs` for replicas: starting an event's triggers takes well under a second, so a minute only
 * comes into play when the worker that applied the event died before finishing them.
 */
export const REPLICA_CLAIM_MS = 60_000;
const defaultRetryDelay = (attempts: number): number => Math.min(60_000, 1_000 * 2 ** Math.max(0, attempts - 1));

const names = (refs: IncidentData['assignees']): string[] => (refs ?? []).map((r) => r.summary || r.id);
const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export type PagerdutyProcessor = ReturnType<typeof createPagerdutyProcessor>;

export function createPagerdutyProcessor(deps: PagerdutyProcessorDeps) {
  const { uow, events, incidents, clock } = deps;
  const maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const retryDelay = deps.retryDelayMs ?? defaultRetryDelay;
  const claimMs = Math.max(0, deps.claimMs ?? 0);

  /** The service behind an event: its own, or for events without one (notes), the incident's. */
  const serviceOf = (event: PagerdutyEvent, incident: Incident | null): PagerdutyService | null =>
    event.service ?? (incident?.service ? { id: incident.service, name: incident.service } : null);

  const byFor = (event: PagerdutyEvent, incident: Incident | null): By => pagerdutyBy(serviceLabel(serviceOf(event, incident)));

  /** Who did it in PagerDuty, carried on every timeline row a PagerDuty event makes. */
  const behalf = (event: PagerdutyEvent): Record<string, unknown> => ({
    on_behalf_of: agentName(event.agent),
    pagerduty_agent: event.agent?.id ?? null,
    pagerduty_event: event.id,
  });

  /** The incident effects of one event. Runs inside the transaction that marks the event applied. */
  async function applyEffects(stored: StoredPagerdutyEvent, event: PagerdutyEvent): Promise<Applied> {
    const pdId = event.pdIncidentId;
    if (event.type === 'pagey.ping' || pdId === null) return { outcome: 'ping', incident: null, fireTriggers: false };
    const existing = (await deps.findByPagerdutyId(pdId)) ?? null;

    if (event.type === 'incident.triggered') {
      if (existing) return { outcome: 'already open', incident: existing, fireTriggers: true };
      const data = event.incident!;
      const declared = await incidents.declare(byFor(event, null), {
        title: titleOf(data),
        severity: severityOf(data),
        service: serviceLabel(event.service),
        pagerduty: {
          id: pdId,
          url: data.html_url ?? null,
          // The first timeline entry names the event, so the postmortem says who triggered it in PagerDuty and when.
          trigger: {
            eventId: event.id,
            receivedSeq: stored.receivedSeq,
            agent: agentName(event.agent),
            agentId: event.agent?.id ?? null,
            occurredAt: event.occurredAt,
          },
        },
      });
      // Events of this PagerDuty incident that arrived before it was opened here belong to it too.
      await events.linkEarlier(pdId, declared.id);
      return { outcome: 'declared', incident: declared, fireTriggers: true };
    }

    if (!existing) return { outcome: 'no edgeops incident', incident: null, fireTriggers: false };
    const incident = existing;
    const by = byFor(event, incident);
    const data = event.incident;
    const resolved = incident.status === 'resolved';
    const done = (outcome: string, changed: Incident = incident): Applied => ({ outcome, incident: changed, fireTriggers: true });

    switch (event.type) {
      case 'incident.acknowledged':
        // Already so here: the webhook echo of an ack made here (and mirrored), or a redelivery.
        if (resolved || incident.acknowledgedAt !== null) return done('unchanged');
        return done('acknowledged', await incidents.ack(by, incident.id, behalf(event)));
      case 'incident.unacknowledged':
        if (resolved || incident.acknowledgedAt === null) return done('unchanged');
        return done('unacknowledged', await incidents.recordExternal(by, incident.id, 'incident.unacknowledged', behalf(event), { unacknowledge: true }));
      case 'incident.resolved': {
        if (resolved) return done('unchanged');
        const reason = data?.resolve_reason as { type?: unknown; incident?: { summary?: unknown; id?: unknown } } | null | undefined;
        const merged =
          reason?.type === 'merge_resolve_reason'
            ? `merged into ${payloadText(reason.incident?.summary ?? reason.incident?.id ?? 'another incident')}`
            : undefined;
        return done('resolved', await incidents.resolve(by, incident.id, merged, behalf(event)));
      }
      case 'incident.reopened':
        return done(
          'reopened',
          await incidents.recordExternal(
            by,
            incident.id,
            'incident.reopened',
            behalf(event),
            resolved ? { reopen: true } : { unacknowledge: incident.acknowledgedAt !== null },
          ),
        );
      case 'incident.escalated':
      case 'incident.reassigned':
      case 'incident.delegated':
        return done(
          event.type.slice('incident.'.length),
          await incidents.recordExternal(by, incident.id, event.type, {
            ...behalf(event),
            assignees: names(data?.assignees),
            escalation_policy: data?.escalation_policy?.summary ?? data?.escalation_policy?.id ?? null,
          }),
        );
      case 'incident.priority_updated': {
        const to = severityOf(data ?? {});
        return done(
          'priority updated',
          await incidents.recordExternal(
            by,
            incident.id,
            'incident.priority_updated',
            { ...behalf(event), priority: data?.priority?.summary ?? null, urgency: data?.urgency ?? null, from: incident.severity, to },
            { severity: to },
          ),
        );
      }
      case 'incident.annotated': {
        const content = event.note?.content ?? '';
        if (content.startsWith(EDGEOPS_NOTE_MARK)) return { outcome: 'echo of an edgeops note', incident, fireTriggers: false };
        return done(
          'annotated',
          await incidents.recordExternal(by, incident.id, 'incident.annotated', { ...behalf(event), text: cut(content, TEXT_MAX) }),
        );
      }
      default:
        return { outcome: 'unhandled event type', incident, fireTriggers: false };
    }
  }

  function parse(stored: StoredPagerdutyEvent): PagerdutyEvent {
    const parsed = parsePagerdutyEvent(JSON.parse(stored.body) as unknown);
    if (!parsed.ok) throw new Error(`stored event ${stored.eventId} no longer parses: ${parsed.problem}`);
    return parsed.event;
  }

  /**
   * Step 1: the incident effects and the event's new state, together. Called inside the pass's
   * transaction, as a savepoint of its own: a failure undoes this event's effects only.
   */
  function apply(stored: StoredPagerdutyEvent, event: PagerdutyEvent): Promise<StoredPagerdutyEvent> {
    return uow.transaction(async () => {
      const applied = await applyEffects(stored, event);
      const triggers =
        applied.fireTriggers && applied.incident
          ? matchingTriggers(deps.catalog().procedures.values(), event.type, serviceOf(event, applied.incident))
          : [];
      const incidentId = applied.incident?.id ?? null;
      if (triggers.length > 0) {
        // This worker starts the triggers right after the commit; others wait out the claim first.
        const claim = claimMs > 0 ? { nextAttemptAt: clock.now() + claimMs } : {};
        await events.setState(stored.eventId, 'applied', { outcome: applied.outcome, incidentId, ...claim });
        return { ...stored, state: 'applied' as const, outcome: applied.outcome, incidentId };
      }
      const state = applied.incident === null && event.type !== 'pagey.ping' ? 'ignored' : 'processed';
      await events.setState(stored.eventId, state, { outcome: applied.outcome, incidentId, processedAt: clock.now() });
      return { ...stored, state, outcome: applied.outcome, incidentId };
    });
  }

  /** Step 2: each matching trigger, at most once per event; the run and its trigger record commit together. */
  async function startTriggers(stored: StoredPagerdutyEvent, event: PagerdutyEvent): Promise<void> {
    const incident = stored.incidentId ? ((await incidents.find(stored.incidentId)) ?? null) : null;
    if (incident) {
      const by = byFor(event, incident);
      for (const match of matchingTriggers(deps.catalog().procedures.values(), event.type, serviceOf(event, incident))) {
        if (await events.triggerRun(stored.eventId, match.key)) continue;
        const record = { eventId: stored.eventId, triggerKey: match.key, procedure: match.procedure.name, at: clock.now() };
        try {
          await deps.runs.request(by, {
            procedure: match.procedure.name,
            params: {},
            ...(match.trigger.env === undefined ? {} : { environment: match.trigger.env }),
            incidentId: incident.id,
            defaults: match.trigger.with,
            onCreated: (run) => events.insertTriggerRun({ ...record, runId: run.id, outcome: 'started', detail: run.state }),
          });
        } catch (err) {
          if (!(err instanceof EdgeopsError)) throw err;
          // The refusal itself is on the audit log already (the run service records policy decisions).
          if (err instanceof NotAllowedError) {
            await uow.transaction(() => events.insertTriggerRun({ ...record, runId: null, outcome: 'refused', detail: err.message }));
            continue;
          }
          await uow.transaction(async () => {
            await events.insertTriggerRun({ ...record, runId: null, outcome: 'failed', detail: err.message });
            await incidents.recordExternal(by, incident.id, 'pagerduty.trigger_failed', {
              procedure: match.procedure.name,
              trigger: match.key,
              event_type: event.type,
              pagerduty_event: event.id,
              reason: err.message,
            });
          });
        }
      }
    }
    await uow.transaction(() => events.setState(stored.eventId, 'processed', { processedAt: clock.now() }));
  }

  async function recordFailure(stored: UnfinishedPagerdutyEvent, err: unknown): Promise<number | null> {
    const attempts = stored.attempts + 1;
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    deps.onError?.(err, stored.eventId);
    if (attempts < maxAttempts) {
      const at = clock.now() + retryDelay(attempts);
      await uow.transaction(() => events.recordAttempt(stored.eventId, at, error));
      return at;
    }
    await uow.transaction(async () => {
      const incidentId = stored.incidentId ?? (stored.pdIncidentId ? ((await deps.findByPagerdutyId(stored.pdIncidentId))?.id ?? null) : null);
      await events.recordAttempt(stored.eventId, clock.now(), error);
      // A failed event still concerns its incident: linked to it like the events that went through.
      await events.setState(stored.eventId, 'failed', { outcome: 'failed', processedAt: clock.now(), incidentId });
      await deps.audit.append({
        actor: 'system',
        source: 'system',
        kind: 'pagerduty.processing_failed',
        incidentId,
        payload: { event_id: stored.eventId, event_type: stored.eventType, received_seq: stored.receivedSeq, attempts, error },
      });
    });
    return null;
  }

  return {
    /**
     * Processes up to `limit` due events, oldest first. Events of one PagerDuty incident keep their
     * order: while one waits for a retry, the later ones of the same incident wait behind it.
     */
    async processDue(limit = 50): Promise<ProcessPass> {
      const now = clock.now();
      const blocked = new Set<string>();
      const keyOf = (e: UnfinishedPagerdutyEvent): string => e.pdIncidentId ?? e.eventId;
      let nextAttemptAt: number | null = null;
      const later = (at: number): void => {
        nextAttemptAt = nextAttemptAt === null ? at : Math.min(nextAttemptAt, at);
      };
      let more = false;
      const due: UnfinishedPagerdutyEvent[] = [];
      for (const head of await events.unfinished(Math.max(MIN_WINDOW, limit * WINDOW_FACTOR))) {
        const key = keyOf(head);
        if (blocked.has(key)) continue;
        if (head.nextAttemptAt > now) {
          blocked.add(key);
          later(head.nextAttemptAt);
          continue;
        }
        if (due.length >= limit) {
          more = true;
          break;
        }
        due.push(head);
      }
      if (due.length === 0) return { processed: 0, more, nextAttemptAt };

      const failed = async (head: UnfinishedPagerdutyEvent, err: unknown): Promise<void> => {
        const at = await recordFailure(head, err);
        if (at !== null) {
          blocked.add(keyOf(head));
          later(at);
        }
      };
      // Step 1 of every due event in one transaction (one disk sync per pass). An event after a
      // failed one of the same incident waits for the next pass, to keep that incident's order.
      const toTrigger: Array<{ head: UnfinishedPagerdutyEvent; stored: StoredPagerdutyEvent; event: PagerdutyEvent }> = [];
      let skipped = 0;
      await uow.transaction(async () => {
        for (const head of due) {
          // Events of one incident keep their order: none goes while an earlier one waits. Not this
          // pass's work, so a worker does not spin on what another replica's worker holds.
          if (blocked.has(keyOf(head))) {
            skipped += 1;
            continue;
          }
          try {
            // The row as it stands now, held until this pass commits: the list above was read before,
            // and another replica's worker may have taken the event since, or hold it now.
            const stored = await events.claim(head.eventId);
            if (!stored) {
              skipped += 1;
              blocked.add(keyOf(head));
              continue;
            }
            if (stored.state !== 'pending' && stored.state !== 'applied') {
              skipped += 1;
              continue;
            }
            // Applied by another worker that is starting its triggers, or waiting for a retry.
            if (stored.nextAttemptAt > now) {
              skipped += 1;
              blocked.add(keyOf(head));
              later(stored.nextAttemptAt);
              continue;
            }
            const event = parse(stored);
            const current = stored.state === 'pending' ? await apply(stored, event) : stored;
            if (current.state === 'applied') toTrigger.push({ head, stored: current, event });
          } catch (err) {
            await failed(head, err);
          }
        }
      });
      // Step 2 only after that commit: a run must never start on effects that could still be undone.
      for (const { head, stored, event } of toTrigger) {
        try {
          await startTriggers(stored, event);
        } catch (err) {
          await failed(head, err);
        }
      }
      deps.onMessages?.();
      return { processed: due.length - skipped, more, nextAttemptAt };
    },
  };
}
