// Who is behind a portal request (their session, Slack user and groups) and the answers every page shares.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Actor } from '../../core/ports.js';
import { ErrorCode, isEdgeopsError } from '../../errors.js';
import { requestUrl } from '../http/request-target.js';
import { html } from './html.js';
import { layout, type LayoutUser } from './layout.js';
import type { PortalDeps } from './portal-deps.js';
import { PATHS, pagePath } from './portal-paths.js';
import { cookieValue, csrfToken, send, SESSION_COOKIE } from './security.js';

export interface Viewer extends LayoutUser {
  sessionId: string;
  actor: Actor;
}

/** The signed-in person, asked of the policy exactly as their slash commands are: their user ID and current groups. */
export async function viewerOf(deps: PortalDeps, req: IncomingMessage): Promise<Viewer | undefined> {
  const sessionId = cookieValue(req, SESSION_COOKIE);
  if (!sessionId) return undefined;
  const session = await deps.signIn.session(sessionId);
  if (!session) return undefined;
  const groups = (await deps.groupsOf(session.userId)) ?? session.groups;
  return { sessionId, userId: session.userId, actor: { id: session.userId, groups }, csrf: csrfToken(deps.csrfKey, sessionId) };
}

export const query = (req: IncomingMessage): URLSearchParams => requestUrl(req).searchParams;

export function sendPage(res: ServerResponse, status: number, page: string): void {
  send(res, status, 'text/html; charset=utf-8', page);
}

export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  send(res, 303, 'text/plain; charset=utf-8', `see ${location}\n`, { location, ...headers });
}

/** Not signed in: the sign-in page, with where they were going kept for after. */
export function toSignIn(req: IncomingMessage, res: ServerResponse): void {
  const url = requestUrl(req);
  redirect(res, pagePath(PATHS.signIn, { next: req.method === 'GET' ? `${url.pathname}${url.search}` : undefined }));
}

const STATUS_OF: Record<string, number> = {
  [ErrorCode.Input]: 400,
  [ErrorCode.NotAllowed]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.Unavailable]: 503,
};

const TITLE_OF: Record<number, string> = { 400: 'Cannot do that', 403: 'Not allowed', 404: 'Not found', 409: 'Conflict', 503: 'Unavailable' };

/** An error page with the domain error's own words (a missing incident reads exactly as in chat). */
export function sendError(deps: PortalDeps, res: ServerResponse, err: unknown, viewer?: LayoutUser): void {
  if (!isEdgeopsError(err) || STATUS_OF[err.code] === undefined) throw err;
  const status = STATUS_OF[err.code]!;
  const title = TITLE_OF[status] ?? 'Error';
  sendPage(
    res,
    status,
    layout(
      title,
      html`<h1>${title}</h1><p class="error" role="alert">${err.message}</p><p><a href="${PATHS.incidents}">Back to incidents</a></p>`,
      viewer,
    ),
  );
}
