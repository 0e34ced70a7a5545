// In-memory stand-ins for the run service's store, audit log and outbox, so properties can drive it thousands of times without I/O.
import type { AuditLog } from '../../../src/core/audit/audit-log.js';
import type { AuditEvent, AuditEventInput } from '../../../src/core/audit/audit-chain.js';
import type { Outbox } from '../../../src/core/outbox/outbox.js';
import type { UnitOfWork } from '../../../src/core/ports.js';
import type { ApprovalRecord, Run, RunStepRecord } from '../../../src/core/runs/run.js';
import type { RunStore } from '../../../src/core/runs/run-store.js';

interface State {
  runs: Map<string, Run>;
  steps: RunStepRecord[];
  approvals: ApprovalRecord[];
  leases: Map<string, string>;
  audit: AuditEvent[];
  outbox: number;
}

const unsupported = (what: string) => (): never => {
  throw new Error(`${what} is not part of the in-memory ports`);
};

export interface MemoryRunPorts {
  uow: UnitOfWork;
  runs: RunStore;
  audit: AuditLog;
  outbox: Outbox;
  /** Every audit row so far. */
  rows(): readonly AuditEvent[];
}

export function memoryRunPorts(): MemoryRunPorts {
  let state: State = { runs: new Map(), steps: [], approvals: [], leases: new Map(), audit: [], outbox: 0 };
  let depth = 0;
  const copy = (s: State): State => structuredClone(s);

  const uow: UnitOfWork = {
    // Like SQLite: what a throwing transaction wrote is rolled back.
    transaction<T>(fn: () => T): T {
      const before = depth === 0 ? copy(state) : undefined;
      depth += 1;
      try {
        return fn();
      } catch (err) {
        if (before) state = before;
        throw err;
      } finally {
        depth -= 1;
      }
    },
  };

  const runs: RunStore = {
    nextNumber: () => state.runs.size + 1,
    insert: (run) => void state.runs.set(run.id, structuredClone(run)),
    save: (run) => void state.runs.set(run.id, structuredClone(run)),
    get: (id) => {
      const run = state.runs.get(id);
      return run && structuredClone(run);
    },
    active: () => [...state.runs.values()].filter((r) => r.state === 'running' || r.state === 'queued').map((r) => structuredClone(r)),
    pendingApproval: () => [...state.runs.values()].filter((r) => r.state === 'pending_approval').map((r) => structuredClone(r)),
    forIncident: (incidentId) => [...state.runs.values()].filter((r) => r.incidentId === incidentId).map((r) => structuredClone(r)),
    saveStep: (step) => void state.steps.push(structuredClone(step)),
    steps: (runId) => state.steps.filter((s) => s.runId === runId).map((s) => structuredClone(s)),
    addApproval: (record) => void state.approvals.push(structuredClone(record)),
    approvals: (runId) => state.approvals.filter((a) => a.runId === runId).map((a) => structuredClone(a)),
    leaseHolder: (key) => state.leases.get(key),
    acquireLease: (key, runId) => void state.leases.set(key, runId),
    releaseLease: (key, runId) => {
      if (state.leases.get(key) === runId) state.leases.delete(key);
    },
  };

  const audit: AuditLog = {
    append(input: AuditEventInput): AuditEvent {
      const seq = state.audit.length + 1;
      const event: AuditEvent = { seq, time: 0, ...input, incidentId: input.incidentId ?? null, prevHash: '', hash: '' };
      state.audit.push(event);
      return event;
    },
    head: () => ({ seq: state.audit.length, hash: '' }),
    transcriptRows: unsupported('transcriptRows'),
    recentForIncident: unsupported('recentForIncident'),
    bySeq: (seq) => state.audit[seq - 1],
    lastTime: unsupported('lastTime'),
    countSince: unsupported('countSince'),
    lastWithoutIncident: unsupported('lastWithoutIncident'),
    verify: unsupported('verify'),
  };

  const outbox: Outbox = {
    enqueue: () => (state.outbox += 1),
    due: () => [],
    nextAttemptAfter: () => null,
    markSent: unsupported('markSent'),
    markRetry: unsupported('markRetry'),
    markFailed: unsupported('markFailed'),
    receipt: () => undefined,
    depth: () => state.outbox,
  };

  return { uow, runs, audit, outbox, rows: () => state.audit };
}
