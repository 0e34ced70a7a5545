// SQLite implementation of the incident store; the row mapper lives here and nowhere else.
import type { Incident, IncidentStatus } from '../core/incidents/incident.js';
import type { IncidentStore } from '../core/incidents/incident-store.js';
import type { Db } from './database.js';
import { statementCache } from './statements.js';

export interface IncidentRow {
  id: string;
  number: number;
  title: string;
  severity: number;
  status: string;
  service: string | null;
  private: number;
  channel_name: string;
  channel_id: string | null;
  commander: string | null;
  comms: string | null;
  scribe: string | null;
  declared_by: string;
  declared_at: number;
  acknowledged_at: number | null;
  resolved_at: number | null;
  summary: string | null;
  pagerduty_id: string | null;
  pagerduty_url: string | null;
  last_update_at: number;
}

export const toIncident = (r: IncidentRow): Incident => ({
  id: r.id,
  number: r.number,
  title: r.title,
  severity: r.severity,
  status: r.status as IncidentStatus,
  service: r.service,
  private: r.private === 1,
  channelName: r.channel_name,
  channelId: r.channel_id,
  roles: { commander: r.commander, comms: r.comms, scribe: r.scribe },
  declaredBy: r.declared_by,
  declaredAt: r.declared_at,
  acknowledgedAt: r.acknowledged_at,
  resolvedAt: r.resolved_at,
  summary: r.summary,
  pagerdutyId: r.pagerduty_id,
  pagerdutyUrl: r.pagerduty_url,
  lastUpdateAt: r.last_update_at,
});

const toRow = (i: Incident): IncidentRow => ({
  id: i.id,
  number: i.number,
  title: i.title,
  severity: i.severity,
  status: i.status,
  service: i.service,
  private: i.private ? 1 : 0,
  channel_name: i.channelName,
  channel_id: i.channelId,
  commander: i.roles.commander,
  comms: i.roles.comms,
  scribe: i.roles.scribe,
  declared_by: i.declaredBy,
  declared_at: i.declaredAt,
  acknowledged_at: i.acknowledgedAt,
  resolved_at: i.resolvedAt,
  summary: i.summary,
  pagerduty_id: i.pagerdutyId,
  pagerduty_url: i.pagerdutyUrl,
  last_update_at: i.lastUpdateAt,
});

/** The incidents table's columns, in the order both backends write them. */
export const INCIDENT_COLUMNS = [
  'id',
  'number',
  'title',
  'severity',
  'status',
  'service',
  'private',
  'channel_name',
  'channel_id',
  'commander',
  'comms',
  'scribe',
  'declared_by',
  'declared_at',
  'acknowledged_at',
  'resolved_at',
  'summary',
  'pagerduty_id',
  'pagerduty_url',
  'last_update_at',
] as const;
const COLUMNS = INCIDENT_COLUMNS;
/** Every column but the key and the number, which never change. */
const UPDATABLE = COLUMNS.filter((c) => c !== 'id' && c !== 'number');
/** Rows are read as plain value arrays in COLUMNS order: a keyed row object costs more than the lookup. */
const SELECT = `SELECT ${COLUMNS.join(', ')} FROM incidents`;

const rowOf = (values: unknown[]): IncidentRow => {
  const row: Record<string, unknown> = {};
  COLUMNS.forEach((column, i) => (row[column] = values[i]));
  return row as unknown as IncidentRow;
};

export class SqliteIncidentStore implements IncidentStore {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly stmt;
  /**
   * Each incident object as last read or written, so `save` writes only the columns that changed: a
   * note changes one column, and rewriting the others also rewrites their index entries, a third
   * more pages in the commit.
   */
  private readonly stored = new WeakMap<Incident, IncidentRow>();

  constructor(db: Db) {
    this.stmt = statementCache(db);
    this.insertStmt = db.prepare(`INSERT INTO incidents (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`);
    this.getStmt = db.prepare(`${SELECT} WHERE id = ?`).raw(true);
  }

  async nextNumber(): Promise<number> {
    return (this.stmt('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM incidents').get() as { n: number }).n;
  }

  async insert(incident: Incident): Promise<void> {
    const row = toRow(incident);
    this.insertStmt.run(row);
    this.stored.set(incident, row);
  }

  async save(incident: Incident): Promise<void> {
    const row = toRow(incident);
    const before = this.stored.get(incident);
    const changed = before ? UPDATABLE.filter((c) => row[c] !== before[c]) : UPDATABLE;
    if (changed.length > 0) this.stmt(`UPDATE incidents SET ${changed.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`).run(row);
    this.stored.set(incident, row);
  }

  async get(id: string): Promise<Incident | undefined> {
    return this.read(this.getStmt.get(id) as unknown[] | undefined);
  }

  async byChannelId(channelId: string): Promise<Incident | undefined> {
    return this.read(this.stmt(`${SELECT} WHERE channel_id = ?`).raw(true).get(channelId) as unknown[] | undefined);
  }

  async byPagerdutyId(pagerdutyId: string): Promise<Incident | undefined> {
    return this.read(this.stmt(`${SELECT} WHERE pagerduty_id = ?`).raw(true).get(pagerdutyId) as unknown[] | undefined);
  }

  async listOpen(): Promise<Incident[]> {
    const rows = this.stmt(`${SELECT} WHERE status != 'resolved' ORDER BY number`).raw(true).all() as unknown[][];
    return rows.map((values) => this.read(values)!);
  }

  private read(values: unknown[] | undefined): Incident | undefined {
    if (!values) return undefined;
    const row = rowOf(values);
    const incident = toIncident(row);
    this.stored.set(incident, row);
    return incident;
  }
}
