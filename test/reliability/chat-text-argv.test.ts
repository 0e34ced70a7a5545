// Chat and PagerDuty text never becomes an option of a step's program: served in Slack mode, with real sort processes that would create a file if it did.
import { createHmac } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PACKAGE_ROOT } from '../helpers/run-cli.js';
import { FORM, commandBody, post, signedHeaders } from '../fixtures/slack/slack-harness.js';
import { eventBody, incidentData } from '../integration/pagerduty/pd-harness.js';
import { PAGERDUTY_SECRET, startServe, type Served } from './slack-serve.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'leading-dash');
const OPERATOR = 'U0OPER001';
const GENERAL = 'C0GENERAL1';

let s: Served | undefined;

afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** A signed slash command as Slack sends it; the text the caller reads back. */
async function command(served: Served, channel: string, name: string, text: string): Promise<string> {
  const body = commandBody(OPERATOR, channel, name, text);
  const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
  expect(res.status, `${name} ${text}`).toBe(200);
  await served.server.drain();
  const reply = res.body === '' ? '' : ((JSON.parse(res.body) as { text?: string }).text ?? '');
  // Slow work answers through response_url after the ack.
  const late = served.slack.responds.map((r) => JSON.stringify(r.body));
  return [reply, ...late].join('\n');
}

/** A signed PagerDuty webhook delivery; processed, its runs finished, when this returns. */
async function pagerduty(served: Served, body: string): Promise<void> {
  const res = await post(served.webhookUrl, body, {
    'content-type': 'application/json',
    'x-pagerduty-signature': `v1=${createHmac('sha256', PAGERDUTY_SECRET).update(body).digest('hex')}`,
  });
  expect(res.status).toBe(202);
  await vi.waitFor(
    async () => {
      await served.server.drain();
      await served.app.runs.idle();
      const pending = served.app.store.db.prepare("SELECT count(*) AS n FROM pagerduty_events WHERE state IN ('pending', 'applied')").get() as {
        n: number;
      };
      if (pending.n > 0) throw new Error('PagerDuty event still in flight');
    },
    { timeout: 10_000, interval: 20 },
  );
}

const auditKinds = (served: Served): string[] =>
  (served.app.store.db.prepare('SELECT kind FROM audit_log ORDER BY seq').all() as Array<{ kind: string }>).map((r) => r.kind);

const runIds = (served: Served): string[] =>
  (served.app.store.db.prepare('SELECT id FROM runs ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);

/** What the steps left in the commands folder (their working folder) besides the procedure files. */
const leftBehind = (served: Served): string[] =>
  readdirSync(path.join(served.dir, 'commands'))
    .filter((f) => !f.endsWith('.yaml'))
    .sort();

describe('service= at /incident declare', () => {
  it('refuses service=--output=/tmp/x, naming the pattern, and records no incident', async () => {
    s = await startServe({ catalog: CATALOG });
    const before = auditKinds(s);
    const reply = await command(s, GENERAL, '/incident', 'declare "Sorting is broken" service=--output=/tmp/x');
    expect(reply).toContain('service="--output=/tmp/x" is not a service name: it must match [A-Za-z0-9][A-Za-z0-9._ -]{0,79}');
    expect(await s.app.incidents.listOpen()).toEqual([]);
    expect(auditKinds(s).filter((k) => !before.includes(k) && k.startsWith('incident.'))).toEqual([]);

    const quoted = await command(s, GENERAL, '/incident', 'declare "Sorting is broken" service="-rf"');
    expect(quoted).toContain('service="-rf" is not a service name');
    expect(await s.app.incidents.listOpen()).toEqual([]);

    // A service name in the pattern is taken, spaces and dots included.
    expect(await command(s, GENERAL, '/incident', 'declare "Sorting is broken" service="checkout api.v2"')).toContain('INC-1 declared');
    expect((await s.app.incidents.get('INC-1')).service).toBe('checkout api.v2');
  });
});

describe('a param filling a whole argv element', () => {
  it('refuses file=--output=… before anything runs (sort never starts, no file is made), and passes it where the file says allow_leading_dash', async () => {
    s = await startServe({ catalog: CATALOG });

    const refused = await command(s, GENERAL, '/runbook', 'run sort-file file=--output=pwned-by-chat');
    expect(refused).toContain('{{file}} is "--output=pwned-by-chat", which would begin an argument with "-" that the program could read as an option');
    expect(refused).toContain('allow_leading_dash: true on file');
    await s.app.runs.idle();
    expect(runIds(s)).toEqual([]);
    expect(auditKinds(s).filter((k) => k.startsWith('run.'))).toEqual([]);
    expect(leftBehind(s)).toEqual([]);

    // The same value, where the procedure's author allows options: sort really does take it and make the file.
    await command(s, GENERAL, '/runbook', 'run sort-flagged file=--output=made-by-sort');
    await s.app.runs.idle();
    expect((await s.app.runs.get('R-1')).state).toBe('succeeded');
    expect(leftBehind(s)).toEqual(['made-by-sort']);
  });
});

describe('a PagerDuty incident with a hostile service name and id', () => {
  it('keeps the name for display, runs sort on its service-name form, and refuses the id beginning with "-": nothing is made', async () => {
    s = await startServe({ catalog: CATALOG });
    const data = incidentData('--output=pwned-by-id', { service: { id: 'PSORT01', name: '--output=pwned-by-service' } });
    await pagerduty(s, eventBody('incident.triggered', data));

    const incident = (await s.app.incidents.listOpen())[0]!;
    expect(incident).toMatchObject({ id: 'INC-1', service: '--output=pwned-by-service', pagerdutyId: '--output=pwned-by-id' });

    // sort-service ran, with the service-name form as one plain operand: sort finds no such file and fails.
    const run = await s.app.runs.get('R-1');
    expect(run).toMatchObject({ procedure: 'sort-service', state: 'failed' });
    const started = s.app.store.db.prepare("SELECT payload FROM audit_log WHERE kind = 'run.step_started'").all() as Array<{ payload: string }>;
    expect(started.map((r) => (JSON.parse(r.payload) as { argv: string[] }).argv)).toEqual([['sort', 'output pwned-by-service']]);

    // sort-pd-id was refused before it ran, and the refusal is on the incident's timeline.
    expect(runIds(s)).toEqual(['R-1']);
    const failed = s.app.store.db.prepare("SELECT payload FROM audit_log WHERE kind = 'pagerduty.trigger_failed'").all() as Array<{ payload: string }>;
    expect(failed.map((r) => JSON.parse(r.payload) as { procedure: string; reason: string })).toEqual([
      expect.objectContaining({
        procedure: 'sort-pd-id',
        reason: expect.stringContaining('{{incident.pagerduty_id}} is "--output=pwned-by-id", which would begin an argument with "-"'),
      }),
    ]);

    expect(leftBehind(s)).toEqual([]);
    expect(existsSync(path.join(s.dir, 'pwned-by-service'))).toBe(false);
  });
});
