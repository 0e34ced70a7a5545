// PostgreSQL implementation of the portal's sign-in links and sessions, with the SQLite module's row mapping and values.
import type { PortalSession, PortalSessionStore, SignInLinkRecord } from '../../core/portal/portal-sessions.js';
import { linkValues, sessionValues, toLink, toSession, type LinkRow, type SessionRow } from '../sqlite-portal-sessions.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

export function postgresPortalSessions(session: PostgresUnitOfWork): PortalSessionStore {
  const db = () => session.current();
  return {
    async insertLink(link: SignInLinkRecord) {
      await db().query('INSERT INTO portal_links (token_hash, user_id, groups, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', linkValues(link));
    },
    async consumeLink(tokenHash, now) {
      // One UPDATE decides, across replicas too: a second redeemer waits for the first one's row lock,
      // then finds used_at set and updates nothing.
      const row = (
        await db().query<LinkRow>(
          'UPDATE portal_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at >= $1 RETURNING token_hash, user_id, groups, created_at, expires_at',
          [now, tokenHash],
        )
      ).rows[0];
      return row ? toLink(row) : undefined;
    },
    async insertSession(s: PortalSession) {
      await db().query(
        'INSERT INTO portal_sessions (id_hash, user_id, groups, method, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)',
        sessionValues(s),
      );
    },
    async session(idHash) {
      const row = (await db().query<SessionRow>('SELECT * FROM portal_sessions WHERE id_hash = $1', [idHash])).rows[0];
      return row ? toSession(row) : undefined;
    },
    async touch(idHash, now) {
      await db().query('UPDATE portal_sessions SET last_seen_at = $1 WHERE id_hash = $2', [now, idHash]);
    },
    async deleteSessions(prefix) {
      // A prefix is never a pattern: starts_with compares characters, with no wildcard to escape.
      return (await db().query<SessionRow>('DELETE FROM portal_sessions WHERE starts_with(id_hash, $1) RETURNING *', [prefix])).rows.map(toSession);
    },
    async list() {
      return (await db().query<SessionRow>('SELECT * FROM portal_sessions ORDER BY last_seen_at DESC')).rows.map(toSession);
    },
    async sweep(idleBefore, now) {
      await db().query('DELETE FROM portal_links WHERE expires_at < $1', [now]);
      return (await db().query('DELETE FROM portal_sessions WHERE last_seen_at < $1', [idleBefore])).rowCount ?? 0;
    },
  };
}
