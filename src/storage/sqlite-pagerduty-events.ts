// SQLite implementation of the PagerDuty event store; its row mappers live here and nowhere else.
import type {
  NewPagerdutyEvent,
  PagerdutyEventState,
  PagerdutyEventStore,
  StoredPagerdutyEvent,
  TriggerOutcome,
  TriggerRunRecord,
  UnfinishedPagerdutyEvent,
} from '../core/pagerduty/pagerduty-event-store.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import { statementCache } from './statements.js';

export interface EventRow {
  received_seq: number;
  event_id: string;
  webhook_id: string | null;
  event_type: string;
  pd_incident_id: string | null;
  service_id: string | null;
  service_name: string | null;
  agent: string | null;
  occurred_at: string | null;
  body: string;
  received_at: number;
  state: string;
  outcome: string | null;
  incident_id: string | null;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  processed_at: number | null;
}

export const EVENT_COLUMNS = [
  'received_seq',
  'event_id',
  'webhook_id',
  'event_type',
  'pd_incident_id',
  'service_id',
  'service_name',
  'agent',
  'occurred_at',
  'body',
  'received_at',
  'state',
  'outcome',
  'incident_id',
  'attempts',
  'next_attempt_at',
  'last_error',
  'processed_at',
] as const;

export const toEvent = (r: EventRow): StoredPagerdutyEvent => ({
  receivedSeq: r.received_seq,
  eventId: r.event_id,
  webhookId: r.webhook_id,
  eventType: r.event_type,
  pdIncidentId: r.pd_incident_id,
  serviceId: r.service_id,
  serviceName: r.service_name,
  agent: r.agent,
  occurredAt: r.occurred_at,
  body: r.body,
  receivedAt: r.received_at,
  state: r.state as PagerdutyEventState,
  outcome: r.outcome,
  incidentId: r.incident_id,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  processedAt: r.processed_at,
});

export interface TriggerRow {
  event_id: string;
  trigger_key: string;
  procedure: string;
  run_id: string | null;
  outcome: string;
  detail: string | null;
  at: number;
}

export const toTrigger = (r: TriggerRow): TriggerRunRecord => ({
  eventId: r.event_id,
  triggerKey: r.trigger_key,
  procedure: r.procedure,
  runId: r.run_id,
  outcome: r.outcome as TriggerOutcome,
  detail: r.detail,
  at: r.at,
});

const INSERT_EVENT = `INSERT INTO pagerduty_events (received_seq, event_id, webhook_id, event_type, pd_incident_id, service_id,
   service_name, agent, occurred_at, body, received_at, state, outcome, incident_id, next_attempt_at, processed_at)
 VALUES (@received_seq, @event_id, @webhook_id, @event_type, @pd_incident_id, @service_id,
   @service_name, @agent, @occurred_at, @body, @received_at, @state, @outcome, @incident_id, @received_at, @processed_at)`;

export class SqlitePagerdutyEvents implements PagerdutyEventStore {
  /** Prepared on first use, so a database opened before its migrations ran can still be opened. */
  private readonly stmt: (sql: string) => Statement;

  constructor(db: Db) {
    this.stmt = statementCache(db);
  }

  async findDuplicate(eventId: string, webhookId: string | null): Promise<{ eventId: string; receivedSeq: number } | undefined> {
    // Asked once per delivery, so only the two unique indexes are read, and only the two columns.
    const row = this.stmt('SELECT event_id, received_seq FROM pagerduty_events WHERE event_id = ? OR webhook_id = ? LIMIT 1').get(eventId, webhookId) as
      Pick<EventRow, 'event_id' | 'received_seq'> | undefined;
    return row ? { eventId: row.event_id, receivedSeq: row.received_seq } : undefined;
  }

  async insert(e: NewPagerdutyEvent): Promise<void> {
    const final = e.state !== 'pending' && e.state !== 'applied';
    this.stmt(INSERT_EVENT).run({
      received_seq: e.receivedSeq,
      event_id: e.eventId,
      webhook_id: e.webhookId,
      event_type: e.eventType,
      pd_incident_id: e.pdIncidentId,
      service_id: e.serviceId,
      service_name: e.serviceName,
      agent: e.agent,
      occurred_at: e.occurredAt,
      body: e.body,
      received_at: e.receivedAt,
      state: e.state,
      outcome: e.outcome,
      incident_id: e.incidentId ?? null,
      processed_at: final ? e.receivedAt : null,
    });
  }

  async get(eventId: string): Promise<StoredPagerdutyEvent | undefined> {
    const row = this.stmt('SELECT * FROM pagerduty_events WHERE event_id = ?').get(eventId) as EventRow | undefined;
    return row ? toEvent(row) : undefined;
  }

  /** One connection, whose transactions run one at a time: the row is the caller's for its transaction. */
  claim(eventId: string): Promise<StoredPagerdutyEvent | undefined> {
    return this.get(eventId);
  }

  async unfinished(limit: number): Promise<UnfinishedPagerdutyEvent[]> {
    // Bodies stay on disk here: a backlog is scanned on every pass, a body is read only when its event is processed.
    const rows = this.stmt(
      `SELECT ${EVENT_COLUMNS.filter((c) => c !== 'body').join(', ')}, '' AS body FROM pagerduty_events
       WHERE state IN ('pending', 'applied') ORDER BY received_seq LIMIT ?`,
    ).all(limit) as EventRow[];
    return rows.map((r) => {
      const { body: _body, ...head } = toEvent(r);
      return head;
    });
  }

  async linkEarlier(pdIncidentId: string, incidentId: string): Promise<void> {
    this.stmt('UPDATE pagerduty_events SET incident_id = ? WHERE pd_incident_id = ? AND incident_id IS NULL').run(incidentId, pdIncidentId);
  }

  async setState(
    eventId: string,
    state: PagerdutyEventState,
    fields: { outcome?: string | null; incidentId?: string | null; processedAt?: number | null; nextAttemptAt?: number } = {},
  ): Promise<void> {
    const sets = ['state = @state'];
    const params: Record<string, unknown> = { event_id: eventId, state };
    if (fields.outcome !== undefined) {
      sets.push('outcome = @outcome');
      params.outcome = fields.outcome;
    }
    if (fields.incidentId !== undefined) {
      sets.push('incident_id = @incident_id');
      params.incident_id = fields.incidentId;
    }
    if (fields.processedAt !== undefined) {
      sets.push('processed_at = @processed_at');
      params.processed_at = fields.processedAt;
    }
    if (fields.nextAttemptAt !== undefined) {
      sets.push('next_attempt_at = @next_attempt_at');
      params.next_attempt_at = fields.nextAttemptAt;
    }
    this.stmt(`UPDATE pagerduty_events SET ${sets.join(', ')} WHERE event_id = @event_id`).run(params);
  }

  async recordAttempt(eventId: string, nextAttemptAt: number, error: string): Promise<void> {
    this.stmt('UPDATE pagerduty_events SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE event_id = ?').run(
      nextAttemptAt,
      error,
      eventId,
    );
  }

  async triggerRun(eventId: string, triggerKey: string): Promise<TriggerRunRecord | undefined> {
    const row = this.stmt('SELECT * FROM pagerduty_trigger_runs WHERE event_id = ? AND trigger_key = ?').get(eventId, triggerKey) as
      TriggerRow | undefined;
    return row ? toTrigger(row) : undefined;
  }

  async triggerRuns(eventId: string): Promise<TriggerRunRecord[]> {
    return (this.stmt('SELECT * FROM pagerduty_trigger_runs WHERE event_id = ? ORDER BY trigger_key').all(eventId) as TriggerRow[]).map(toTrigger);
  }

  async insertTriggerRun(r: TriggerRunRecord): Promise<void> {
    this.stmt(`INSERT INTO pagerduty_trigger_runs (event_id, trigger_key, procedure, run_id, outcome, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
      r.eventId,
      r.triggerKey,
      r.procedure,
      r.runId,
      r.outcome,
      r.detail,
      r.at,
    );
  }

  async countByState(): Promise<Record<PagerdutyEventState, number>> {
    const counts: Record<PagerdutyEventState, number> = { pending: 0, applied: 0, processed: 0, ignored: 0, failed: 0 };
    for (const r of this.stmt('SELECT state, COUNT(*) AS n FROM pagerduty_events GROUP BY state').all() as Array<{
      state: PagerdutyEventState;
      n: number;
    }>) {
      counts[r.state] = r.n;
    }
    return counts;
  }
}
