// SQLite implementation of the portal's sign-in links and sessions (hashes only, never the secrets).
import type { PortalSession, PortalSessionStore, SignInLinkRecord } from '../core/portal/portal-sessions.js';
import type { Db } from './database.js';
import { statementCache } from './statements.js';

/** A portal_sessions row as both backends return it. */
export interface SessionRow {
  id_hash: string;
  user_id: string;
  groups: string;
  method: string;
  created_at: number;
  last_seen_at: number;
}

export const toSession = (r: SessionRow): PortalSession => ({
  idHash: r.id_hash,
  userId: r.user_id,
  groups: JSON.parse(r.groups) as string[],
  method: r.method as PortalSession['method'],
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
});

/** A session's values in the order both backends insert portal_sessions' columns (id_hash … last_seen_at). */
export const sessionValues = (s: PortalSession): unknown[] => [s.idHash, s.userId, JSON.stringify(s.groups), s.method, s.createdAt, s.lastSeenAt];

/** The columns of a portal_links row that make up a link. */
export interface LinkRow {
  token_hash: string;
  user_id: string;
  groups: string;
  created_at: number;
  expires_at: number;
}

export const toLink = (r: LinkRow): SignInLinkRecord => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  groups: JSON.parse(r.groups) as string[],
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** A link's values in the order both backends insert portal_links' columns (token_hash … expires_at). */
export const linkValues = (link: SignInLinkRecord): unknown[] => [
  link.tokenHash,
  link.userId,
  JSON.stringify(link.groups),
  link.createdAt,
  link.expiresAt,
];

export function sqlitePortalSessions(db: Db): PortalSessionStore {
  const stmt = statementCache(db);
  return {
    async insertLink(link: SignInLinkRecord) {
      stmt('INSERT INTO portal_links (token_hash, user_id, groups, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(...linkValues(link));
    },
    async consumeLink(tokenHash, now) {
      // One UPDATE decides: of two tabs opening the same link, one gets a session.
      const row = stmt(
        'UPDATE portal_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at >= ? RETURNING token_hash, user_id, groups, created_at, expires_at',
      ).get(now, tokenHash, now) as LinkRow | undefined;
      return row ? toLink(row) : undefined;
    },
    async insertSession(s: PortalSession) {
      stmt('INSERT INTO portal_sessions (id_hash, user_id, groups, method, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)').run(...sessionValues(s));
    },
    async session(idHash) {
      const row = stmt('SELECT * FROM portal_sessions WHERE id_hash = ?').get(idHash) as SessionRow | undefined;
      return row ? toSession(row) : undefined;
    },
    async touch(idHash, now) {
      stmt('UPDATE portal_sessions SET last_seen_at = ? WHERE id_hash = ?').run(now, idHash);
    },
    async deleteSessions(prefix) {
      // A prefix is never a pattern: LIKE's wildcards cannot appear in hex.
      const rows = stmt("DELETE FROM portal_sessions WHERE id_hash LIKE ? || '%' RETURNING *").all(prefix) as SessionRow[];
      return rows.map(toSession);
    },
    async list() {
      return (stmt('SELECT * FROM portal_sessions ORDER BY last_seen_at DESC').all() as SessionRow[]).map(toSession);
    },
    async sweep(idleBefore, now) {
      stmt('DELETE FROM portal_links WHERE expires_at < ?').run(now);
      return stmt('DELETE FROM portal_sessions WHERE last_seen_at < ?').run(idleBefore).changes;
    },
  };
}
