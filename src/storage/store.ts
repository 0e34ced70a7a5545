// The SQLite store: one database, one unit of work, and the repositories the services use.
import type { AuditLog } from '../core/audit/audit-log.js';
import type { IncidentStore } from '../core/incidents/incident-store.js';
import type { Outbox } from '../core/outbox/outbox.js';
import type { PagerdutyEventStore } from '../core/pagerduty/pagerduty-event-store.js';
import type { Clock, UnitOfWork } from '../core/ports.js';
import { openDatabase, type Db, type OpenOptions } from './database.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';
import { SqliteIncidentStore } from './sqlite-incident-store.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { SqlitePagerdutyEvents } from './sqlite-pagerduty-events.js';

export class Store implements UnitOfWork {
  readonly audit: AuditLog;
  readonly incidents: IncidentStore;
  readonly outbox: Outbox;
  readonly pagerdutyEvents: PagerdutyEventStore;

  private constructor(
    readonly db: Db,
    auditKey: string,
    clock: Clock,
  ) {
    this.audit = new SqliteAuditLog(db, auditKey, clock);
    this.incidents = new SqliteIncidentStore(db);
    this.outbox = new SqliteOutbox(db, () => clock.now());
    this.pagerdutyEvents = new SqlitePagerdutyEvents(db);
  }

  /** Opens (and migrates) the database file. */
  static create(options: { file: string; auditKey: string; clock: Clock } & OpenOptions): Store {
    return new Store(openDatabase(options.file, options), options.auditKey, options.clock);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** True when a write can be committed (used by /healthz). */
  writable(): boolean {
    try {
      this.db.prepare('BEGIN IMMEDIATE').run();
      this.db.prepare('ROLLBACK').run();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
