// Signing in and out: the one-time link's confirmation page, its redemption into a session cookie, and sign-out.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isEdgeopsError } from '../../../errors.js';
import { SESSION_IDLE_MS } from '../../../core/portal/portal-sessions.js';
import { html } from '../html.js';
import { layout } from '../layout.js';
import type { PortalDeps } from '../portal-deps.js';
import { readForm } from '../portal-form.js';
import { PATHS } from '../portal-paths.js';
import { query, redirect, sendPage, viewerOf } from '../portal-request.js';
import { SESSION_COOKIE, setCookie } from '../security.js';

/** Only a path inside the portal is somewhere to go after signing in (never another site). */
export const safeNext = (next: string | null | undefined): string =>
  next && /^\/portal(?:[/?]|$)/.test(next) && !next.includes('//') && !next.includes('\\') ? next : PATHS.incidents;

export const secureCookies = (deps: PortalDeps): boolean => deps.publicUrl.startsWith('https:');

export function sessionCookie(deps: PortalDeps, sessionId: string): string {
  return setCookie(SESSION_COOKIE, sessionId, { secure: secureCookies(deps), maxAgeSeconds: SESSION_IDLE_MS / 1000 });
}

export async function signInPage(deps: PortalDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const q = query(req);
  const token = q.get('token');
  const next = safeNext(q.get('next'));
  if (!token && (await viewerOf(deps, req))) {
    redirect(res, next);
    return;
  }
  const notice = q.get('signed-out') === '1' ? html`<p class="notice" role="status">You are signed out.</p>` : null;
  const body = token
    ? html`<h1>Sign in to edgeops</h1>
<p>This one-time link signs you in as the Slack user who asked for it. It works once, within 10 minutes of being made.</p>
<form method="post" action="${PATHS.signIn}">
<input type="hidden" name="token" value="${token}">
<input type="hidden" name="next" value="${next}">
<button type="submit" class="primary">Sign in</button>
</form>`
    : html`<h1>Sign in to edgeops</h1>
${notice}
<p>Type <code>/incident portal</code> in Slack (or <code>/portal</code> in the local console) for a one-time sign-in link.</p>
${deps.oidc ? html`<p><a class="button primary" href="${PATHS.slackSignIn}?next=${encodeURIComponent(next)}">Sign in with Slack</a></p>` : null}`;
  sendPage(res, 200, layout('Sign in', body));
}

export async function signInPost(deps: PortalDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(deps, req, res);
  if (!form) return;
  try {
    const { sessionId } = await deps.signIn.redeemLink(form.get('token') ?? '');
    redirect(res, safeNext(form.get('next')), { 'set-cookie': sessionCookie(deps, sessionId) });
  } catch (err) {
    if (!isEdgeopsError(err)) throw err;
    sendPage(res, 400, layout('Sign-in link refused', html`<h1>Sign-in link refused</h1><p class="error" role="alert">${err.message}</p>`));
  }
}

export async function signOutPost(deps: PortalDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const viewer = await viewerOf(deps, req);
  if (!viewer) {
    redirect(res, PATHS.signIn);
    return;
  }
  const form = await readForm(deps, req, res, viewer.sessionId);
  if (!form) return;
  await deps.signIn.signOut(viewer.sessionId);
  redirect(res, `${PATHS.signIn}?signed-out=1`, { 'set-cookie': setCookie(SESSION_COOKIE, '', { secure: secureCookies(deps), maxAgeSeconds: 0 }) });
}
