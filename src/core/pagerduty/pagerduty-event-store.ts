// The PagerDuty event-store port: received events, their processing state, and the triggers each started.

export type PagerdutyEventState = 'pending' | 'applied' | 'processed' | 'ignored' | 'failed';

export interface NewPagerdutyEvent {
  /** The seq of the audit row recording the receipt (written in the same transaction). */
  receivedSeq: number;
  eventId: string;
  webhookId: string | null;
  eventType: string;
  pdIncidentId: string | null;
  serviceId: string | null;
  serviceName: string | null;
  agent: string | null;
  occurredAt: string | null;
  /** The raw body, exactly as signed. */
  body: string;
  receivedAt: number;
  state: PagerdutyEventState;
  outcome: string | null;
  /** The edgeops incident the event concerns, when already known on receipt; processing links the others. */
  incidentId?: string | null;
}

export interface StoredPagerdutyEvent extends NewPagerdutyEvent {
  incidentId: string | null;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  processedAt: number | null;
}

/** An unfinished event as a pass sees it: everything but the body, read only when the event's turn comes. */
export type UnfinishedPagerdutyEvent = Omit<StoredPagerdutyEvent, 'body'>;

export type TriggerOutcome = 'started' | 'refused' | 'failed';

export interface TriggerRunRecord {
  eventId: string;
  triggerKey: string;
  procedure: string;
  runId: string | null;
  outcome: TriggerOutcome;
  detail: string | null;
  at: number;
}

export interface PagerdutyEventStore {
  /** The stored event with this event id, or delivered under this webhook id, if any. */
  findDuplicate(eventId: string, webhookId: string | null): Promise<{ eventId: string; receivedSeq: number } | undefined>;
  insert(event: NewPagerdutyEvent): Promise<void>;
  get(eventId: string): Promise<StoredPagerdutyEvent | undefined>;
  /**
   * The event as it stands now, held by the caller's transaction until it ends, so that no other
   * worker (another replica's) processes it at the same time; undefined when another worker holds it
   * now (it is on it) or there is no such event. Call it inside a transaction.
   */
  claim(eventId: string): Promise<StoredPagerdutyEvent | undefined>;
  /** Pending and applied events, oldest received first, without their bodies. */
  unfinished(limit: number): Promise<UnfinishedPagerdutyEvent[]>;
  /**
   * Moves an event on; `fields` set what the step found out. `nextAttemptAt`: no worker picks the
   * event up again before then (the worker that applied it is starting its triggers).
   */
  setState(
    eventId: string,
    state: PagerdutyEventState,
    fields?: { outcome?: string | null; incidentId?: string | null; processedAt?: number | null; nextAttemptAt?: number },
  ): Promise<void>;
  /**
   * Links to `incidentId` the stored events of PagerDuty incident `pdIncidentId` that name no
   * incident yet: those received before its edgeops incident was opened (ignored then).
   */
  linkEarlier(pdIncidentId: string, incidentId: string): Promise<void>;
  /** Records a failed processing attempt and when to try again. */
  recordAttempt(eventId: string, nextAttemptAt: number, error: string): Promise<void>;
  triggerRun(eventId: string, triggerKey: string): Promise<TriggerRunRecord | undefined>;
  triggerRuns(eventId: string): Promise<TriggerRunRecord[]>;
  /** Throws if the event already has a record for this trigger (the primary key keeps it at one). */
  insertTriggerRun(record: TriggerRunRecord): Promise<void>;
  countByState(): Promise<Record<PagerdutyEventState, number>>;
}
