// "Sign in with Slack" (OpenID Connect) against Slack's endpoints faked at the HTTP boundary: state, nonce, audience and workspace checked.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../../helpers/run-cli.js';
import type { SlackCall } from '../../fixtures/slack/fake-slack.js';
import { startServe, type Served } from '../../reliability/slack-serve.js';
import { cookieFrom, httpGet, PortalUser } from '../../helpers/portal-client.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'private');
const CLIENT_ID = '1111.2222';
const TEAM = 'T0TEAM001';
const DEV = 'U0DEV0001';

let s: Served | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const idToken = (claims: Record<string, unknown>): string => `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;

/** Serves with Sign in with Slack on; Slack's openid.connect.token answers with the claims `claimsFor` makes of the flow's nonce. */
async function servedWithOidc(
  claimsFor: (nonce: string) => Record<string, unknown>,
): Promise<{ x: Served; tokenCalls: SlackCall[]; nonce: { value: string } }> {
  const x = await startServe({
    catalog: CATALOG,
    config: { SLACK_CLIENT_ID: CLIENT_ID, SLACK_CLIENT_SECRET: 'oidc-client-secret-0123456789', SLACK_TEAM_ID: TEAM },
  });
  s = x;
  const tokenCalls: SlackCall[] = [];
  const nonce = { value: '' };
  const fake = x.slack as unknown as { answer: (call: SlackCall) => Record<string, unknown> };
  const original = fake.answer.bind(x.slack);
  fake.answer = (call) => {
    if (call.method !== 'openid.connect.token') return original(call);
    tokenCalls.push(call);
    return { ok: true, access_token: 'xoxp-oidc', token_type: 'Bearer', id_token: idToken(claimsFor(nonce.value)) };
  };
  return { x, tokenCalls, nonce };
}

const goodClaims = (nonce: string, extra: Record<string, unknown> = {}) => ({
  iss: 'https://slack.com',
  aud: CLIENT_ID,
  exp: Math.floor(Date.now() / 1000) + 300,
  nonce,
  'https://slack.com/user_id': DEV,
  'https://slack.com/team_id': TEAM,
  ...extra,
});

/** Starts the flow; returns where Slack would send the browser back, and the flow cookie. */
async function startFlow(x: Served, nonce: { value: string }): Promise<{ state: string; cookie: string }> {
  const res = await httpGet(`${x.baseUrl}/portal/sign-in/slack?next=%2Fportal%2Fincidents`);
  expect(res.status).toBe(303);
  const to = new URL(String(res.headers.location));
  expect(`${to.origin}${to.pathname}`).toBe('http://slack.test/openid/connect/authorize');
  expect(to.searchParams.get('client_id')).toBe(CLIENT_ID);
  expect(to.searchParams.get('team')).toBe(TEAM);
  expect(to.searchParams.get('redirect_uri')).toBe('https://edgeops.test/portal/sign-in/slack/callback');
  nonce.value = to.searchParams.get('nonce')!;
  return { state: to.searchParams.get('state')!, cookie: cookieFrom(res, 'edgeops_portal_oidc')! };
}

describe('Sign in with Slack', () => {
  it('exchanges the code, checks state, nonce, audience and workspace, and starts a session', async () => {
    const { x, tokenCalls, nonce } = await servedWithOidc((n) => goodClaims(n));
    const { state, cookie } = await startFlow(x, nonce);
    const back = await httpGet(`${x.baseUrl}/portal/sign-in/slack/callback?code=c0de&state=${state}`, { cookie });
    expect(back.status).toBe(303);
    expect(back.headers.location).toBe('/portal/incidents');
    expect(tokenCalls.map((c) => [c.args.code, c.args.client_id])).toEqual([['c0de', CLIENT_ID]]);
    const user = new PortalUser(x, cookieFrom(back)!);
    const page = await user.get('/portal/incidents');
    expect(page.status).toBe(200);
    expect(page.body).toContain(DEV);
    const row = x.app.store.db.prepare("SELECT actor, source, payload FROM audit_log WHERE kind = 'portal.signed_in'").get() as {
      actor: string;
      source: string;
      payload: string;
    };
    expect([row.actor, row.source, z.object({ method: z.string() }).parse(JSON.parse(row.payload)).method]).toEqual([DEV, 'portal', 'slack']);
  });

  it('refuses a callback whose state is not the one it sent, without asking Slack', async () => {
    const { x, tokenCalls, nonce } = await servedWithOidc((n) => goodClaims(n));
    const { cookie } = await startFlow(x, nonce);
    const back = await httpGet(`${x.baseUrl}/portal/sign-in/slack/callback?code=c0de&state=forged`, { cookie });
    expect(back.status).toBe(400);
    expect(back.body).toContain('state does not match');
    expect(tokenCalls).toEqual([]);
    expect(cookieFrom(back)).toBeUndefined();
  });

  it('refuses an ID token with another nonce, for another app, or of another workspace', async () => {
    for (const [claims, words] of [
      [(n: string) => goodClaims(`${n}x`), 'nonce does not match'],
      [(n: string) => goodClaims(n, { aud: 'someone-else' }), 'made for another app'],
      [(n: string) => goodClaims(n, { 'https://slack.com/team_id': 'T0OTHER01' }), 'this portal serves T0TEAM001 only'],
    ] as const) {
      const { x, nonce } = await servedWithOidc(claims);
      const { state, cookie } = await startFlow(x, nonce);
      const back = await httpGet(`${x.baseUrl}/portal/sign-in/slack/callback?code=c0de&state=${state}`, { cookie });
      expect(back.status, words).toBe(403);
      expect(back.body).toContain(words);
      expect(cookieFrom(back)).toBeUndefined();
      expect(x.app.store.db.prepare('SELECT count(*) AS n FROM portal_sessions').get()).toEqual({ n: 0 });
      await x.close();
      s = undefined;
    }
  });
});
