// Portal sign-in: one-time links, server-side sessions with an idle expiry, and the audit rows of both.
import { createHash, randomBytes } from 'node:crypto';
import { InputError } from '../../errors.js';
import type { Actor, Clock, Source } from '../ports.js';

/** A sign-in link is good for this long, once (docs/portal.md). */
export const LINK_TTL_MS = 10 * 60_000;
/** A session nobody used for this long is over. */
export const SESSION_IDLE_MS = 12 * 3_600_000;
/** Last-seen times are written at most this often per session, so reading pages does not write on every request. */
export const TOUCH_EVERY_MS = 60_000;

export type SignInMethod = 'link' | 'slack';

export interface SignInLinkRecord {
  tokenHash: string;
  userId: string;
  groups: string[];
  createdAt: number;
  expiresAt: number;
}

export interface PortalSession {
  /** sha256 of the session id: the id itself lives only in the browser's cookie. */
  idHash: string;
  userId: string;
  /** The groups known when the session began (local mode has no group directory to ask). */
  groups: string[];
  method: SignInMethod;
  createdAt: number;
  lastSeenAt: number;
}

/** Where links and sessions are kept; async, as every storage port. */
export interface PortalSessionStore {
  insertLink(link: SignInLinkRecord): Promise<void>;
  /** Marks the link used and returns it, only if it was unused and unexpired at `now` (one caller wins). */
  consumeLink(tokenHash: string, now: number): Promise<SignInLinkRecord | undefined>;
  insertSession(session: PortalSession): Promise<void>;
  session(idHash: string): Promise<PortalSession | undefined>;
  touch(idHash: string, now: number): Promise<void>;
  /** Deletes sessions whose hash starts with `prefix` (at least 8 hex characters); returns them. */
  deleteSessions(prefix: string): Promise<PortalSession[]>;
  list(): Promise<PortalSession[]>;
  /** Deletes sessions idle since before `idleBefore` and links expired before `now`; returns the sessions deleted. */
  sweep(idleBefore: number, now: number): Promise<number>;
}

/** Records one portal row on the audit log (sign-in, sign-out, revocation). */
export type PortalAudit = (entry: {
  actor: string;
  source: Source;
  kind: string;
  incidentId?: string | null;
  payload: Record<string, unknown>;
}) => Promise<void>;

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
const newSecret = (): string => randomBytes(32).toString('base64url');

/** The short handle `edgeops sessions` shows and takes: the first 12 characters of the id's hash. */
export const sessionHandle = (session: Pick<PortalSession, 'idHash'>): string => session.idHash.slice(0, 12);

export type PortalSignIn = ReturnType<typeof createPortalSignIn>;

export function createPortalSignIn(deps: { store: PortalSessionStore; clock: Clock; audit: PortalAudit; random?: () => string }) {
  const { store, clock, audit } = deps;
  const random = deps.random ?? newSecret;

  async function begin(userId: string, groups: string[], method: SignInMethod, detail: Record<string, unknown>): Promise<string> {
    const id = random();
    const now = clock.now();
    await store.insertSession({ idHash: hashSecret(id), userId, groups, method, createdAt: now, lastSeenAt: now });
    await audit({ actor: userId, source: 'portal', kind: 'portal.signed_in', payload: { method, session: hashSecret(id).slice(0, 12), ...detail } });
    return id;
  }

  return {
    /** A one-time sign-in token for this person (the caller puts it in a link); only its hash is stored. */
    async issueLink(actor: Actor, source: Source): Promise<{ token: string; expiresAt: number }> {
      const token = random();
      const now = clock.now();
      const expiresAt = now + LINK_TTL_MS;
      await store.insertLink({ tokenHash: hashSecret(token), userId: actor.id, groups: actor.groups, createdAt: now, expiresAt });
      await audit({ actor: actor.id, source, kind: 'portal.link_issued', payload: { expires_at: expiresAt } });
      return { token, expiresAt };
    },

    /** Opens a session for the link's person; a used, expired or unknown token is refused the same way. */
    async redeemLink(token: string): Promise<{ sessionId: string; userId: string }> {
      const link = /^[A-Za-z0-9_-]{20,100}$/.test(token) ? await store.consumeLink(hashSecret(token), clock.now()) : undefined;
      if (!link) throw new InputError('this sign-in link was already used, has expired or is not one; ask for a new one with /incident portal');
      const sessionId = await begin(link.userId, link.groups, 'link', {});
      return { sessionId, userId: link.userId };
    },

    /** A session for someone Slack vouched for (Sign in with Slack). */
    signInWithSlack: (userId: string, teamId: string): Promise<string> => begin(userId, [], 'slack', { team: teamId }),

    /** The session behind a cookie value, if it is still on; its last-seen time moves on. */
    async session(sessionId: string): Promise<PortalSession | undefined> {
      if (!/^[A-Za-z0-9_-]{20,100}$/.test(sessionId)) return undefined;
      const found = await store.session(hashSecret(sessionId));
      const now = clock.now();
      if (!found || now - found.lastSeenAt > SESSION_IDLE_MS) return undefined;
      if (now - found.lastSeenAt >= TOUCH_EVERY_MS) await store.touch(found.idHash, now);
      return found;
    },

    async signOut(sessionId: string): Promise<void> {
      const idHash = hashSecret(sessionId);
      const ended = await store.deleteSessions(idHash);
      for (const s of ended) await audit({ actor: s.userId, source: 'portal', kind: 'portal.signed_out', payload: { session: sessionHandle(s) } });
    },

    list: (): Promise<PortalSession[]> => store.list(),

    /** Ends the sessions whose handle starts with `handle` (`edgeops sessions revoke`). */
    async revoke(handle: string, by: Actor, source: Source): Promise<PortalSession[]> {
      if (!/^[0-9a-f]{8,64}$/.test(handle))
        throw new InputError(`"${handle}" is not a session; give at least 8 characters of an id from \`edgeops sessions list\``);
      const ended = await store.deleteSessions(handle);
      for (const s of ended) await audit({ actor: by.id, source, kind: 'portal.session_revoked', payload: { session: sessionHandle(s), user: s.userId } });
      return ended;
    },

    /** Deletes sessions past their idle expiry and expired links; returns how many sessions ended. */
    sweep: (): Promise<number> => {
      const now = clock.now();
      return store.sweep(now - SESSION_IDLE_MS, now);
    },
  };
}
