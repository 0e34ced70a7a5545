// Receives verified webhook events: each distinct one is stored with its audit row, duplicates change nothing.
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Incident } from '../incidents/incident.js';
import type { UnitOfWork } from '../ports.js';
import type { PagerdutyEvent } from './pagerduty-event.js';
import type { PagerdutyEventStore } from './pagerduty-event-store.js';
import { agentName, pagerdutyActor, serviceLabel } from './pagerduty-mapping.js';

export interface IncomingEvent {
  event: PagerdutyEvent;
  /** The raw body, exactly as signed. */
  body: string;
  /** `X-Webhook-Id`: one value per webhook, repeated on each delivery attempt. */
  webhookId: string | null;
}

export type ReceiveResult =
  | { kind: 'stored'; eventId: string; seq: number }
  /** Already stored (same event id, or same webhook delivery id): nothing was written. */
  | { kind: 'duplicate'; eventId: string; seq: number };

export interface PagerdutyInboxDeps {
  uow: UnitOfWork;
  audit: AuditLog;
  events: PagerdutyEventStore;
  findByPagerdutyId: (pdIncidentId: string) => Promise<Incident | undefined>;
  /**
   * Called inside the transaction that stores a batch, with the ids of its events left to process
   * (pending): a job queue that shares the database takes them in the same commit.
   */
  onPending?: (eventIds: string[]) => Promise<void>;
}

export type PagerdutyInbox = ReturnType<typeof createPagerdutyInbox>;

export function createPagerdutyInbox(deps: PagerdutyInboxDeps) {
  const { uow, audit, events } = deps;

  /** The receipt, and whether the event was stored as one left to process. */
  async function receiveOne(incoming: IncomingEvent): Promise<{ result: ReceiveResult; toProcess: boolean }> {
    const { event, body, webhookId } = incoming;
    const seen = await events.findDuplicate(event.id, webhookId);
    if (seen) return { result: { kind: 'duplicate', eventId: seen.eventId, seq: seen.receivedSeq }, toProcess: false };
    const ignored = !event.handled;
    // Notes and other events without a service are attributed to the service of the incident they concern;
    // an ignored event is never processed, so it is linked to that incident here or never.
    const known = (event.service === null || ignored) && event.pdIncidentId ? await deps.findByPagerdutyId(event.pdIncidentId) : undefined;
    const service = serviceLabel(event.service) ?? known?.service ?? null;
    const agent = agentName(event.agent);
    const receipt = await audit.append({
      actor: pagerdutyActor(service).id,
      source: 'pagerduty',
      kind: `pagerduty.${event.type}`,
      payload: {
        event_id: event.id,
        event_type: event.type,
        webhook_id: webhookId,
        pagerduty_incident: event.pdIncidentId,
        service,
        service_id: event.service?.id ?? null,
        agent,
        occurred_at: event.occurredAt,
        body_sha256: createHash('sha256').update(body).digest('hex'),
        ignored,
      },
    });
    // A ping and an unknown type need no processing: recorded, and final at once.
    const state = event.type === 'pagey.ping' ? 'processed' : ignored ? 'ignored' : 'pending';
    await events.insert({
      receivedSeq: receipt.seq,
      eventId: event.id,
      webhookId,
      eventType: event.type,
      pdIncidentId: event.pdIncidentId,
      serviceId: event.service?.id ?? null,
      serviceName: service,
      agent,
      occurredAt: event.occurredAt,
      body,
      receivedAt: receipt.time,
      state,
      outcome: event.type === 'pagey.ping' ? 'ping' : ignored ? 'unhandled event type' : null,
      incidentId: known?.id ?? null,
    });
    return { result: { kind: 'stored', eventId: event.id, seq: receipt.seq }, toProcess: state === 'pending' };
  }

  return {
    /**
     * Stores several events in one transaction (one disk sync for a burst), in the order given;
     * a duplicate later in the same batch is seen as one. All land, or none do.
     */
    async receive(batch: readonly IncomingEvent[]): Promise<ReceiveResult[]> {
      if (batch.length === 0) return [];
      return uow.transaction(async () => {
        // One after another: a duplicate later in the batch must see the earlier one stored.
        const results: ReceiveResult[] = [];
        const pending: string[] = [];
        for (const incoming of batch) {
          const { result, toProcess } = await receiveOne(incoming);
          results.push(result);
          if (toProcess) pending.push(result.eventId);
        }
        if (pending.length > 0) await deps.onPending?.(pending);
        return results;
      });
    },
  };
}
