// The storage backend the composition root builds on: SQLite (`Store`) or PostgreSQL (`PostgresStore`).
import type { AuditLog } from '../core/audit/audit-log.js';
import type { IncidentStore } from '../core/incidents/incident-store.js';
import type { Outbox } from '../core/outbox/outbox.js';
import type { PagerdutyEventStore } from '../core/pagerduty/pagerduty-event-store.js';
import type { RunStore } from '../core/runs/run-store.js';
import type { UnitOfWork } from '../core/ports.js';

/**
 * What `createApp` uses of a database: the repositories, the unit of work, the deferred-sync ack
 * path of slash commands (docs/architecture.md), the /healthz check and closing. Parts only one
 * backend has (SQLite's write-ahead-log checkpointer and connection) stay on that backend's class.
 */
export interface StorageBackend extends UnitOfWork {
  readonly kind: 'sqlite' | 'postgres';
  readonly audit: AuditLog;
  readonly incidents: IncidentStore;
  readonly outbox: Outbox;
  readonly pagerdutyEvents: PagerdutyEventStore;
  readonly runs: RunStore;
  /** Runs `work`; commits it makes may share one disk sync, made by `durable()` (a no-op where commits are durable already). */
  deferSync<T>(work: () => Promise<T>): Promise<T>;
  /** Resolves once every commit made so far is on stable storage. */
  durable(): Promise<void>;
  /** True when a write can be committed now (used by /healthz). */
  writable(): Promise<boolean>;
  close(): void | Promise<void>;
}
