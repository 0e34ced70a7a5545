// PostgreSQL implementation of the portal's read model: the SQLite module's filters, keyset pages and timeline windows.
import { MEMBER_INVITED } from '../../core/incidents/incident-service.js';
import type { IncidentFilter, IncidentScope, PortalReadModel, TimelineEvent } from '../../core/portal/portal-read-model.js';
import { toTimelineEvent } from '../sqlite-portal-queries.js';
import { toIncidentOfPg, type PgIncidentRow } from './postgres-incident-store.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

/**
 * Private incidents only to their members: declarer, role holders, people invited. `user` is the
 * placeholder of the user's id. The invitation lookup is the expression of the partial index
 * audit_log_member_invites (migrations/postgres/0003), written the same way so that it is used.
 */
export const membersOnly = (user: string): string =>
  `(NOT private OR declared_by = ${user} OR commander = ${user} OR comms = ${user} OR scribe = ${user}
    OR id IN (SELECT incident_id FROM audit_log WHERE kind = '${MEMBER_INVITED}' AND incident_id IS NOT NULL AND (payload::jsonb ->> 'user') = ${user}))`;

interface EventObjectRow {
  seq: number;
  time: number;
  actor: string;
  source: string;
  kind: string;
  payload: string;
}
const toEvent = (r: EventObjectRow): TimelineEvent => toTimelineEvent([r.seq, r.time, r.actor, r.source, r.kind, r.payload]);

export function postgresPortalQueries(session: PostgresUnitOfWork): PortalReadModel {
  const events = async (sql: string, args: unknown[]): Promise<TimelineEvent[]> =>
    (await session.current().query<EventObjectRow>(sql, args)).rows.map(toEvent);

  return {
    async incidents(scope: IncidentScope, filter: IncidentFilter, page) {
      const where: string[] = [];
      const args: unknown[] = [];
      const arg = (value: unknown): string => `$${args.push(value)}`;
      if (filter.status === 'open') where.push("status != 'resolved'");
      else if (filter.status !== undefined) where.push(`status = ${arg(filter.status)}`);
      if (filter.severity !== undefined) where.push(`severity = ${arg(filter.severity)}`);
      if (filter.service !== undefined) where.push(`service = ${arg(filter.service)}`);
      if (filter.from !== undefined) where.push(`declared_at >= ${arg(filter.from)}`);
      if (filter.to !== undefined) where.push(`declared_at < ${arg(filter.to)}`);
      if (filter.q) {
        // As SQLite's LIKE: letters match in either case, ASCII ones only, whatever the database's locale.
        where.push(`title COLLATE "C" ILIKE ${arg(`%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)} ESCAPE '\\'`);
      }
      if (!scope.allPrivate) where.push(membersOnly(arg(scope.userId)));
      if (page.before !== undefined) where.push(`number < ${arg(page.before)}`);
      const sql = `SELECT * FROM incidents ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY number DESC LIMIT ${arg(page.limit + 1)}`;
      const rows = (await session.current().query<PgIncidentRow>(sql, args)).rows;
      const more = rows.length > page.limit;
      const incidents = rows.slice(0, page.limit).map(toIncidentOfPg);
      return { incidents, next: more ? incidents[incidents.length - 1]!.number : null };
    },

    async services() {
      // Byte order, as SQLite sorts text, whatever the database's locale.
      const sql = 'SELECT DISTINCT service COLLATE "C" AS service FROM incidents WHERE service IS NOT NULL AND NOT private ORDER BY 1';
      return (await session.current().query<{ service: string }>(sql)).rows.map((r) => r.service);
    },

    async timeline(incidentId, window) {
      const newest = window.order === 'newest';
      const cursor = window.cursor ?? (newest ? Number.MAX_SAFE_INTEGER : 0);
      const found = await events(
        `SELECT seq, time, actor, source, kind, payload FROM audit_log WHERE incident_id = $1 AND seq ${newest ? '<' : '>'} $2 ORDER BY seq ${newest ? 'DESC' : 'ASC'} LIMIT $3`,
        [incidentId, cursor, window.limit + 1],
      );
      const more = found.length > window.limit;
      const shown = found.slice(0, window.limit);
      return { events: shown, next: more ? shown[shown.length - 1]!.seq : null };
    },

    async eventsAfter(incidentId, seq, limit) {
      return events('SELECT seq, time, actor, source, kind, payload FROM audit_log WHERE incident_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [
        incidentId,
        seq,
        limit,
      ]);
    },
  };
}
