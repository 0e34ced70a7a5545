// SQLite implementation of the portal's read model: filtered incident pages on an index, and timeline windows.
import type { IncidentFilter, IncidentScope, PortalReadModel, TimelineEvent } from '../core/portal/portal-read-model.js';
import type { Db } from './database.js';
import { toIncident, type IncidentRow } from './sqlite-incident-store.js';
import { statementCache } from './statements.js';

const MEMBER_INVITED = 'incident.member_invited';

/** A timeline row as read raw: seq, time, actor, source, kind, payload. */
export type TimelineRow = [number, number, string, string, string, string];
export const toTimelineEvent = (r: TimelineRow): TimelineEvent => ({
  seq: r[0],
  time: r[1],
  actor: r[2],
  source: r[3],
  kind: r[4],
  payload: JSON.parse(r[5]) as Record<string, unknown>,
});

export function sqlitePortalQueries(db: Db): PortalReadModel {
  const stmt = statementCache(db);
  const events = (sql: string, ...args: unknown[]): TimelineEvent[] =>
    (
      stmt(sql)
        .raw(true)
        .all(...args) as TimelineRow[]
    ).map(toTimelineEvent);

  return {
    async incidents(scope: IncidentScope, filter: IncidentFilter, page) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.status === 'open') where.push("status != 'resolved'");
      else if (filter.status !== undefined) {
        where.push('status = ?');
        args.push(filter.status);
      }
      if (filter.severity !== undefined) {
        where.push('severity = ?');
        args.push(filter.severity);
      }
      if (filter.service !== undefined) {
        where.push('service = ?');
        args.push(filter.service);
      }
      if (filter.from !== undefined) {
        where.push('declared_at >= ?');
        args.push(filter.from);
      }
      if (filter.to !== undefined) {
        where.push('declared_at < ?');
        args.push(filter.to);
      }
      if (filter.q) {
        where.push("title LIKE ? ESCAPE '\\'");
        args.push(`%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      }
      if (!scope.allPrivate) {
        // Private incidents only to their members: declarer, role holders, people invited.
        where.push(
          `(private = 0 OR declared_by = ? OR commander = ? OR comms = ? OR scribe = ?
            OR id IN (SELECT incident_id FROM audit_log WHERE kind = '${MEMBER_INVITED}' AND incident_id IS NOT NULL AND json_extract(payload, '$.user') = ?))`,
        );
        args.push(scope.userId, scope.userId, scope.userId, scope.userId, scope.userId);
      }
      if (page.before !== undefined) {
        where.push('number < ?');
        args.push(page.before);
      }
      const sql = `SELECT * FROM incidents ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY number DESC LIMIT ?`;
      const rows = stmt(sql).all(...args, page.limit + 1) as IncidentRow[];
      const more = rows.length > page.limit;
      const incidents = rows.slice(0, page.limit).map(toIncident);
      return { incidents, next: more ? incidents[incidents.length - 1]!.number : null };
    },

    async services() {
      return stmt('SELECT DISTINCT service FROM incidents WHERE service IS NOT NULL AND private = 0 ORDER BY service').pluck(true).all() as string[];
    },

    async timeline(incidentId, window) {
      const newest = window.order === 'newest';
      const cursor = window.cursor ?? (newest ? Number.MAX_SAFE_INTEGER : 0);
      const found = events(
        `SELECT seq, time, actor, source, kind, payload FROM audit_log WHERE incident_id = ? AND seq ${newest ? '<' : '>'} ? ORDER BY seq ${newest ? 'DESC' : 'ASC'} LIMIT ?`,
        incidentId,
        cursor,
        window.limit + 1,
      );
      const more = found.length > window.limit;
      const shown = found.slice(0, window.limit);
      return { events: shown, next: more ? shown[shown.length - 1]!.seq : null };
    },

    async eventsAfter(incidentId, seq, limit) {
      return events(
        'SELECT seq, time, actor, source, kind, payload FROM audit_log WHERE incident_id = ? AND seq > ? ORDER BY seq LIMIT ?',
        incidentId,
        seq,
        limit,
      );
    },
  };
}
