// In-memory implementations of every storage port (unit of work, audit log with its real hash chain, incidents, runs, outbox, PagerDuty events), for unit tests of the core services without SQLite.
import {
  GENESIS_HASH,
  canonicalJson,
  canonicalRowOfText,
  chainHashOfText,
  headMac,
  verifyChain,
  type AuditEvent,
  type AuditEventInput,
  type StoredAuditRow,
} from '../../../src/core/audit/audit-chain.js';
import type { AuditLog } from '../../../src/core/audit/audit-log.js';
import type { TranscriptEvent } from '../../../src/core/export/transcript.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import type { IncidentStore } from '../../../src/core/incidents/incident-store.js';
import { messageKeyOf, priorityOf } from '../../../src/core/outbox/delivery-order.js';
import type { Outbox, OutboxItem, OutboxTarget } from '../../../src/core/outbox/outbox.js';
import type {
  PagerdutyEventState,
  PagerdutyEventStore,
  StoredPagerdutyEvent,
  TriggerRunRecord,
} from '../../../src/core/pagerduty/pagerduty-event-store.js';
import type { Clock, UnitOfWork } from '../../../src/core/ports.js';
import type { ApprovalRecord, Run, RunStepRecord } from '../../../src/core/runs/run.js';
import type { RunStore } from '../../../src/core/runs/run-store.js';
import { AsyncLocalStorage } from 'node:async_hooks';

/** A port as written here: each method returns its value at once; `asyncPort` hands it out as the Promise-returning port. */
type Sync<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Awaited<R> : T[K] };

/** The port over `impl`: every method resolves (or rejects) with what `impl` returns (or throws). */
function asyncPort<T extends object>(impl: Sync<T>): T {
  const port: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(impl)) {
    port[name] = typeof value === 'function' ? async (...args: unknown[]) => (value as (...a: unknown[]) => unknown)(...args) : value;
  }
  return port as T;
}

interface StoredOutboxItem extends OutboxItem {
  state: 'pending' | 'sent' | 'failed';
  priority: number;
  messageKey: string | null;
  receipt: string | null;
  sentAt: number | null;
  lastError: string | null;
}

/** Everything the ports hold; a transaction keeps a copy to put back if it throws. */
interface State {
  audit: StoredAuditRow[];
  head: { seq: number; hash: string; mac: string } | undefined;
  incidents: Map<string, Incident>;
  runs: Map<string, Run>;
  steps: RunStepRecord[];
  approvals: ApprovalRecord[];
  leases: Map<string, string>;
  outbox: StoredOutboxItem[];
  pdEvents: Map<string, StoredPagerdutyEvent>;
  triggerRuns: TriggerRunRecord[];
}

const empty = (): State => ({
  audit: [],
  head: undefined,
  incidents: new Map(),
  runs: new Map(),
  steps: [],
  approvals: [],
  leases: new Map(),
  outbox: [],
  pdEvents: new Map(),
  triggerRuns: [],
});

/** Copies in and out, as a database does: a caller changing what it got back changes nothing stored. */
const copy = <T>(value: T): T => structuredClone(value);

const toEvent = (r: StoredAuditRow): AuditEvent => {
  const { payloadText, ...rest } = r;
  return { ...rest, payload: JSON.parse(payloadText) as Record<string, unknown> };
};

export interface MemoryStore {
  uow: UnitOfWork;
  audit: AuditLog;
  incidents: IncidentStore;
  runs: RunStore;
  outbox: Outbox;
  pagerdutyEvents: PagerdutyEventStore;
  /** Every audit row so far, parsed. */
  auditRows(): AuditEvent[];
  /** Every outbox item so far, whatever its state. */
  outboxItems(): OutboxItem[];
  /** Changes a stored audit row behind the log's back (to show that verify notices). */
  tamper(seq: number, change: (row: StoredAuditRow) => void): void;
}

export function memoryStore(options: { auditKey: string; clock: Clock }): MemoryStore {
  const { auditKey: key, clock } = options;
  let state = empty();

  // Like SQLite: what a throwing transaction wrote is taken back; a nested one is a savepoint of its own.
  // Transactions run one at a time, though they await inside: the next one starts when the last has settled.
  const inside = new AsyncLocalStorage<true>();
  let tail: Promise<unknown> = Promise.resolve();
  const attempt = async <T>(fn: () => Promise<T>): Promise<T> => {
    // Audit rows are never changed once appended: cutting the log back to its length restores it.
    const rows = state.audit;
    const length = rows.length;
    const before = copy({ ...state, audit: [] });
    try {
      return await fn();
    } catch (err) {
      state = { ...before, audit: rows.slice(0, length) };
      throw err;
    }
  };
  const uow: UnitOfWork = {
    transaction<T>(fn: () => Promise<T>): Promise<T> {
      if (inside.getStore()) return attempt(fn);
      const run = tail.then(() => inside.run(true, () => attempt(fn)));
      tail = run.catch(() => undefined);
      return run;
    },
  };

  const audit = asyncPort<AuditLog>({
    append(input: AuditEventInput): AuditEvent {
      const last = state.audit.at(-1);
      const prevHash = last?.hash ?? GENESIS_HASH;
      const payloadText = canonicalJson(input.payload);
      const fields = {
        seq: (last?.seq ?? 0) + 1,
        // Time never runs backwards along the chain, whatever the clock does.
        time: Math.max(Math.trunc(clock.now()), last?.time ?? 0),
        actor: input.actor,
        source: input.source,
        kind: input.kind,
        incidentId: input.incidentId ?? null,
      };
      const hash = chainHashOfText(key, prevHash, canonicalRowOfText(fields, payloadText));
      const row: StoredAuditRow = { ...fields, payloadText, prevHash, hash };
      state.audit.push(row);
      state.head = { seq: row.seq, hash, mac: headMac(key, row.seq, hash) };
      return toEvent(row);
    },
    async *transcriptRows(incidentId, options = {}): AsyncGenerator<TranscriptEvent> {
      for (const r of state.audit) {
        if (r.incidentId !== incidentId) continue;
        if (options.kinds && !options.kinds.includes(r.kind)) continue;
        const { seq, time, actor, source, kind, hash } = r;
        yield { seq, time, actor, source, kind, hash, payload: JSON.parse(r.payloadText) as Record<string, unknown> };
      }
    },
    recentForIncident: (incidentId, limit) =>
      state.audit
        .filter((r) => r.incidentId === incidentId)
        .slice(-limit)
        .map(toEvent),
    bySeq: (seq) => {
      const row = state.audit.find((r) => r.seq === seq);
      return row && toEvent(row);
    },
    lastTime: (incidentId, kinds) => state.audit.filter((r) => r.incidentId === incidentId && kinds.includes(r.kind)).at(-1)?.time,
    countSince: (incidentId, kind, since, reason) =>
      state.audit.filter((r) => r.incidentId === incidentId && r.kind === kind && r.time >= since && toEvent(r).payload.reason === reason).length,
    lastWithoutIncident: (kind) => {
      const row = state.audit.filter((r) => r.incidentId === null && r.kind === kind).at(-1);
      return row && toEvent(row);
    },
    head: () => (state.head ? { seq: state.head.seq, hash: state.head.hash } : { seq: 0, hash: GENESIS_HASH }),
    verify: (visit) => verifyChain(key, state.audit, state.head, visit),
  });

  const incidents = asyncPort<IncidentStore>({
    nextNumber: () => Math.max(0, ...[...state.incidents.values()].map((i) => i.number)) + 1,
    insert: (incident) => {
      if (state.incidents.has(incident.id)) throw new Error(`${incident.id} already exists`);
      state.incidents.set(incident.id, copy(incident));
    },
    save: (incident) => void state.incidents.set(incident.id, copy(incident)),
    get: (id) => copy(state.incidents.get(id)),
    byChannelId: (channelId) => copy([...state.incidents.values()].find((i) => i.channelId === channelId)),
    byPagerdutyId: (pagerdutyId) => copy([...state.incidents.values()].find((i) => i.pagerdutyId === pagerdutyId)),
    listOpen: () => copy([...state.incidents.values()].filter((i) => i.status !== 'resolved').sort((a, b) => a.number - b.number)),
  });

  const byNumber = (a: Run, b: Run): number => a.number - b.number;
  const runs = asyncPort<RunStore>({
    nextNumber: () => Math.max(0, ...[...state.runs.values()].map((r) => r.number)) + 1,
    insert: (run) => {
      if (state.runs.has(run.id)) throw new Error(`${run.id} already exists`);
      state.runs.set(run.id, copy(run));
    },
    save: (run) => void state.runs.set(run.id, copy(run)),
    get: (id) => copy(state.runs.get(id)),
    active: () => copy([...state.runs.values()].filter((r) => r.state === 'running' || r.state === 'queued').sort(byNumber)),
    pendingApproval: () => copy([...state.runs.values()].filter((r) => r.state === 'pending_approval').sort(byNumber)),
    forIncident: (incidentId) => copy([...state.runs.values()].filter((r) => r.incidentId === incidentId).sort(byNumber)),
    saveStep: (step) => {
      // INSERT OR REPLACE by (run, index).
      state.steps = state.steps.filter((s) => !(s.runId === step.runId && s.index === step.index));
      state.steps.push(copy(step));
    },
    steps: (runId) => copy(state.steps.filter((s) => s.runId === runId).sort((a, b) => a.index - b.index)),
    addApproval: (record) => void state.approvals.push(copy(record)),
    approvals: (runId) => copy(state.approvals.filter((a) => a.runId === runId).sort((a, b) => a.at - b.at || a.approver.localeCompare(b.approver))),
    leaseHolder: (key) => state.leases.get(key),
    acquireLease: (key, runId) => {
      // The primary key on the lease's key: a second holder is refused, as SQLite refuses it.
      if (state.leases.has(key)) throw new Error(`lease ${key} is already held`);
      state.leases.set(key, runId);
    },
    releaseLease: (key, runId) => {
      if (state.leases.get(key) === runId) state.leases.delete(key);
    },
  });

  /** Each channel's next pending item: its most urgent class first, then queue order. */
  const heads = (target: OutboxTarget): StoredOutboxItem[] => {
    const byChannel = new Map<string, StoredOutboxItem>();
    for (const item of state.outbox) {
      if (item.state !== 'pending' || item.target !== target) continue;
      const head = byChannel.get(item.channel);
      if (!head || item.priority < head.priority || (item.priority === head.priority && item.id < head.id)) byChannel.set(item.channel, item);
    }
    return [...byChannel.values()].sort((a, b) => a.id - b.id);
  };
  const item = (id: number): StoredOutboxItem => {
    const found = state.outbox.find((o) => o.id === id);
    if (!found) throw new Error(`no outbox item ${id}`);
    return found;
  };
  const outbox = asyncPort<Outbox>({
    enqueue: ({ causeSeq, target, channel, body }) => {
      const now = clock.now();
      const id = (state.outbox.at(-1)?.id ?? 0) + 1;
      state.outbox.push({
        id,
        causeSeq,
        target,
        channel,
        body: copy(body),
        attempts: 0,
        nextAttemptAt: now,
        createdAt: now,
        priority: priorityOf(target, body),
        messageKey: messageKeyOf(target, body),
        state: 'pending',
        receipt: null,
        sentAt: null,
        lastError: null,
      });
      return id;
    },
    due: (target, now, limit) =>
      copy(
        heads(target)
          .filter((h) => h.nextAttemptAt <= now)
          .slice(0, limit),
      ).map(({ id, causeSeq, target: t, channel, body, attempts, nextAttemptAt, createdAt, priority }) => ({
        id,
        causeSeq,
        target: t,
        channel,
        body,
        attempts,
        nextAttemptAt,
        createdAt,
        priority,
      })),
    nextAttemptAfter: (target, now) => {
      const later = heads(target)
        .filter((h) => h.nextAttemptAt > now)
        .map((h) => h.nextAttemptAt);
      return later.length > 0 ? Math.min(...later) : null;
    },
    markSent: (id, now, receipt) =>
      void Object.assign(item(id), { state: 'sent', sentAt: now, receipt: receipt ?? null, attempts: item(id).attempts + 1 }),
    receipt: (target, key) => {
      const sent = state.outbox.filter((o) => o.target === target && o.messageKey === key && o.state === 'sent' && o.receipt !== null).at(-1);
      return sent ? { receipt: sent.receipt!, sentAt: sent.sentAt! } : undefined;
    },
    markRetry: (id, nextAttemptAt, error) => void Object.assign(item(id), { nextAttemptAt, lastError: error, attempts: item(id).attempts + 1 }),
    markFailed: (id, error) => void Object.assign(item(id), { state: 'failed', lastError: error, attempts: item(id).attempts + 1 }),
    depth: (target) => state.outbox.filter((o) => o.state === 'pending' && (target === undefined || o.target === target)).length,
  });

  const pdEvent = (eventId: string): StoredPagerdutyEvent => {
    const found = state.pdEvents.get(eventId);
    if (!found) throw new Error(`no PagerDuty event ${eventId}`);
    return found;
  };
  const pagerdutyEvents = asyncPort<PagerdutyEventStore>({
    findDuplicate: (eventId, webhookId) => {
      const found = [...state.pdEvents.values()].find((e) => e.eventId === eventId || (webhookId !== null && e.webhookId === webhookId));
      return found && { eventId: found.eventId, receivedSeq: found.receivedSeq };
    },
    insert: (event) => {
      if (state.pdEvents.has(event.eventId)) throw new Error(`event ${event.eventId} is already stored`);
      state.pdEvents.set(event.eventId, {
        ...copy(event),
        incidentId: event.incidentId ?? null,
        attempts: 0,
        nextAttemptAt: 0,
        lastError: null,
        processedAt: null,
      });
    },
    get: (eventId) => copy(state.pdEvents.get(eventId)),
    claim: (eventId) => copy(state.pdEvents.get(eventId)),
    unfinished: (limit) =>
      [...state.pdEvents.values()]
        .filter((e) => e.state === 'pending' || e.state === 'applied')
        .sort((a, b) => a.receivedSeq - b.receivedSeq)
        .slice(0, limit)
        .map((e) => {
          const { body: _body, ...rest } = copy(e);
          return rest;
        }),
    linkEarlier: (pdIncidentId, incidentId) => {
      for (const event of state.pdEvents.values()) if (event.pdIncidentId === pdIncidentId && event.incidentId === null) event.incidentId = incidentId;
    },
    setState: (eventId, next, fields = {}) => {
      const event = pdEvent(eventId);
      event.state = next;
      if (fields.outcome !== undefined) event.outcome = fields.outcome;
      if (fields.incidentId !== undefined) event.incidentId = fields.incidentId;
      if (fields.processedAt !== undefined) event.processedAt = fields.processedAt;
      if (fields.nextAttemptAt !== undefined) event.nextAttemptAt = fields.nextAttemptAt;
    },
    recordAttempt: (eventId, nextAttemptAt, error) => {
      const event = pdEvent(eventId);
      event.attempts += 1;
      event.nextAttemptAt = nextAttemptAt;
      event.lastError = error;
    },
    triggerRun: (eventId, triggerKey) => copy(state.triggerRuns.find((t) => t.eventId === eventId && t.triggerKey === triggerKey)),
    triggerRuns: (eventId) => copy(state.triggerRuns.filter((t) => t.eventId === eventId).sort((a, b) => a.triggerKey.localeCompare(b.triggerKey))),
    insertTriggerRun: (record) => {
      if (state.triggerRuns.some((t) => t.eventId === record.eventId && t.triggerKey === record.triggerKey)) {
        throw new Error(`event ${record.eventId} already has a record for ${record.triggerKey}`);
      }
      state.triggerRuns.push(copy(record));
    },
    countByState: () => {
      const counts: Record<PagerdutyEventState, number> = { pending: 0, applied: 0, processed: 0, ignored: 0, failed: 0 };
      for (const e of state.pdEvents.values()) counts[e.state] += 1;
      return counts;
    },
  });

  return {
    uow,
    audit,
    incidents,
    runs,
    outbox,
    pagerdutyEvents,
    auditRows: () => state.audit.map(toEvent),
    outboxItems: () => copy(state.outbox),
    tamper: (seq, change) => change(state.audit.find((r) => r.seq === seq)!),
  };
}
