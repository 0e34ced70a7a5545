// PostgreSQL implementation of the PagerDuty event store, with the SQLite store's row mapping.
import type {
  NewPagerdutyEvent,
  PagerdutyEventState,
  PagerdutyEventStore,
  StoredPagerdutyEvent,
  TriggerRunRecord,
  UnfinishedPagerdutyEvent,
} from '../../core/pagerduty/pagerduty-event-store.js';
import { EVENT_COLUMNS, toEvent, toTrigger, type EventRow, type TriggerRow } from '../sqlite-pagerduty-events.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

export class PostgresPagerdutyEvents implements PagerdutyEventStore {
  constructor(private readonly session: PostgresUnitOfWork) {}

  private get db() {
    return this.session.current();
  }

  async findDuplicate(eventId: string, webhookId: string | null): Promise<{ eventId: string; receivedSeq: number } | undefined> {
    const row = (
      await this.db.query<Pick<EventRow, 'event_id' | 'received_seq'>>(
        'SELECT event_id, received_seq FROM pagerduty_events WHERE event_id = $1 OR webhook_id = $2 LIMIT 1',
        [eventId, webhookId],
      )
    ).rows[0];
    return row ? { eventId: row.event_id, receivedSeq: row.received_seq } : undefined;
  }

  async insert(e: NewPagerdutyEvent): Promise<void> {
    const final = e.state !== 'pending' && e.state !== 'applied';
    await this.db.query(
      `INSERT INTO pagerduty_events (received_seq, event_id, webhook_id, event_type, pd_incident_id, service_id,
         service_name, agent, occurred_at, body, received_at, state, outcome, incident_id, next_attempt_at, processed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $11, $15)`,
      [
        e.receivedSeq,
        e.eventId,
        e.webhookId,
        e.eventType,
        e.pdIncidentId,
        e.serviceId,
        e.serviceName,
        e.agent,
        e.occurredAt,
        e.body,
        e.receivedAt,
        e.state,
        e.outcome,
        e.incidentId ?? null,
        final ? e.receivedAt : null,
      ],
    );
  }

  async get(eventId: string): Promise<StoredPagerdutyEvent | undefined> {
    const row = (await this.db.query<EventRow>('SELECT * FROM pagerduty_events WHERE event_id = $1', [eventId])).rows[0];
    return row ? toEvent(row) : undefined;
  }

  /**
   * The row locked for the caller's transaction, read as last committed. SKIP LOCKED: when another
   * replica's worker holds it, this one moves on at once instead of queueing behind it (and then
   * processing it a second time).
   */
  async claim(eventId: string): Promise<StoredPagerdutyEvent | undefined> {
    const row = (await this.db.query<EventRow>('SELECT * FROM pagerduty_events WHERE event_id = $1 FOR UPDATE SKIP LOCKED', [eventId])).rows[0];
    return row ? toEvent(row) : undefined;
  }

  async unfinished(limit: number): Promise<UnfinishedPagerdutyEvent[]> {
    // Bodies stay in the database here: a backlog is scanned on every pass, a body is read only when its event is processed.
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS.filter((c) => c !== 'body').join(', ')}, '' AS body FROM pagerduty_events
       WHERE state IN ('pending', 'applied') ORDER BY received_seq LIMIT $1`,
      [limit],
    );
    return rows.map((r) => {
      const { body: _body, ...head } = toEvent(r);
      return head;
    });
  }

  async linkEarlier(pdIncidentId: string, incidentId: string): Promise<void> {
    await this.session
      .current()
      .query('UPDATE pagerduty_events SET incident_id = $2 WHERE pd_incident_id = $1 AND incident_id IS NULL', [pdIncidentId, incidentId]);
  }

  async setState(
    eventId: string,
    state: PagerdutyEventState,
    fields: { outcome?: string | null; incidentId?: string | null; processedAt?: number | null; nextAttemptAt?: number } = {},
  ): Promise<void> {
    const params: unknown[] = [eventId, state];
    const sets = ['state = $2'];
    const set = (column: string, value: unknown): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (fields.outcome !== undefined) set('outcome', fields.outcome);
    if (fields.incidentId !== undefined) set('incident_id', fields.incidentId);
    if (fields.processedAt !== undefined) set('processed_at', fields.processedAt);
    if (fields.nextAttemptAt !== undefined) set('next_attempt_at', fields.nextAttemptAt);
    await this.db.query(`UPDATE pagerduty_events SET ${sets.join(', ')} WHERE event_id = $1`, params);
  }

  async recordAttempt(eventId: string, nextAttemptAt: number, error: string): Promise<void> {
    await this.db.query('UPDATE pagerduty_events SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE event_id = $3', [
      nextAttemptAt,
      error,
      eventId,
    ]);
  }

  async triggerRun(eventId: string, triggerKey: string): Promise<TriggerRunRecord | undefined> {
    const row = (await this.db.query<TriggerRow>('SELECT * FROM pagerduty_trigger_runs WHERE event_id = $1 AND trigger_key = $2', [eventId, triggerKey]))
      .rows[0];
    return row ? toTrigger(row) : undefined;
  }

  async triggerRuns(eventId: string): Promise<TriggerRunRecord[]> {
    // Byte order, as SQLite sorts text, whatever the database's locale.
    return (
      await this.db.query<TriggerRow>('SELECT * FROM pagerduty_trigger_runs WHERE event_id = $1 ORDER BY trigger_key COLLATE "C"', [eventId])
    ).rows.map(toTrigger);
  }

  async insertTriggerRun(r: TriggerRunRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO pagerduty_trigger_runs (event_id, trigger_key, procedure, run_id, outcome, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [r.eventId, r.triggerKey, r.procedure, r.runId, r.outcome, r.detail, r.at],
    );
  }

  async countByState(): Promise<Record<PagerdutyEventState, number>> {
    const counts: Record<PagerdutyEventState, number> = { pending: 0, applied: 0, processed: 0, ignored: 0, failed: 0 };
    for (const r of (await this.db.query<{ state: PagerdutyEventState; n: number }>('SELECT state, COUNT(*) AS n FROM pagerduty_events GROUP BY state'))
      .rows) {
      counts[r.state] = r.n;
    }
    return counts;
  }
}
