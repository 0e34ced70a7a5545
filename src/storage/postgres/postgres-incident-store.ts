// PostgreSQL implementation of the incident store, with the SQLite store's row mapping.
import type { Incident } from '../../core/incidents/incident.js';
import type { IncidentStore } from '../../core/incidents/incident-store.js';
import { INCIDENT_COLUMNS, toIncident, type IncidentRow } from '../sqlite-incident-store.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

const COLUMNS = INCIDENT_COLUMNS;
type Column = (typeof COLUMNS)[number];
/** Every column but the key and the number, which never change. */
const UPDATABLE = COLUMNS.filter((c) => c !== 'id' && c !== 'number');
const SELECT = `SELECT ${COLUMNS.join(', ')} FROM incidents`;

/** Held while a number is chosen and used: two replicas declaring at once must not pick the same one. */
const NUMBER_LOCK = 0x696e_6364; // "incd"

/** An incidents row as PostgreSQL returns it: `private` is a BOOLEAN there, an INTEGER on SQLite. */
export type PgIncidentRow = Omit<IncidentRow, 'private'> & { private: boolean };
type PgRow = PgIncidentRow;

/** Maps a PostgreSQL row with the SQLite store's mapping. */
export const toIncidentOfPg = (row: PgIncidentRow): Incident => toIncident({ ...row, private: row.private ? 1 : 0 });

const toPgRow = (i: Incident): PgRow => ({
  id: i.id,
  number: i.number,
  title: i.title,
  severity: i.severity,
  status: i.status,
  service: i.service,
  private: i.private,
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

export class PostgresIncidentStore implements IncidentStore {
  /** Each incident object as last read or written, so `save` writes only the columns that changed. */
  private readonly stored = new WeakMap<Incident, PgRow>();

  constructor(private readonly session: PostgresUnitOfWork) {}

  /**
   * Inside a transaction the number stays reserved until it commits (a transaction-scoped lock), so
   * the insert that follows cannot collide with another replica's.
   */
  async nextNumber(): Promise<number> {
    const db = this.session.current();
    if (this.session.inTransaction()) await db.query('SELECT pg_advisory_xact_lock($1)', [NUMBER_LOCK]);
    return (await db.query<{ n: number }>('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM incidents')).rows[0]!.n;
  }

  async insert(incident: Incident): Promise<void> {
    const row = toPgRow(incident);
    await this.session.current().query(
      `INSERT INTO incidents (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
      COLUMNS.map((c) => row[c]),
    );
    this.stored.set(incident, row);
  }

  async save(incident: Incident): Promise<void> {
    const row = toPgRow(incident);
    const before = this.stored.get(incident);
    const changed: Column[] = before ? UPDATABLE.filter((c) => row[c] !== before[c]) : UPDATABLE;
    if (changed.length > 0) {
      await this.session
        .current()
        .query(`UPDATE incidents SET ${changed.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1`, [row.id, ...changed.map((c) => row[c])]);
    }
    this.stored.set(incident, row);
  }

  async get(id: string): Promise<Incident | undefined> {
    return this.one(`${SELECT} WHERE id = $1`, id);
  }

  async byChannelId(channelId: string): Promise<Incident | undefined> {
    return this.one(`${SELECT} WHERE channel_id = $1`, channelId);
  }

  async byPagerdutyId(pagerdutyId: string): Promise<Incident | undefined> {
    return this.one(`${SELECT} WHERE pagerduty_id = $1`, pagerdutyId);
  }

  async listOpen(): Promise<Incident[]> {
    const { rows } = await this.session.current().query<PgRow>(`${SELECT} WHERE status != 'resolved' ORDER BY number`);
    return rows.map((r) => this.read(r));
  }

  private async one(sql: string, value: string): Promise<Incident | undefined> {
    const row = (await this.session.current().query<PgRow>(`${sql} LIMIT 1`, [value])).rows[0];
    return row ? this.read(row) : undefined;
  }

  private read(row: PgRow): Incident {
    const incident = toIncidentOfPg(row);
    this.stored.set(incident, row);
    return incident;
  }
}
