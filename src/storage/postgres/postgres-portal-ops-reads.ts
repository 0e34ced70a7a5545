// PostgreSQL implementation of the ops pages' read port: incidents declared since a time, and the audit chain's status.
import { ANCHOR_KIND } from '../../core/audit/anchor-service.js';
import type { AuditLog } from '../../core/audit/audit-log.js';
import type { PortalOpsReads } from '../../core/portal/portal-ops-reads.js';
import { toAnchorStatus, type AnchorPostRow } from '../sqlite-portal-ops-reads.js';
import { toIncidentOfPg, type PgIncidentRow } from './postgres-incident-store.js';
import { membersOnly } from './postgres-portal-queries.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

export function postgresPortalOpsReads(session: PostgresUnitOfWork, audit: AuditLog): PortalOpsReads {
  return {
    async incidentsSince(scope, since) {
      const sql = `SELECT * FROM incidents WHERE declared_at >= $1${scope.allPrivate ? '' : ` AND ${membersOnly('$2')}`} ORDER BY number`;
      const rows = (await session.current().query<PgIncidentRow>(sql, scope.allPrivate ? [since] : [since, scope.userId])).rows;
      return rows.map(toIncidentOfPg);
    },

    async auditStatus() {
      const chain = await audit.verify();
      const anchor = await audit.lastWithoutIncident(ANCHOR_KIND);
      // The newest post the anchor row caused (on the outbox_by_cause index).
      const post = anchor
        ? (await session.current().query<AnchorPostRow>('SELECT state, sent_at FROM outbox WHERE cause_seq = $1 ORDER BY id DESC LIMIT 1', [anchor.seq]))
            .rows[0]
        : undefined;
      return { chain, lastAnchor: anchor ? toAnchorStatus(anchor, post) : null };
    },
  };
}
