// SQLite implementation of the incident store; the row mapper lives here and nowhere else.
import type { Incident, IncidentStatus } from '../core/incidents/incident.js';
import type { IncidentStore } from '../core/incidents/incident-store.js';
import type { Db } from './database.js';

interface Row {
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

const toIncident = (r: Row): Incident => ({
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

const toRow = (i: Incident): Row => ({
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

const COLUMNS = [
  'id', 'number', 'title', 'severity', 'status', 'service', 'private', 'channel_name', 'channel_id',
  'commander', 'comms', 'scribe', 'declared_by', 'declared_at', 'acknowledged_at', 'resolved_at',
  'summary', 'pagerduty_id', 'pagerduty_url', 'last_update_at',
] as const;

export class SqliteIncidentStore implements IncidentStore {
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly getStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO incidents (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    this.updateStmt = db.prepare(
      `UPDATE incidents SET ${COLUMNS.filter((c) => c !== 'id' && c !== 'number')
        .map((c) => `${c} = @${c}`)
        .join(', ')} WHERE id = @id`,
    );
    this.getStmt = db.prepare('SELECT * FROM incidents WHERE id = ?');
  }

  nextNumber(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM incidents').get() as { n: number }).n;
  }

  insert(incident: Incident): void {
    this.insertStmt.run(toRow(incident));
  }

  save(incident: Incident): void {
    this.updateStmt.run(toRow(incident));
  }

  get(id: string): Incident | undefined {
    const row = this.getStmt.get(id) as Row | undefined;
    return row ? toIncident(row) : undefined;
  }

  byChannelId(channelId: string): Incident | undefined {
    const row = this.db.prepare('SELECT * FROM incidents WHERE channel_id = ?').get(channelId) as Row | undefined;
    return row ? toIncident(row) : undefined;
  }

  byPagerdutyId(pagerdutyId: string): Incident | undefined {
    const row = this.db.prepare('SELECT * FROM incidents WHERE pagerduty_id = ?').get(pagerdutyId) as Row | undefined;
    return row ? toIncident(row) : undefined;
  }

  listOpen(): Incident[] {
    const rows = this.db.prepare("SELECT * FROM incidents WHERE status != 'resolved' ORDER BY number").all() as Row[];
    return rows.map(toIncident);
  }
}
