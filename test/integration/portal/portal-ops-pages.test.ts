// The procedures, reports and audit pages through edgeops serve on loopback: what each person may run, dry-run then run, forged runs refused, response-time charts, the audit head.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, runCli } from '../../helpers/run-cli.js';
import { AUDIT_KEY, startServe, type Served } from '../../reliability/slack-serve.js';
import { ask, signIn } from '../../helpers/portal-client.js';
import { escapeHtml } from '../../../src/adapters/portal/html.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'portal-ops');
const GENERAL = 'C0GENERAL1';
const P = { declarer: 'U0DEV0001', developer: 'U0DEV0002', support: 'U0SUP0001', sre: 'U0SRE0001', stranger: 'U0NOBODY1', observer: 'U0OBS0001' } as const;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** "Now" for the reports: every seeded time is before it. */
const NOW = Date.UTC(2026, 2, 31, 12, 0, 0);

let s: Served | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const count = (x: Served, sql: string, ...args: unknown[]): number => (x.app.store.db.prepare(sql).get(...args) as { n: number }).n;
const MISSING = (id: string) => `${id} does not exist; /incident list shows the open incidents`;

/** Public INC-1 (developer) and private INC-2 (declarer); nothing run yet. */
async function served(config: Record<string, string> = {}): Promise<Served> {
  const x = await startServe({ catalog: CATALOG, config });
  s = x;
  expect(await ask(x, P.developer, GENERAL, '/incident', 'declare "Search slow" sev=3 service=search')).toMatch(/^INC-1 declared/);
  expect(await ask(x, P.declarer, GENERAL, '/incident', 'declare "Payroll export leaks" sev=2 --private')).toMatch(/^INC-2 declared/);
  return x;
}

describe('portal procedures page', () => {
  it('lists only what the person may run, with owner, parameters, environments and the approval they would need', async () => {
    const x = await served();
    const developer = await (await signIn(x, P.developer)).get('/portal/procedures');
    expect(developer.status).toBe(200);
    expect(developer.body).toContain('Procedures you may run (2)');
    expect(developer.body).toContain('<h2 id="proc-echo-note">echo-note</h2>');
    expect(developer.body).toContain('<h2 id="proc-echo-gated">echo-gated</h2>');
    expect(developer.body).toContain('<dt>Owner</dt><dd>@test</dd>');
    expect(developer.body).toContain('<th scope="row"><code>message</code></th><td>required</td><td>text matching [a-z0-9 -]{1,60} (whole value)</td>');
    expect(developer.body).toContain('<tr><th scope="row">staging</th><td>needs 1 approval from sre-oncall, support, within 15m (never yours)</td>');
    expect(developer.body).toContain('<tr><th scope="row">staging</th><td>runs at once</td>');

    // support may run echo-note only; echo-gated (which it may approve) is not its to run.
    const support = await (await signIn(x, P.support)).get('/portal/procedures');
    expect(support.body).toContain('Procedures you may run (1)');
    expect(support.body).toContain('proc-echo-note');
    expect(support.body).not.toContain('proc-echo-gated');

    // observer may list but run nothing; a stranger holds no role and may not even list.
    const observer = await (await signIn(x, P.observer)).get('/portal/procedures');
    expect(observer.body).toContain('There is no procedure you may run.');
    expect(observer.body).not.toContain('proc-echo');
    const stranger = await (await signIn(x, P.stranger)).get('/portal/procedures');
    expect(stranger.status).toBe(200);
    expect(stranger.body).toContain('The policy does not let you list procedures (runbook.list)');
    expect(stranger.body).not.toContain('proc-echo');
  });

  it('says who may run it in the words of edgeops policy explain', async () => {
    const x = await served();
    const page = (await (await signIn(x, P.developer)).get('/portal/procedures')).body;
    const cli = await runCli([
      'policy',
      'explain',
      '--user',
      P.developer,
      '--procedure',
      'echo-gated',
      '--env',
      'staging',
      '--policies',
      path.join(x.dir, 'policies'),
      '--commands',
      path.join(x.dir, 'commands'),
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stdout).toContain('ALLOWED ONLY WITH APPROVAL: run echo-gated');
    expect(page).toContain(escapeHtml(cli.stdout.trimEnd()));
  });

  it('a dry-run shows what would run and runs nothing; Run then starts it through the run service with source portal', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    const csrf = await developer.csrf();
    const fields = { csrf, procedure: 'echo-note', env: 'staging', incident: 'INC-1', 'p.message': 'hello portal' };
    const dry = await developer.postForm('/portal/procedures/dry-run', fields);
    expect(dry.status).toBe(200);
    expect(dry.body).toContain('Dry run of echo-note in staging (message=');
    expect(dry.body).toContain(escapeHtml('argv ["/bin/echo","hello portal"]'));
    expect(dry.body).toContain('A real run would start at once.');
    expect(dry.body).toContain('<button type="submit" class="primary">Run echo-note in staging</button>');
    expect(count(x, 'SELECT COUNT(*) AS n FROM runs')).toBe(0);
    expect(
      count(
        x,
        "SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'run.dry_run' AND source = 'portal' AND actor = ? AND incident_id = 'INC-1'",
        P.developer,
      ),
    ).toBe(1);

    // The Run button posts the same fields the dry run showed.
    const hidden = Object.fromEntries([...dry.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!]));
    expect(hidden).toEqual(fields);
    const run = await developer.postForm('/portal/procedures/run', hidden);
    expect(run.status).toBe(303);
    expect(run.headers.location).toMatch(/^\/portal\/run\?id=R-1&notice=R-1\+started/);
    await x.app.runs.idle();
    const stored = await x.app.runs.get('R-1');
    expect(stored).toMatchObject({
      state: 'succeeded',
      source: 'portal',
      requestedBy: P.developer,
      incidentId: 'INC-1',
      procedure: 'echo-note',
      params: { message: 'hello portal' },
    });
    expect((await x.app.runs.steps('R-1'))[0]!.output).toBe('hello portal\n');
    expect(count(x, "SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'run.requested' AND source = 'portal' AND incident_id = 'INC-1'")).toBe(1);
  });

  it('a run needing approval waits for it, as /runbook run would, and shows on the run page', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    const fields = { csrf: await developer.csrf(), procedure: 'echo-gated', env: 'staging', incident: 'INC-1', 'p.message': 'gated' };
    const dry = await developer.postForm('/portal/procedures/dry-run', fields);
    expect(dry.body).toContain('A real run would need 1 approval from sre-oncall, support, within 15m (never yours).');
    expect(dry.body).toContain('Request approval to run echo-gated in staging');
    const run = await developer.postForm('/portal/procedures/run', fields);
    expect(run.status).toBe(303);
    const page = await developer.get(run.headers.location as string);
    expect(page.body).toContain('R-1 waits for approval: it needs 1 approval from sre-oncall, support, within 15m.');
    expect(await x.app.runs.get('R-1')).toMatchObject({ state: 'pending_approval', source: 'portal' });
    expect(count(x, "SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'policy.approval_required' AND source = 'portal'")).toBe(1);
  });

  it('a forged run POST without a CSRF token, with a wrong one, or from another origin is refused and runs nothing', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    const csrf = await developer.csrf();
    const fields = { procedure: 'echo-note', env: 'staging', incident: 'INC-1', 'p.message': 'forged' };
    const before = count(x, 'SELECT COUNT(*) AS n FROM audit_log');
    for (const res of [
      await developer.postForm('/portal/procedures/run', fields),
      await developer.postForm('/portal/procedures/run', { ...fields, csrf: `${csrf.slice(0, -2)}xx` }),
      await developer.postForm('/portal/procedures/run', { ...fields, csrf }, { origin: 'https://evil.example' }),
      await developer.postForm('/portal/procedures/dry-run', fields),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/^forbidden: /);
    }
    expect(count(x, 'SELECT COUNT(*) AS n FROM runs')).toBe(0);
    expect(count(x, 'SELECT COUNT(*) AS n FROM audit_log')).toBe(before);
  });

  it('a person without the role gets a hand-made run POST refused with the policy reason; nothing runs and the refusal is recorded', async () => {
    const x = await served();
    const support = await signIn(x, P.support);
    const res = await support.postForm('/portal/procedures/run', {
      csrf: await support.csrf(),
      procedure: 'echo-gated',
      env: 'staging',
      incident: 'INC-1',
      'p.message': 'sneaky',
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain('you may not run echo-gated in staging');
    expect(count(x, 'SELECT COUNT(*) AS n FROM runs')).toBe(0);
    expect(count(x, "SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'policy.denied' AND source = 'portal' AND actor = ?", P.support)).toBe(1);

    const stranger = await signIn(x, P.stranger);
    const denied = await stranger.postForm('/portal/procedures/run', {
      csrf: await stranger.csrf(),
      procedure: 'echo-note',
      env: 'staging',
      incident: 'INC-1',
      'p.message': 'x',
    });
    expect(denied.status).toBe(404);
    expect(denied.body).toContain(MISSING('INC-1'));
    expect(count(x, 'SELECT COUNT(*) AS n FROM runs')).toBe(0);
  });

  it('a run tied to an incident the person may not view is refused as a missing incident, and one tied to none is refused with what to choose', async () => {
    const x = await served();
    const support = await signIn(x, P.support);
    const csrf = await support.csrf();
    const hidden = await support.postForm('/portal/procedures/run', { csrf, procedure: 'echo-note', env: 'staging', incident: 'INC-2', 'p.message': 'x' });
    expect(hidden.status).toBe(404);
    expect(hidden.body).toContain(MISSING('INC-2'));
    const none = await support.postForm('/portal/procedures/run', { csrf, procedure: 'echo-note', env: 'staging', 'p.message': 'x' });
    expect(none.status).toBe(400);
    expect(none.body).toContain('choose the incident this run is for');
    expect(count(x, 'SELECT COUNT(*) AS n FROM runs')).toBe(0);
    // The private incident is not even offered.
    expect((await support.get('/portal/procedures')).body).not.toContain('INC-2');
  });

  it('a refused parameter comes back on the form with what was typed and every problem named', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    const res = await developer.postForm('/portal/procedures/dry-run', {
      csrf: await developer.csrf(),
      procedure: 'echo-note',
      env: 'staging',
      incident: 'INC-1',
      'p.message': 'NOT <ok>',
    });
    expect(res.status).toBe(400);
    expect(res.body).toContain('echo-note: a parameter was refused: message');
    expect(res.body).toContain('value="NOT &lt;ok&gt;"');
    expect(res.body).not.toContain('NOT <ok>');
    expect(count(x, 'SELECT COUNT(*) AS n FROM runs')).toBe(0);
  });
});

describe('portal reports page', () => {
  /**
   * At fixed times: INC-1 search SEV3 two months ago (ack 10m, resolve 20m); INC-2 api SEV2 (ack 5m, resolve 1h);
   * INC-3 api SEV2 (ack 15m, resolve 3h); INC-4 db SEV1 (ack 2m, open); INC-5 private db SEV1 (ack 30m, resolve 40m).
   */
  async function seeded(): Promise<Served> {
    let now = NOW - 60 * DAY;
    const x = await startServe({ catalog: CATALOG, clock: { now: () => now } });
    s = x;
    const at = async (t: number, user: string, command: string, text: string): Promise<string> => {
      now = t;
      return ask(x, user, GENERAL, command, text);
    };
    const t1 = NOW - 60 * DAY;
    expect(await at(t1, P.developer, '/incident', 'declare "Old search outage" sev=3 service=search')).toMatch(/^INC-1 declared/);
    await at(t1 + 10 * MIN, P.sre, '/incident', 'ack incident=INC-1');
    await at(t1 + 20 * MIN, P.sre, '/incident', 'resolve incident=INC-1');
    const t2 = NOW - 10 * DAY;
    expect(await at(t2, P.developer, '/incident', 'declare "Api errors" sev=2 service=api')).toMatch(/^INC-2 declared/);
    await at(t2 + 5 * MIN, P.sre, '/incident', 'ack incident=INC-2');
    await at(t2 + HOUR, P.sre, '/incident', 'resolve incident=INC-2');
    const t3 = NOW - 5 * DAY;
    expect(await at(t3, P.developer, '/incident', 'declare "Api latency" sev=2 service=api')).toMatch(/^INC-3 declared/);
    await at(t3 + 15 * MIN, P.sre, '/incident', 'ack incident=INC-3');
    await at(t3 + 3 * HOUR, P.sre, '/incident', 'resolve incident=INC-3');
    const t4 = NOW - 2 * DAY;
    expect(await at(t4, P.developer, '/incident', 'declare "Db failover" sev=1 service=db')).toMatch(/^INC-4 declared/);
    await at(t4 + 2 * MIN, P.sre, '/incident', 'ack incident=INC-4');
    const t5 = NOW - DAY;
    expect(await at(t5, P.declarer, '/incident', 'declare "Db dump exposed" sev=1 service=db --private')).toMatch(/^INC-5 declared/);
    await at(t5 + 30 * MIN, P.sre, '/incident', 'ack incident=INC-5');
    await at(t5 + 40 * MIN, P.sre, '/incident', 'resolve incident=INC-5');
    now = NOW;
    return x;
  }

  const row = (group: string, incidents: number, ack: string[], resolve: string[]): string =>
    `<tr><th scope="row">${group}</th><td>${incidents}</td>${[...ack, ...resolve].map((c) => `<td>${c}</td>`).join('')}</tr>`;

  it('draws time to acknowledge and resolve per service and severity with the right numbers, counting a private incident only for those who may see it', async () => {
    const x = await seeded();
    const developer = await signIn(x, P.developer);
    const page = await developer.get('/portal/reports');
    expect(page.status).toBe(200);
    expect(page.body).toContain('3 incidents you may view declared from 2026-03-01 12:00 UTC to 2026-03-31 12:00 UTC');
    expect(page.body).toContain(row('api', 2, ['2', '5m 00s', '15m 00s', '10m 00s'], ['2', '1h 00m', '3h 00m', '2h 00m']));
    expect(page.body).toContain(row('db', 1, ['1', '2m 00s', '2m 00s', '2m 00s'], ['0', '—', '—', '—']));
    expect(page.body).toContain(row('SEV2', 2, ['2', '5m 00s', '15m 00s', '10m 00s'], ['2', '1h 00m', '3h 00m', '2h 00m']));
    expect(page.body).not.toContain('<th scope="row">search</th>');
    for (const id of ['chart-service-acknowledge', 'chart-service-resolve', 'chart-severity-acknowledge', 'chart-severity-resolve']) {
      expect(page.body).toContain(`<svg class="chart" id="${id}" role="img" aria-labelledby="${id}-title ${id}-desc"`);
    }
    expect(page.body).toContain('<title id="chart-service-acknowledge-title">Time to acknowledge by service, last 30 days</title>');
    // The bars are labelled with the same numbers as the table.
    expect(page.body).toContain('>15m 00s</text>');
    expect(page.body).toContain('>3h 00m</text>');

    // The SRE (incident.view_private) counts the private INC-5 under db.
    const sre = await signIn(x, P.sre);
    const all = (await sre.get('/portal/reports')).body;
    expect(all).toContain(row('db', 2, ['2', '2m 00s', '30m 00s', '16m 00s'], ['1', '40m 00s', '40m 00s', '40m 00s']));

    // 90 days takes in the old search incident.
    const ninety = (await developer.get('/portal/reports?days=90')).body;
    expect(ninety).toContain(row('search', 1, ['1', '10m 00s', '10m 00s', '10m 00s'], ['1', '20m 00s', '20m 00s', '20m 00s']));
    expect(ninety).toContain('<title id="chart-severity-resolve-title">Time to resolve by severity, last 90 days</title>');
  });

  it('counts nothing for a person who may not view incidents, and refuses a window other than 30 or 90 days', async () => {
    const x = await seeded();
    const observer = await signIn(x, P.observer);
    const page = await observer.get('/portal/reports');
    expect(page.status).toBe(200);
    expect(page.body).toContain('The policy does not let you view incidents (incident.view)');
    expect(page.body).not.toContain('<svg');
    const bad = await observer.get('/portal/reports?days=7');
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('days must be 30 or 90 (got &quot;7&quot;)');
  });
});

describe('portal audit page', () => {
  it('shows the head edgeops audit verify prints, the last anchor and the exact command, to those allowed audit.view', async () => {
    const x = await served({ EDGEOPS_AUDIT_ANCHOR_CHANNEL: 'C0ANCHOR01' });
    // support holds audit.view by a rule naming it; nothing else of sre-oncall's "*".
    const support = await signIn(x, P.support);
    const anchored = (await x.app.auditAnchor!.tick())!;
    const page = await support.get('/portal/audit');
    expect(page.status).toBe(200);
    const head = /<code id="head-ref">(\d+):([0-9a-f]{64})<\/code>/.exec(page.body);
    expect(head).not.toBeNull();
    expect(page.body).toContain(`Audit chain intact: verified up to seq ${head![1]}`);
    expect(page.body).toContain(`<code>${anchored.seq}:${anchored.hash}</code>`);
    expect(page.body).toContain('Slack channel C0ANCHOR01');
    const command = /<pre class="output" tabindex="0" id="verify-command">([^<]+)<\/pre>/.exec(page.body)![1]!;
    expect(command).toBe(`edgeops audit verify --db ${x.dbPath} --expect-head ${head![1]}:${head![2]}`);
    await x.stop();

    // The command on the page, run on the server, finds that head; with nothing appended since, it is the head verify prints.
    const cli = await runCli(command.split(' ').slice(1), { env: { EDGEOPS_AUDIT_KEY: AUDIT_KEY } });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`last seq ${head![1]}, last hash ${head![2]}`);
    expect(cli.stdout).toContain(`anchored head ${head![1]}:${head![2]} is in the log`);
  });

  it('is refused to a person the policy does not grant audit.view', async () => {
    const x = await served();
    const developer = await signIn(x, P.developer);
    const page = await developer.get('/portal/audit');
    expect(page.status).toBe(403);
    expect(page.body).toContain("The policy does not let you view the audit log's status (audit.view)");
    expect(page.body).not.toMatch(/[0-9a-f]{64}/);
  });
});

describe('portal procedures, reports and audit pages', () => {
  it('carry a strict CSP and no inline script, style or outside asset', async () => {
    const x = await served();
    const sre = await signIn(x, P.sre);
    for (const page of ['/portal/procedures', '/portal/reports', '/portal/audit']) {
      const res = await sre.get(page);
      expect(res.status, page).toBe(200);
      expect(res.headers['content-security-policy'], page).toContain("default-src 'self'");
      expect(res.headers['content-security-policy'], page).not.toContain('unsafe-inline');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.body, page).not.toMatch(/<script|<style|\sstyle=|\son[a-z]+=/);
      expect(res.body, page).not.toMatch(/(src|href)="https?:/);
    }
  });
});
