// The procedures, reports and audit pages in a real headless Chromium against edgeops serve on loopback; with EDGEOPS_SCREENSHOTS=1 it also writes the docs' screenshots.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, runCli } from '../helpers/run-cli.js';
import { collectPageErrors, launchBrowser } from '../helpers/browser.js';
import { ask, linkIn } from '../helpers/portal-client.js';
import { AUDIT_KEY, startServe, type Served } from '../reliability/slack-serve.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'portal-ops');
const GENERAL = 'C0GENERAL1';
const P = { declarer: 'U0DEV0001', developer: 'U0DEV0002', support: 'U0SUP0001', sre: 'U0SRE0001' } as const;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** The fixed "now" of the whole tour, so pages (and screenshots) come out the same every time. */
const NOW = Date.UTC(2026, 2, 31, 9, 30, 0);
const SCREENSHOTS = process.env.EDGEOPS_SCREENSHOTS === '1';
const IMAGES = path.join(PACKAGE_ROOT, 'docs', 'images');
const WIDTHS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const;

let served: Served;
let browser: Browser;
let now = NOW - 40 * DAY;
const reported: string[][] = [];

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/** Runs a slash command at a fixed time of the app's clock. */
async function at(t: number, user: string, command: string, text: string): Promise<string> {
  now = t;
  return ask(served, user, GENERAL, command, text);
}

/** Incidents across services and severities with known times, notes and a finished run, every command at a fixed time. */
async function seed(): Promise<void> {
  // title, severity, service, declared days ago, minutes to acknowledge, minutes to resolve
  const incidents: Array<[string, number, string, number, number | null, number | null]> = [
    ['Checkout API 5xx after deploy', 2, 'checkout', 20, 4, 55],
    ['Search results stale', 3, 'search', 14, 12, 140],
    ['Checkout latency over SLO', 2, 'checkout', 9, 7, 95],
    ['Login failures for SSO users', 1, 'auth', 6, 2, 38],
    ['Search indexer backlog', 3, 'search', 3, 25, 310],
    ['Auth token refresh errors', 2, 'auth', 1, 9, null],
  ];
  // Every command in time order: the log's times only move forward.
  const commands: Array<[number, string, string, string]> = [];
  incidents.forEach(([title, sev, service, daysAgo, ack, resolve], i) => {
    const t = NOW - daysAgo * DAY;
    commands.push([t, P.developer, '/incident', `declare "${title}" sev=${sev} service=${service}`]);
    if (ack !== null) commands.push([t + ack * MIN, P.sre, '/incident', `ack incident=INC-${i + 1}`]);
    if (resolve !== null) commands.push([t + resolve * MIN, P.sre, '/incident', `resolve incident=INC-${i + 1}`]);
  });
  commands.sort((a, b) => a[0] - b[0]);
  for (const [t, user, command, text] of commands) expect(await at(t, user, command, text)).not.toMatch(/^(Sorry|You may not|usage)/i);
  const t = NOW - 30 * MIN;
  await at(t, P.developer, '/incident', 'note "token refresh fails for 3% of requests since 08:40" incident=INC-6');
  await at(t + 2 * MIN, P.sre, '/incident', `role commander <@${P.sre}> incident=INC-6`);
  expect(await at(t + 4 * MIN, P.developer, '/runbook', 'run echo-note message="auth pods healthy" incident=INC-6')).toMatch(/^R-1 started/);
  await served.app.runs.idle();
  await at(t + 6 * MIN, P.developer, '/incident', 'note "rolled back auth-gateway to v41" incident=INC-6');
  now = NOW;
}

beforeAll(async () => {
  const port = await freePort();
  served = await startServe({
    catalog: CATALOG,
    clock: { now: () => now },
    config: { PORT: String(port), EDGEOPS_PUBLIC_URL: `http://127.0.0.1:${port}`, EDGEOPS_AUDIT_ANCHOR_CHANNEL: 'C0ANCHOR01' },
  });
  await seed();
  await served.app.auditAnchor!.tick();
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  // beforeAll can fail before assigning these; their declared types speak for the tests, which run
  // only once both are set.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  await browser?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  await served?.close();
});

/** A fresh browser (own cookies) signed in as `user` through /incident portal and the link's button. */
async function signedIn(user: string, viewport: { width: number; height: number } = WIDTHS.desktop): Promise<{ context: BrowserContext; page: Page }> {
  const link = linkIn(await ask(served, user, GENERAL, '/incident', 'portal'), served.baseUrl);
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
  const page = await context.newPage();
  reported.push(collectPageErrors(page));
  await page.goto(link);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => new URL(page.url()).pathname).toBe('/portal/incidents');
  // The URL changes when the redirect is committed; the page is ours to drive once it has loaded.
  await page.waitForLoadState('load');
  return { context, page };
}

async function open(page: Page, pathAndQuery: string): Promise<void> {
  const res = await page.goto(`${served.baseUrl}${pathAndQuery}`);
  expect(res?.status(), pathAndQuery).toBe(200);
  expect(res?.headers()['content-security-policy'], pathAndQuery).toContain("default-src 'self'");
  expect(res?.headers()['content-security-policy'], pathAndQuery).not.toContain('unsafe-inline');
}

describe('procedures, reports and audit pages in a browser', () => {
  it('the procedures page shows only what the person may run', async () => {
    const developer = await signedIn(P.developer);
    await open(developer.page, '/portal/procedures');
    await expect.poll(() => developer.page.getByRole('heading', { level: 2 }).allTextContents()).toEqual(['echo-gated', 'echo-note']);
    expect(
      await developer.page
        .locator('#proc-echo-gated')
        .locator('xpath=..')
        .getByRole('cell', { name: /needs 1 approval/ })
        .count(),
    ).toBe(1);
    const support = await signedIn(P.support);
    await open(support.page, '/portal/procedures');
    expect(await support.page.getByRole('heading', { level: 2 }).allTextContents()).toEqual(['echo-note']);
    await developer.context.close();
    await support.context.close();
  }, 60_000);

  it('dry-run first shows what would run and runs nothing; Run starts it and the run page shows its output', async () => {
    const { context, page } = await signedIn(P.developer);
    await open(page, '/portal/procedures');
    const runs = (): number => (served.app.store.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
    const before = runs();
    const section = page.locator('section#proc-echo-note, section:has(#proc-echo-note)');
    await section.getByLabel('For incident').selectOption('INC-6');
    await section.getByLabel('message (required)').fill('browser run ok');
    await section.getByRole('button', { name: 'Dry run' }).click();
    await expect.poll(() => page.locator('#plan').textContent()).toContain('argv ["/bin/echo","browser run ok"]');
    expect(runs()).toBe(before);
    await page.getByRole('button', { name: 'Run echo-note in staging' }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/portal/run');
    const id = new URL(page.url()).searchParams.get('id')!;
    expect(await page.getByRole('status').textContent()).toBe(`${id} started.`);
    await served.app.runs.idle();
    await page.reload();
    expect(await page.locator('pre.output').first().textContent()).toBe('browser run ok\n');
    expect(await served.app.runs.get(id)).toMatchObject({ state: 'succeeded', source: 'portal', incidentId: 'INC-6', requestedBy: P.developer });
    await context.close();
  }, 60_000);

  it('a forged run POST without a CSRF token is refused, and so is a hand-made one from a person without the role', async () => {
    const { context, page } = await signedIn(P.support);
    await open(page, '/portal/procedures');
    const runs = (): number => (served.app.store.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
    const before = runs();
    const fields = { procedure: 'echo-gated', env: 'staging', incident: 'INC-6', 'p.message': 'sneaky' };
    const forged = await context.request.post(`${served.baseUrl}/portal/procedures/run`, { form: { ...fields, procedure: 'echo-note' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('forbidden: the form has no valid CSRF token');
    // A real token taken from the page does not make the policy's answer any different.
    const csrf = (await page.locator('input[name="csrf"]').first().getAttribute('value'))!;
    const handMade = await context.request.post(`${served.baseUrl}/portal/procedures/run`, { form: { ...fields, csrf }, maxRedirects: 0 });
    expect(handMade.status()).toBe(403);
    expect(await handMade.text()).toContain('you may not run echo-gated in staging');
    expect(runs()).toBe(before);
    await context.close();
  }, 60_000);

  it('the reports page draws accessible charts with the right numbers beside them', async () => {
    const { context, page } = await signedIn(P.developer);
    await open(page, '/portal/reports');
    expect(await page.getByRole('img').count()).toBe(4);
    expect(await page.getByRole('img', { name: 'Time to acknowledge by service, last 30 days' }).count()).toBe(1);
    const checkout = await page.locator('#table-service tbody tr', { hasText: 'checkout' }).locator('th, td').allTextContents();
    expect(checkout).toEqual(['checkout', '2', '2', '4m 00s', '7m 00s', '5m 30s', '2', '55m 00s', '1h 35m', '1h 15m']);
    const auth = await page.locator('#table-service tbody tr', { hasText: 'auth' }).locator('th, td').allTextContents();
    expect(auth).toEqual(['auth', '2', '2', '2m 00s', '9m 00s', '5m 30s', '1', '38m 00s', '38m 00s', '38m 00s']);
    const sev3 = await page.locator('#table-severity tbody tr', { hasText: 'SEV3' }).locator('th, td').allTextContents();
    expect(sev3).toEqual(['SEV3', '2', '2', '12m 00s', '25m 00s', '18m 30s', '2', '2h 20m', '5h 10m', '3h 45m']);
    await context.close();
  }, 60_000);

  it('the audit page shows a head that edgeops audit verify finds in the log, and the command to run', async () => {
    const { context, page } = await signedIn(P.support);
    await open(page, '/portal/audit');
    const head = (await page.locator('#head-ref').textContent())!;
    expect(head).toMatch(/^\d+:[0-9a-f]{64}$/);
    expect(await page.locator('#chain-status').textContent()).toContain(`verified up to seq ${head.split(':')[0]}`);
    expect(await page.locator('#anchor').textContent()).toContain('Slack channel C0ANCHOR01');
    const command = (await page.locator('#verify-command').textContent())!;
    expect(command).toBe(`edgeops audit verify --db ${served.dbPath} --expect-head ${head}`);
    const cli = await runCli(command.split(' ').slice(1), { env: { EDGEOPS_AUDIT_KEY: AUDIT_KEY } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`anchored head ${head} is in the log`);
    await context.close();
  }, 60_000);

  it('no page of the tour reported a console error or an uncaught exception', () => {
    expect(reported.flat()).toEqual([]);
  });
});

describe('screenshots for the docs (written to docs/images only with EDGEOPS_SCREENSHOTS=1)', () => {
  const shots: Array<[string, string, string]> = [
    ['portal-incident', P.sre, '/portal/incident?id=INC-6'],
    ['portal-procedures', P.developer, '/portal/procedures'],
    ['portal-reports', P.developer, '/portal/reports'],
  ];
  for (const [name, user, page] of shots) {
    it(`takes ${name} at desktop and phone widths as PNGs`, async () => {
      for (const [width, viewport] of Object.entries(WIDTHS)) {
        const { context, page: tab } = await signedIn(user, viewport);
        await open(tab, page);
        const png = await tab.screenshot({ fullPage: width === 'desktop', animations: 'disabled', caret: 'hide' });
        expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
        if (SCREENSHOTS) {
          mkdirSync(IMAGES, { recursive: true });
          writeFileSync(path.join(IMAGES, `${name}${width === 'phone' ? '-phone' : ''}.png`), png);
        }
        await context.close();
      }
    }, 60_000);
  }
});
