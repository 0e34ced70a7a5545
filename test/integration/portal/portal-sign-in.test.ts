// Portal sign-in through edgeops serve on loopback: one-time links from /incident portal, sessions, cookies, sign-out, and their audit rows.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../../helpers/run-cli.js';
import { FORM, post } from '../../fixtures/slack/slack-harness.js';
import { startServe, type Served } from '../../reliability/slack-serve.js';
import { ask, cookieFrom, httpGet, linkIn, PortalUser, signIn, tokenOf } from '../../helpers/portal-client.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'private');
const GENERAL = 'C0GENERAL1';
const DEV = 'U0DEV0001';

let s: Served | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const auditKinds = (served: Served, kind: string) =>
  served.app.store.db.prepare('SELECT actor, source, payload FROM audit_log WHERE kind = ? ORDER BY seq').all(kind) as Array<{
    actor: string;
    source: string;
    payload: string;
  }>;

describe('portal sign-in', () => {
  it('/incident portal answers the caller alone with a one-time link whose token is stored only as a hash', async () => {
    s = await startServe({ catalog: CATALOG });
    const answer = await ask(s, DEV, GENERAL, '/incident', 'portal');
    expect(answer).toMatch(
      /^Your sign-in link to the ops portal \(only for you, once, within 10 minutes\): https:\/\/edgeops\.test\/portal\/sign-in\?token=/,
    );
    const token = tokenOf(linkIn(answer, s.baseUrl));
    const rows = s.app.store.db.prepare('SELECT * FROM portal_links').all() as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.user_id).toBe(DEV);
    expect(JSON.stringify(rows)).not.toContain(token);
    // Only the caller sees it: nothing was posted to a channel with the token.
    expect(s.slack.sentBodies().filter((b) => b.includes(token) && !b.includes('/respond/'))).toEqual([]);
  });

  it('a link signs in once: the session cookie is HttpOnly, SameSite=Lax and Secure, and a second use is refused', async () => {
    s = await startServe({ catalog: CATALOG });
    const link = linkIn(await ask(s, DEV, GENERAL, '/incident', 'portal'), s.baseUrl);
    const confirm = await httpGet(link);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('<button type="submit" class="primary">Sign in</button>');
    const form = new URLSearchParams({ token: tokenOf(link) }).toString();
    const first = await post(`${s.baseUrl}/portal/sign-in`, form, { 'content-type': FORM, origin: s.baseUrl });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/portal/incidents');
    const setCookie = String(first.headers['set-cookie']);
    expect(setCookie).toMatch(/^edgeops_portal=[A-Za-z0-9_-]{40,}; Path=\/portal; HttpOnly; SameSite=Lax; Max-Age=43200; Secure$/);
    const again = await post(`${s.baseUrl}/portal/sign-in`, form, { 'content-type': FORM, origin: s.baseUrl });
    expect(again.status).toBe(400);
    expect(again.body).toContain('this sign-in link was already used, has expired or is not one; ask for a new one with /incident portal');
    expect(cookieFrom(again)).toBeUndefined();
    const signedIn = auditKinds(s, 'portal.signed_in');
    expect(signedIn.map((r) => [r.actor, r.source])).toEqual([[DEV, 'portal']]);
    const user = new PortalUser(s, cookieFrom(first)!);
    expect((await user.get('/portal/incidents')).status).toBe(200);
  });

  it('a link older than 10 minutes is refused', async () => {
    let now = Date.now();
    s = await startServe({ catalog: CATALOG, clock: { now: () => now } });
    const link = linkIn(await ask(s, DEV, GENERAL, '/incident', 'portal'), s.baseUrl);
    now += 10 * 60_000 + 1;
    const res = await post(`${s.baseUrl}/portal/sign-in`, new URLSearchParams({ token: tokenOf(link) }).toString(), {
      'content-type': FORM,
      origin: s.baseUrl,
    });
    expect(res.status).toBe(400);
    expect(res.body).toContain('already used, has expired or is not one');
    expect(auditKinds(s, 'portal.signed_in')).toEqual([]);
  });

  it('pages without a session send to the sign-in page; a session idle for 12 hours is over and swept', async () => {
    let now = Date.now();
    s = await startServe({ catalog: CATALOG, clock: { now: () => now } });
    const anonymous = await httpGet(`${s.baseUrl}/portal/incidents`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toBe('/portal/sign-in?next=%2Fportal%2Fincidents');
    const user = await signIn(s, DEV);
    now += 11 * 3_600_000;
    expect((await user.get('/portal/incidents')).status).toBe(200);
    // Used an hour ago: still on 12 hours after that use, over a moment later.
    now += 12 * 3_600_000;
    expect((await user.get('/portal/incidents')).status).toBe(200);
    now += 12 * 3_600_000 + 1;
    const expired = await user.get('/portal/incidents');
    expect(expired.status).toBe(303);
    expect(await s.app.portal.sweep()).toBe(1);
    expect(s.app.store.db.prepare('SELECT count(*) AS n FROM portal_sessions').get()).toEqual({ n: 0 });
  });

  it('sign-out needs the CSRF token, ends the session on the server and is an audit row', async () => {
    s = await startServe({ catalog: CATALOG });
    const user = await signIn(s, DEV);
    const refused = await user.postForm('/portal/sign-out', {});
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('no valid CSRF token');
    expect((await user.get('/portal/incidents')).status).toBe(200);
    const out = await user.postForm('/portal/sign-out', { csrf: await user.csrf() });
    expect(out.status).toBe(303);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await user.get('/portal/incidents')).status).toBe(303);
    expect(auditKinds(s, 'portal.signed_out').map((r) => [r.actor, r.source])).toEqual([[DEV, 'portal']]);
  });

  it('edgeops sessions revoke ends a session: its cookie no longer opens pages', async () => {
    s = await startServe({ catalog: CATALOG });
    const user = await signIn(s, DEV);
    const [session] = await s.app.portal.list();
    const ended = await s.app.portal.revoke(session!.idHash.slice(0, 12), { id: 'system', groups: [] }, 'cli');
    expect(ended.map((e) => e.userId)).toEqual([DEV]);
    expect((await user.get('/portal/incidents')).status).toBe(303);
    expect(
      auditKinds(s, 'portal.session_revoked').map((r) => [r.actor, r.source, z.object({ user: z.string() }).parse(JSON.parse(r.payload)).user]),
    ).toEqual([['system', 'cli', DEV]]);
  });
});
