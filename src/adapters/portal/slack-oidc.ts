// "Sign in with Slack" (OpenID Connect): redirect with state and nonce, then the code exchanged at openid.connect.token, checked and turned into a session.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { InputError, NotAllowedError, UnavailableError } from '../../errors.js';
import type { PortalDeps } from './portal-deps.js';
import { PATHS } from './portal-paths.js';
import { query, redirect } from './portal-request.js';
import { safeNext, secureCookies, sessionCookie } from './pages/sign-in-page.js';
import { cookieValue, OIDC_COOKIE, setCookie } from './security.js';

const ISSUER = 'https://slack.com';
const FLOW_TTL_S = 600;

const TokenAnswer = z.object({ ok: z.literal(true), id_token: z.string().min(1) });
/** What Slack says when it refuses the code (`{ ok: false, error: 'invalid_code' }`). */
const RefusalAnswer = z.object({ error: z.string() });
const Claims = z.object({
  iss: z.literal(ISSUER),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number(),
  nonce: z.string(),
  'https://slack.com/user_id': z.string().regex(/^[UW][A-Z0-9]{2,}$/),
  'https://slack.com/team_id': z.string().regex(/^[TE][A-Z0-9]+$/),
});

const seal = (key: string, value: string): string => `${value}.${createHmac('sha256', key).update(`oidc\n${value}`).digest('base64url')}`;

function unseal(key: string, sealed: string | undefined): string | undefined {
  if (!sealed) return undefined;
  const dot = sealed.lastIndexOf('.');
  if (dot < 0) return undefined;
  const value = sealed.slice(0, dot);
  const expected = Buffer.from(seal(key, value));
  const given = Buffer.from(sealed);
  return expected.length === given.length && timingSafeEqual(expected, given) ? value : undefined;
}

const callbackUrl = (deps: PortalDeps): string =>
  new URL(PATHS.slackCallback.slice(1), deps.publicUrl.endsWith('/') ? deps.publicUrl : `${deps.publicUrl}/`).toString();
const flowCookiePath = PATHS.slackSignIn;

/** GET /portal/sign-in/slack: off to Slack with a fresh state and nonce, both kept in a signed, short-lived cookie. */
export async function oidcStart(deps: PortalDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const oidc = deps.oidc;
  if (!oidc)
    throw new InputError('Sign in with Slack is not set up here (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET); use /incident portal for a sign-in link');
  const state = randomBytes(24).toString('base64url');
  const nonce = randomBytes(24).toString('base64url');
  const next = safeNext(query(req).get('next'));
  const url = new URL(oidc.authorizeUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'openid');
  url.searchParams.set('client_id', oidc.clientId);
  url.searchParams.set('redirect_uri', callbackUrl(deps));
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  if (oidc.teamId) url.searchParams.set('team', oidc.teamId);
  const flow = seal(deps.csrfKey, Buffer.from(JSON.stringify({ state, nonce, next })).toString('base64url'));
  redirect(res, url.toString(), {
    'set-cookie': setCookie(OIDC_COOKIE, flow, { secure: secureCookies(deps), maxAgeSeconds: FLOW_TTL_S, path: flowCookiePath }),
  });
}

/** Reads the claims of Slack's ID token. It came straight from Slack's token endpoint over TLS for our code and secret, so its signature is not re-checked (OIDC Core 3.1.3.7). */
function claimsOf(idToken: string) {
  const part = idToken.split('.')[1];
  if (!part) throw new UnavailableError('Slack answered with an ID token that is not a JWT');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new UnavailableError('Slack answered with an ID token that could not be read');
  }
  const claims = Claims.safeParse(json);
  if (!claims.success)
    throw new UnavailableError(`Slack's ID token lacks what sign-in needs (${claims.error.issues.map((i) => i.path.join('.')).join(', ')})`);
  return claims.data;
}

/** GET /portal/sign-in/slack/callback: state, nonce, audience, expiry and workspace checked before a session begins. */
export async function oidcCallback(deps: PortalDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const oidc = deps.oidc;
  if (!oidc) throw new InputError('Sign in with Slack is not set up here; use /incident portal for a sign-in link');
  const q = query(req);
  const clear = setCookie(OIDC_COOKIE, '', { secure: secureCookies(deps), maxAgeSeconds: 0, path: flowCookiePath });
  const flowText = unseal(deps.csrfKey, cookieValue(req, OIDC_COOKIE));
  const flow = flowText ? (JSON.parse(Buffer.from(flowText, 'base64url').toString('utf8')) as { state: string; nonce: string; next: string }) : undefined;
  if (q.get('error')) throw new NotAllowedError(`Slack did not sign you in (${q.get('error')}); try again or use /incident portal`);
  if (!flow || !q.get('state') || q.get('state') !== flow.state) {
    throw new InputError('this sign-in did not start here or took too long (state does not match); start again from the sign-in page');
  }
  const code = q.get('code');
  if (!code) throw new InputError('Slack sent no code; start again from the sign-in page');
  let answer: unknown;
  try {
    const response = await fetch(new URL('openid.connect.token', oidc.apiUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: oidc.clientId,
        client_secret: oidc.clientSecret,
        code,
        redirect_uri: callbackUrl(deps),
        grant_type: 'authorization_code',
      }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    answer = await response.json();
  } catch (err) {
    throw new UnavailableError(`Slack could not be asked to finish the sign-in: ${(err as Error).message}`);
  }
  const token = TokenAnswer.safeParse(answer);
  if (!token.success) {
    const refusal = RefusalAnswer.safeParse(answer);
    throw new NotAllowedError(`Slack refused the sign-in (${refusal.success ? refusal.data.error : 'unexpected answer'}); start again`);
  }
  const claims = claimsOf(token.data.id_token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(oidc.clientId)) throw new NotAllowedError('the ID token was made for another app; start again');
  if (claims.exp * 1000 < deps.clock.now()) throw new NotAllowedError('the ID token has expired; start again');
  if (claims.nonce !== flow.nonce) throw new NotAllowedError('the ID token does not belong to this sign-in (nonce does not match); start again');
  const team = claims['https://slack.com/team_id'];
  if (oidc.teamId && team !== oidc.teamId) throw new NotAllowedError(`you signed in to workspace ${team}; this portal serves ${oidc.teamId} only`);
  const sessionId = await deps.signIn.signInWithSlack(claims['https://slack.com/user_id'], team);
  redirect(res, safeNext(flow.next), { 'set-cookie': [clear, sessionCookie(deps, sessionId)] });
}
