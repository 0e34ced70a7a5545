// The run service's ports in memory (store, audit log, outbox), so properties can drive it thousands of times without I/O.
import type { AuditEvent } from '../../../src/core/audit/audit-chain.js';
import type { AuditLog } from '../../../src/core/audit/audit-log.js';
import type { Outbox } from '../../../src/core/outbox/outbox.js';
import type { UnitOfWork } from '../../../src/core/ports.js';
import type { RunStore } from '../../../src/core/runs/run-store.js';
import { memoryStore } from '../../support/in-memory/memory-store.js';

export interface MemoryRunPorts {
  uow: UnitOfWork;
  runs: RunStore;
  audit: AuditLog;
  outbox: Outbox;
  /** Every audit row so far. */
  rows(): readonly AuditEvent[];
}

export function memoryRunPorts(): MemoryRunPorts {
  const store = memoryStore({ auditKey: 'k'.repeat(64), clock: { now: () => 0 } });
  return { uow: store.uow, runs: store.runs, audit: store.audit, outbox: store.outbox, rows: () => store.auditRows() };
}
