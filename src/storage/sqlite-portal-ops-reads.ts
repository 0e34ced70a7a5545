// SQLite implementation of the ops pages' read port: incidents declared since a time, and the audit chain's status.
import { ANCHOR_KIND } from '../core/audit/anchor-service.js';
import type { AuditEvent } from '../core/audit/audit-chain.js';
import type { AuditLog } from '../core/audit/audit-log.js';
import type { AnchorStatus, PortalOpsReads } from '../core/portal/portal-ops-reads.js';
import type { Db } from './database.js';
import { toIncident, type IncidentRow } from './sqlite-incident-store.js';
import { statementCache } from './statements.js';

const MEMBER_INVITED = 'incident.member_invited';

/** Private incidents only to their members: declarer, role holders, people invited (as the incidents list keeps them). */
const MEMBERS_ONLY = `(private = 0 OR declared_by = @user OR commander = @user OR comms = @user OR scribe = @user
  OR id IN (SELECT incident_id FROM audit_log WHERE kind = '${MEMBER_INVITED}' AND incident_id IS NOT NULL AND json_extract(payload, '$.user') = @user))`;

/** The newest outbox row an anchor caused: its post to the channel, if one was queued. */
export interface AnchorPostRow {
  state: 'pending' | 'sent' | 'failed';
  sent_at: number | null;
}

export const toAnchorStatus = (anchor: AuditEvent, post: AnchorPostRow | undefined): AnchorStatus => {
  const p = anchor.payload as { seq?: unknown; hash?: unknown; channel?: unknown };
  return {
    seq: anchor.seq,
    time: anchor.time,
    head: { seq: Number(p.seq), hash: String(p.hash) },
    channel: typeof p.channel === 'string' ? p.channel : '',
    delivery: post?.state ?? 'unknown',
    sentAt: post?.sent_at ?? null,
  };
};

export function sqlitePortalOpsReads(db: Db, audit: AuditLog): PortalOpsReads {
  const stmt = statementCache(db);
  return {
    async incidentsSince(scope, since) {
      const sql = `SELECT * FROM incidents WHERE declared_at >= @since${scope.allPrivate ? '' : ` AND ${MEMBERS_ONLY}`} ORDER BY number`;
      const rows = stmt(sql).all(scope.allPrivate ? { since } : { since, user: scope.userId }) as IncidentRow[];
      return rows.map(toIncident);
    },

    async auditStatus() {
      const chain = await audit.verify();
      const anchor = await audit.lastWithoutIncident(ANCHOR_KIND);
      const lastAnchor = anchor
        ? toAnchorStatus(
            anchor,
            stmt('SELECT state, sent_at FROM outbox WHERE cause_seq = ? ORDER BY id DESC LIMIT 1').get(anchor.seq) as AnchorPostRow | undefined,
          )
        : null;
      return { chain, lastAnchor };
    },
  };
}
