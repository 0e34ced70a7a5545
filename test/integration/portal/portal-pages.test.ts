// Portal pages through edgeops serve on loopback: who sees which incident and run, escaping, security headers, CSRF, approvals, exports.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../../helpers/run-cli.js';
import { startServe, type Served } from '../../reliability/slack-serve.js';
import { ask, httpGet, signIn } from '../../helpers/portal-client.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'private');
const GENERAL = 'C0GENERAL1';
/** The one field of a JSON export these tests read (docs/export.md). */
const ExportedIncident = z.object({ incident: z.object({ id: z.string() }) });
const P = { declarer: 'U0DEV0001', developer: 'U0DEV0002', support: 'U0SUP0001', sre: 'U0SRE0001', stranger: 'U0NOBODY1', observer: 'U0OBS0001' } as const;
const HOSTILE = '<script>alert(1)</script>';

let s: Served | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Private INC-1 (declarer) with a note and R-1 waiting for approval; public INC-2 (developer) titled with markup, with a run whose output holds markup. */
async function served(): Promise<Served> {
  const x = await startServe({ catalog: CATALOG });
  s = x;
  expect(await ask(x, P.declarer, GENERAL, '/incident', 'declare "Payroll export leaks" sev=2 --private')).toMatch(/^INC-1 declared/);
  expect(await ask(x, P.declarer, GENERAL, '/incident', 'note "salary table exposed" incident=INC-1')).toBe('Noted on INC-1.');
  expect(await ask(x, P.declarer, GENERAL, '/runbook', 'run echo-gated message="gated" incident=INC-1')).toMatch(/^R-1 waits for approval/);
  expect(await ask(x, P.developer, GENERAL, '/incident', `declare "Search ${HOSTILE} slow" sev=3`)).toMatch(/^INC-2 declared/);
  expect(await ask(x, P.developer, GENERAL, '/incident', `note "${HOSTILE} in a note" incident=INC-2`)).toBe('Noted on INC-2.');
  return x;
}

const count = (x: Served, sql: string): number => (x.app.store.db.prepare(sql).get() as { n: number }).n;
const MISSING = (id: string) => `${id} does not exist; /incident list shows the open incidents`;

describe('portal pages', () => {
  it('every page carries a strict CSP, no framing, a referrer policy and nosniff', async () => {
    const x = await served();
    const user = await signIn(x, P.developer);
    const pages = [
      '/portal/incidents',
      '/portal/incident?id=INC-2',
      '/portal/run?id=R-404',
      '/portal/sign-in',
      '/portal/assets/portal.css',
      '/portal/assets/portal.js',
    ];
    for (const page of pages) {
      // The sign-in page as someone not signed in; a missing run is a 404 with the same headers.
      const res = page === '/portal/sign-in' ? await httpGet(`${x.baseUrl}${page}`) : await user.get(page);
      if (page.includes('R-404')) {
        expect(res.status).toBe(404);
      } else {
        expect(res.status, page).toBe(200);
      }
      expect(res.headers['content-security-policy'], page).toContain("default-src 'self'");
      expect(res.headers['content-security-policy'], page).toContain("frame-ancestors 'none'");
      expect(res.headers['content-security-policy'], page).not.toContain('unsafe-inline');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('same-origin');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    const page = (await user.get('/portal/incident?id=INC-2')).body;
    expect(page).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=/);
    expect(page).not.toMatch(/(src|href)="https?:/);
  });

  it('<script> in a title and a note reaches the list and the incident page only escaped', async () => {
    const x = await served();
    const user = await signIn(x, P.developer);
    for (const page of ['/portal/incidents', '/portal/incident?id=INC-2']) {
      const body = (await user.get(page)).body;
      expect(body, page).not.toContain(HOSTILE);
      expect(body, page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });

  it('a user with no role sees no incident, and gets the missing-incident answer word for word', async () => {
    const x = await served();
    const stranger = await signIn(x, P.stranger);
    const list = await stranger.get('/portal/incidents?status=all');
    expect(list.status).toBe(200);
    expect(list.body).toContain('The policy does not let you view incidents (incident.view)');
    expect(list.body).not.toContain('INC-2');
    for (const id of ['INC-1', 'INC-2', 'INC-99']) {
      const res = await stranger.get(`/portal/incident?id=${id}`);
      expect(res.status).toBe(404);
      expect(res.body).toContain(MISSING(id));
    }
  });

  it('a non-member does not see a private incident or its run: both read as missing ones', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    const list = await developer.get('/portal/incidents?status=all');
    expect(list.body).toContain('INC-2');
    expect(list.body).not.toContain('INC-1');
    expect(list.body).not.toContain('Payroll');
    const missing = await developer.get('/portal/incident?id=INC-1');
    const absent = await developer.get('/portal/incident?id=INC-404');
    expect(missing.status).toBe(404);
    expect(missing.body).toBe(absent.body.replace('INC-404', 'INC-1'));
    const run = await developer.get('/portal/run?id=R-1');
    expect(run.status).toBe(404);
    expect(run.body).toContain('R-1 does not exist; run ids look like R-12');
    // The SRE (incident.view_private) and the declarer (a member) see it.
    for (const who of [P.sre, P.declarer]) {
      const page = await (await signIn(x, who)).get('/portal/incident?id=INC-1');
      expect(page.status, who).toBe(200);
      expect(page.body).toContain('salary table exposed');
    }
  });

  it('the requester is shown no Approve button and a forged approve of their own run is refused and recorded', async () => {
    const x = await served();
    const declarer = await signIn(x, P.declarer);
    const page = await declarer.get('/portal/run?id=R-1');
    expect(page.body).not.toContain('Approve R-1');
    expect(page.body).toContain('you requested this run; someone else must approve it');
    const res = await declarer.postForm('/portal/run/approve', { csrf: await declarer.csrf(), run: 'R-1' });
    expect(res.status).toBe(403);
    expect(res.body).toContain('you requested R-1; someone else must approve it');
    expect((await x.app.runs.get('R-1')).state).toBe('pending_approval');
    expect(count(x, "SELECT count(*) AS n FROM audit_log WHERE kind = 'policy.denied' AND source = 'portal' AND actor = 'U0DEV0001'")).toBe(1);
  });

  it('an approver approves from the portal and the run runs, recorded with source portal', async () => {
    const x = await served();
    const support = await signIn(x, P.support);
    // support may not see private INC-1: invite them first (a member sees its runs).
    expect(await ask(x, P.declarer, GENERAL, '/incident', `invite <@${P.support}> incident=INC-1`)).toMatch(/is now a member of INC-1/);
    const page = await support.get('/portal/run?id=R-1');
    expect(page.body).toContain('Approve R-1');
    const res = await support.postForm('/portal/run/approve', { csrf: await support.csrf(), run: 'R-1' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/portal/run?id=R-1&notice=Approved%20R-1%3B%20it%20is%20starting.');
    await x.app.runs.idle();
    expect((await x.app.runs.get('R-1')).state).toBe('succeeded');
    expect(count(x, "SELECT count(*) AS n FROM audit_log WHERE kind = 'run.approved' AND source = 'portal' AND actor = 'U0SUP0001'")).toBe(1);
    const after = await support.get('/portal/run?id=R-1');
    expect(after.body).toContain('succeeded');
    expect(after.body).toContain('gated');
    const incident = await support.get('/portal/incident?id=INC-1');
    expect(incident.body).toContain('<summary>1 step</summary><ol><li>echo: succeeded (exit 0)<pre class="output">gated</pre>');
  });

  it('a forged approve without a CSRF token, with a wrong one, or from another origin is refused and changes nothing', async () => {
    const x = await served();
    const sre = await signIn(x, P.sre);
    const before = (await x.app.store.audit.head()).seq;
    const csrf = await sre.csrf();
    const attempts = [
      sre.postForm('/portal/run/approve', { run: 'R-1' }),
      sre.postForm('/portal/run/approve', { run: 'R-1', csrf: `${csrf.slice(0, -2)}xx` }),
      sre.postForm('/portal/run/approve', { run: 'R-1', csrf }, { origin: 'https://evil.example' }),
    ];
    const answers = await Promise.all(attempts);
    expect(answers.map((a) => a.status)).toEqual([403, 403, 403]);
    expect(answers[0]!.body).toContain('no valid CSRF token');
    expect(answers[2]!.body).toContain('sent from another site');
    expect((await x.app.runs.get('R-1')).state).toBe('pending_approval');
    expect((await x.app.store.audit.head()).seq).toBe(before);
    const noSession = await sre.postForm('/portal/run/approve', { run: 'R-1', csrf }, { cookie: '' });
    expect(noSession.status).toBe(401);
  });

  it('downloads the postmortem as Markdown, JSON and HTML, each an audit row', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    const md = await developer.get('/portal/incident/export?id=INC-2&format=md');
    expect(md.status).toBe(200);
    expect(md.headers['content-disposition']).toBe('attachment; filename="INC-2.md"');
    expect(md.body).toMatch(/^# INC-2: Search/);
    const json = await developer.get('/portal/incident/export?id=INC-2&format=json');
    expect(ExportedIncident.parse(JSON.parse(json.body)).incident.id).toBe('INC-2');
    const html = await developer.get('/portal/incident/export?id=INC-2&format=html');
    expect(html.body).toMatch(/^<!DOCTYPE html>/);
    expect(html.body).not.toContain(HOSTILE);
    expect(count(x, "SELECT count(*) AS n FROM audit_log WHERE kind = 'portal.exported' AND source = 'portal'")).toBe(3);
    const hidden = await developer.get('/portal/incident/export?id=INC-1&format=md');
    expect(hidden.status).toBe(404);
    expect(hidden.body).toContain(MISSING('INC-1'));
  });

  it('filters by status, severity, service and title, and refuses a malformed filter with what to type', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    expect((await developer.get('/portal/incidents?sev=3')).body).toContain('INC-2');
    expect((await developer.get('/portal/incidents?sev=1')).body).toContain('No incidents match.');
    expect((await developer.get('/portal/incidents?q=search')).body).toContain('INC-2');
    expect((await developer.get('/portal/incidents?q=payroll')).body).toContain('No incidents match.');
    expect((await developer.get('/portal/incidents?status=resolved')).body).toContain('No incidents match.');
    const bad = await developer.get('/portal/incidents?sev=9');
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('severity must be 1, 2, 3 or 4 (got &quot;9&quot;)');
    const badDay = await developer.get('/portal/incidents?from=yesterday');
    expect(badDay.status).toBe(400);
    expect(badDay.body).toContain('from must be a date such as 2026-03-01');
  });
});

describe('portal run output', () => {
  it('shows every step of a run with its secret masked on the run and incident pages', async () => {
    const canary = 'canary-portal-SECRET-0123456789abcdef';
    const x = await startServe({ catalog: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'canary'), env: { CANARY_TOKEN: canary } });
    s = x;
    expect(await ask(x, 'U0CANARY1', GENERAL, '/incident', 'declare "Canary" sev=3')).toMatch(/^INC-1 declared/);
    expect(await ask(x, 'U0CANARY1', GENERAL, '/runbook', 'run leak-canary incident=INC-1')).toMatch(/^R-1 started/);
    await x.app.runs.idle();
    const user = await signIn(x, 'U0CANARY1');
    for (const page of ['/portal/run?id=R-1', '/portal/incident?id=INC-1']) {
      const body = (await user.get(page)).body;
      expect(body, page).toContain('stdout token=[secret]');
      expect(body, page).not.toContain(canary);
    }
    const run = (await user.get('/portal/run?id=R-1')).body;
    expect(run).toContain('1. leak: ');
    expect(run).toContain('2. split: ');
  });
});
