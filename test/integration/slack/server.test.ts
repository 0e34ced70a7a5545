// The Slack-mode server on loopback: forged requests refused with nothing changed, signed ones answered in time.
import { afterEach, describe, expect, it } from 'vitest';
import { slackSignature } from '../../../src/adapters/slack/verify-signature.js';
import { NO_PAGER_TEXT } from '../../../src/core/commands/oncall-commands.js';
import {
  FORM,
  SIGNING_SECRET,
  USERS,
  commandBody,
  eventBody,
  post,
  signedHeaders,
  startHarness,
  type Harness,
} from '../../fixtures/slack/slack-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const GENERAL = 'C0GENERAL1';
const json = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;

describe('POST /slack/events refuses what Slack did not sign', () => {
  it('answers 401 to every forged variant and changes nothing; the genuine request then works', async () => {
    // The server's signature clock is pinned, so "301 s away" is exactly that when it checks.
    const now = Date.now();
    h = await startHarness({ now: () => now });
    const body = commandBody(USERS.sre, GENERAL, '/incident', 'declare Checkout is down sev=1');
    const good = signedHeaders(body, { at: now });
    const flipped = Buffer.from(body);
    flipped[body.indexOf('Checkout')] = 'c'.charCodeAt(0);
    const variants: Array<[string, string | Buffer, Record<string, string | string[]>]> = [
      ['a flipped byte', flipped, good],
      ['the wrong secret', body, signedHeaders(body, { secret: 'not-the-secret', at: now })],
      ['no signature', body, { 'x-slack-request-timestamp': good['x-slack-request-timestamp']! }],
      ['no timestamp', body, { 'x-slack-signature': good['x-slack-signature']! }],
      ['no headers at all', body, {}],
      ['two signatures', body, { ...good, 'x-slack-signature': [good['x-slack-signature']!, good['x-slack-signature']!] }],
      ['two timestamps', body, { ...good, 'x-slack-request-timestamp': [good['x-slack-request-timestamp']!, good['x-slack-request-timestamp']!] }],
      ['signed 301 s ahead', body, signedHeaders(body, { at: now + 301_000 })],
      ['signed 301 s ago', body, signedHeaders(body, { at: now - 301_000 })],
      ['a timestamp that is not a number', body, { 'x-slack-request-timestamp': 'soon', 'x-slack-signature': slackSignature(SIGNING_SECRET, 'soon', body) }],
    ];
    const before = h.state();
    const apiCalls = h.slack.calls.length;
    for (const [what, sent, headers] of variants) {
      const res = await post(h.eventsUrl, sent, { 'content-type': FORM, ...headers });
      expect(res.status, what).toBe(401);
      expect(json(res.body), what).toEqual({ error: 'invalid signature' });
    }
    expect(h.state()).toEqual(before);
    expect(await h.app.incidents.listOpen()).toEqual([]);
    expect(h.slack.calls.length).toBe(apiCalls);
    expect(h.slack.responds).toEqual([]);

    // The edges of the window are inside it.
    for (const at of [now + 300_000, now - 300_000]) {
      const probe = commandBody(USERS.sre, GENERAL, '/incident', 'list');
      expect((await post(h.eventsUrl, probe, { 'content-type': FORM, ...signedHeaders(probe, { at }) })).status).toBe(200);
    }
    const genuine = await post(h.eventsUrl, body, { 'content-type': FORM, ...good });
    expect(genuine.status).toBe(200);
    expect(json(genuine.body)).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('INC-1 declared (SEV1)') });
  });

  it('refuses an unsigned url_verification and answers a signed one with its challenge', async () => {
    h = await startHarness();
    const body = JSON.stringify({ token: 't', challenge: 'c0ffee-challenge', type: 'url_verification' });
    const unsigned = await post(h.eventsUrl, body, { 'content-type': 'application/json' });
    expect(unsigned.status).toBe(401);
    const signed = await h.send(body, 'application/json');
    expect(signed.status).toBe(200);
    expect(json(signed.body)).toEqual({ challenge: 'c0ffee-challenge' });
  });

  it('refuses a body over the size cap with 413 before reading it', async () => {
    h = await startHarness();
    const before = h.state();
    const body = `text=${'x'.repeat(1024 * 1024 + 1)}`;
    const res = await post(h.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
    expect(res.status).toBe(413);
    expect(h.state()).toEqual(before);
  });

  it('refuses a signed body it cannot parse with 400, and a foreign content type with 415', async () => {
    h = await startHarness();
    expect((await h.send('{not json', 'application/json')).status).toBe(400);
    expect((await h.send('payload=%7Bbroken', FORM)).status).toBe(400);
    expect((await h.send('hello', 'text/plain')).status).toBe(415);
  });

  it('keeps serving /healthz beside /slack/events', async () => {
    h = await startHarness();
    const res = await fetch(`${h.server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});

describe('SLACK_TEAM_ID', () => {
  it('refuses a correctly signed request from another workspace with 403 and changes nothing', async () => {
    h = await startHarness({ teamId: 'T0TEAM001' });
    const before = h.state();
    const foreign = commandBody(USERS.sre, GENERAL, '/incident', 'declare From elsewhere', 'T0OTHER99');
    const res = await h.send(foreign);
    expect(res.status).toBe(403);
    expect(h.state()).toEqual(before);
    const event = eventBody({ type: 'reaction_added', user: USERS.sre, reaction: 'pushpin', item: { type: 'message', channel: 'C0X', ts: '1.2' } }, 'T0OTHER99');
    expect((await h.send(event, 'application/json')).status).toBe(403);

    const home = await h.command(USERS.sre, GENERAL, '/incident', 'declare From home');
    expect(home.status).toBe(200);
    expect(json(home.body).text).toContain('INC-1 declared');
  });

  it('accepts every workspace of the Enterprise Grid organisation it names, and no other', async () => {
    h = await startHarness({ teamId: 'E0ORG0001' });
    const sibling = `${commandBody(USERS.sre, GENERAL, '/incident', 'declare From a sibling workspace', 'T0SISTER1')}&enterprise_id=E0ORG0001`;
    expect((await h.send(sibling)).status).toBe(200);
    const outside = `${commandBody(USERS.sre, GENERAL, '/incident', 'declare From outside', 'T0SISTER1')}&enterprise_id=E0OTHER01`;
    expect((await h.send(outside)).status).toBe(403);
    expect((await h.app.incidents.listOpen()).map((i) => i.title)).toEqual(['From a sibling workspace']);
  });
});

describe('slash commands', () => {
  it('acknowledges /incident declare well inside 3 s with the ephemeral answer', async () => {
    h = await startHarness();
    const res = await h.command(USERS.sre, GENERAL, '/incident', 'declare "Checkout 5xx after deploy" sev=2 service=checkout');
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(1_000);
    expect(res.headers['content-type']).toBe('application/json');
    expect(json(res.body)).toEqual({
      response_type: 'ephemeral',
      text: 'INC-1 declared (SEV2): Checkout 5xx after deploy. Channel #inc-1-checkout-5xx-after-deploy; you are the commander.',
    });
    const incident = await h.app.incidents.get('INC-1');
    expect(incident.declaredBy).toBe(USERS.sre);
    const declared = (await h.app.store.audit.recentForIncident('INC-1', 10)).find((e) => e.kind === 'incident.declared');
    expect(declared).toMatchObject({ actor: USERS.sre, source: 'slack' });
  });

  it('maps domain errors to clear ephemeral answers', async () => {
    h = await startHarness();
    const notIncident = json((await h.command(USERS.sre, GENERAL, '/incident', 'note hello')).body);
    expect(notIncident).toEqual({ response_type: 'ephemeral', text: '✗ this is not an incident channel; add incident=INC-7 to say which incident' });
    const missing = json((await h.command(USERS.sre, GENERAL, '/runbook', 'status R-99')).body);
    expect(missing.text).toMatch(/^✗ Not found: R-99 does not exist/);
    const refused = json((await h.command(USERS.stranger, GENERAL, '/incident', 'declare Let me in')).body);
    expect(refused.text).toMatch(/^⛔ Not allowed: /);
    expect(await h.app.incidents.listOpen()).toEqual([]);
  });

  it('reads the text as typed: Slack entities decoded, mentions kept as user IDs', async () => {
    h = await startHarness();
    await h.command(USERS.sre, GENERAL, '/incident', 'declare "Latency" sev=3');
    const res = await h.command(USERS.sre, GENERAL, '/incident', 'note incident=INC-1 p99 &gt; 2s &amp; rising, &lt;@U0DEV0001&gt; looking');
    expect(JSON.parse(res.body)).toMatchObject({ response_type: 'ephemeral' });
    const note = (await h.app.store.audit.recentForIncident('INC-1', 5)).find((e) => e.kind === 'incident.note');
    expect(note?.payload.text).toBe('p99 > 2s & rising, <@U0DEV0001> looking');
    const role = JSON.parse((await h.command(USERS.sre, GENERAL, '/incident', 'role scribe <@U0DEV0001|dev> incident=INC-1')).body) as { text: string };
    expect(role.text).not.toMatch(/^[✗⛔⚠]/);
    expect((await h.app.incidents.get('INC-1')).roles.scribe).toBe(USERS.dev);
  });

  it('acknowledges /oncall at once and answers through response_url (here: what it needs), changing nothing', async () => {
    h = await startHarness();
    const before = h.state();
    const res = await h.command(USERS.sre, GENERAL, '/oncall', 'checkout');
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect((await h.slack.waitForRespond(1)).body).toEqual({ response_type: 'ephemeral', replace_original: false, text: NO_PAGER_TEXT });
    expect(h.state()).toEqual(before);
  });
});

describe('acknowledging and stopping', () => {
  it('answers a request no listener acknowledges before Slack would give up', async () => {
    h = await startHarness({ unackedAfterMs: 100 });
    const res = await h.command(USERS.sre, GENERAL, '/nobody-listens', 'hello');
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.ms).toBeGreaterThanOrEqual(90);
  });

  it('on stop, refuses new requests and lets replies already under way finish', async () => {
    let now = Date.parse('2026-03-04T10:00:00Z');
    h = await startHarness({ clock: { now: () => now } });
    now += 20 * 60_000;
    const release = h.slack.hold('usergroups.users.list');
    // Groups unknown: acked at once, the answer waits for Slack.
    const res = await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "During shutdown" sev=3');
    expect(res.body).toBe('');
    await h.slack.waitForCount('usergroups.users.list', 3);

    let stopped = false;
    const stopping = h.stop().then(() => (stopped = true));
    const late = await post(h.eventsUrl, commandBody(USERS.sre, GENERAL, '/incident', 'declare Too late'), { 'content-type': FORM, ...signedHeaders('x') }).catch(
      (err: unknown) => (err as NodeJS.ErrnoException).code,
    );
    expect(late).toBe('ECONNREFUSED');
    expect(stopped).toBe(false);

    release();
    await stopping;
    expect(h.slack.responds).toHaveLength(1);
    expect(h.slack.responds[0]!.body.text).toContain('INC-1 declared');
    expect((await h.app.incidents.listOpen()).map((i) => i.title)).toEqual(['During shutdown']);
  });
});
