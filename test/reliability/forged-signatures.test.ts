// Forged signatures at volume: thousands of generated forgeries against the served routes; every one 401, the database untouched.
import { createHash, createHmac } from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { slackSignature } from '../../src/adapters/slack/verify-signature.js';
import { parsePrometheus } from '../helpers/prometheus.js';
import { PACKAGE_ROOT } from '../helpers/run-cli.js';
import { FORM, SIGNING_SECRET, clickBody, commandBody, post, type SlackResponse } from '../fixtures/slack/slack-harness.js';
import { eventBody, incidentData } from '../integration/pagerduty/pd-harness.js';
import { AUDIT_KEY, PAGERDUTY_OLD_SECRET, PAGERDUTY_SECRET, startServe, type Served } from './slack-serve.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'canary');
const OPERATOR = 'U0CANARY1';
const GENERAL = 'C0GENERAL1';
const SLACK_FORGERIES = 1_200;
const PAGERDUTY_FORGERIES = 1_200;
/** Requests in flight at once, each on a fresh connection. */
const PARALLEL = 16;
/** The server's signature clock is pinned here, so "301 s away" is exactly that when it checks. */
const NOW = Date.now();
const NOW_S = Math.floor(NOW / 1000);

interface Forgery {
  kind: string;
  body: string | Buffer;
  headers: Record<string, string | string[]>;
}

const HEX = '0123456789abcdef';
const hex64 = fc.string({ unit: fc.constantFrom(...HEX.split('')), minLength: 64, maxLength: 64 });
/** Printable header-safe text, for secrets and malformed values. */
const printable = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Replaces the hex character at `at` (mod length, after `from`) with a different one. */
function flipHexChar(value: string, from: number, at: number, shift: number): string {
  const i = from + (at % (value.length - from));
  const next = HEX[(HEX.indexOf(value[i]!) + 1 + (shift % 15)) % 16]!;
  return value.slice(0, i) + next + value.slice(i + 1);
}

function flipByte(body: string, at: number, mask: number): Buffer {
  const bytes = Buffer.from(body);
  bytes[at % bytes.length]! ^= mask;
  return bytes;
}

/** What a refused request must leave exactly as it was. */
async function snapshot(s: Served) {
  const all = (sql: string): unknown[] => s.app.store.db.prepare(sql).all();
  return {
    head: await s.app.store.audit.head(),
    audit: all('SELECT seq, hash FROM audit_log ORDER BY seq'),
    outbox: all('SELECT * FROM outbox ORDER BY id'),
    pagerdutyEvents: all('SELECT * FROM pagerduty_events ORDER BY received_seq'),
    incidents: all('SELECT * FROM incidents ORDER BY number'),
    runs: all('SELECT id, state FROM runs ORDER BY id'),
  };
}

/** Nothing left to process or deliver: the state a barrage starts from. */
async function settle(s: Served): Promise<void> {
  const unfinished = (): number =>
    (
      s.app.store.db
        .prepare(
          "SELECT (SELECT count(*) FROM pagerduty_events WHERE state IN ('pending', 'applied')) + (SELECT count(*) FROM outbox WHERE state = 'pending') AS n",
        )
        .get() as { n: number }
    ).n;
  await vi.waitFor(
    async () => {
      await s.server.drain();
      await s.app.runs.idle();
      if (unfinished() > 0) throw new Error('events or messages still in flight');
    },
    { timeout: 10_000, interval: 20 },
  );
}

/** Sends every forgery, PARALLEL at a time, and returns each answer beside what was sent. */
async function fire(url: string, forgeries: Forgery[], contentType: string): Promise<Array<{ forgery: Forgery; res: SlackResponse }>> {
  const answers: Array<{ forgery: Forgery; res: SlackResponse }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < forgeries.length) {
        const forgery = forgeries[next++]!;
        answers.push({ forgery, res: await post(url, forgery.body, { 'content-type': contentType, ...forgery.headers }) });
      }
    }),
  );
  return answers;
}

const countBy = (kinds: string[]): string =>
  [...kinds.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>())].map(([k, n]) => `${k} ${n}`).join(', ');

// ---- Slack ----

const slackBody = fc.oneof(
  printable(60).map((title) => commandBody(OPERATOR, GENERAL, '/incident', `declare ${title || 'Forged'} sev=1`)),
  fc.constantFrom('list', 'timeline', 'resolve forged', 'note forged').map((text) => commandBody(OPERATOR, GENERAL, '/incident', text)),
  fc.constantFrom('run leak-canary', 'list', 'approve R-1').map((text) => commandBody(OPERATOR, GENERAL, '/runbook', text)),
  fc.constantFrom('run_approve', 'run_deny').map((action) => clickBody(OPERATOR, GENERAL, action, 'R-1')),
);

const ts = (s: number): string => String(s);
const signed = (body: string, at: number = NOW_S, secret: string = SIGNING_SECRET): Record<string, string> => ({
  'x-slack-request-timestamp': ts(at),
  'x-slack-signature': slackSignature(secret, ts(at), body),
});

const slackForgery: fc.Arbitrary<Forgery> = fc.oneof(
  fc.record({ body: slackBody, at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }).map(({ body, at, mask }) => ({
    kind: 'flipped body byte',
    body: flipByte(body, at, mask),
    headers: signed(body),
  })),
  fc.record({ body: slackBody, at: fc.nat(), shift: fc.nat() }).map(({ body, at, shift }) => {
    const h = signed(body);
    return { kind: 'flipped signature character', body, headers: { ...h, 'x-slack-signature': flipHexChar(h['x-slack-signature']!, 3, at, shift) } };
  }),
  fc.record({ body: slackBody, delta: fc.integer({ min: -300, max: 300 }).filter((d) => d !== 0) }).map(({ body, delta }) => ({
    kind: 'timestamp changed after signing',
    body,
    headers: { ...signed(body), 'x-slack-request-timestamp': ts(NOW_S + delta) },
  })),
  fc
    .record({
      body: slackBody,
      secret: fc.oneof(
        printable(64).filter((s) => s.length > 0 && s !== SIGNING_SECRET),
        fc.constantFrom(
          SIGNING_SECRET.slice(0, -1),
          `${SIGNING_SECRET}x`,
          SIGNING_SECRET.toUpperCase(),
          ` ${SIGNING_SECRET}`,
          PAGERDUTY_SECRET,
          AUDIT_KEY,
          '',
        ),
      ),
    })
    .map(({ body, secret }) => ({ kind: 'wrong secret', body, headers: signed(body, NOW_S, secret) })),
  fc
    .record({ body: slackBody, by: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: NOW_S - 301 })) })
    .map(({ body, by }) => ({ kind: 'stale (over 300 s old)', body, headers: signed(body, NOW_S - 301 - by) })),
  fc
    .record({ body: slackBody, by: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 10 ** 11 })) })
    .map(({ body, by }) => ({ kind: 'future (over 300 s ahead)', body, headers: signed(body, NOW_S + 301 + by) })),
  fc.record({ body: slackBody, which: fc.constantFrom('signature', 'timestamp', 'both', 'empty signature', 'empty timestamp') }).map(({ body, which }) => {
    const h = signed(body);
    const headers: Record<string, string> =
      which === 'signature'
        ? { 'x-slack-request-timestamp': h['x-slack-request-timestamp']! }
        : which === 'timestamp'
          ? { 'x-slack-signature': h['x-slack-signature']! }
          : which === 'both'
            ? {}
            : which === 'empty signature'
              ? { ...h, 'x-slack-signature': '' }
              : { ...h, 'x-slack-request-timestamp': '' };
    return { kind: 'missing header', body, headers };
  }),
  fc
    .record({ body: slackBody, which: fc.constantFrom('signature', 'timestamp', 'both'), twice: fc.boolean(), other: hex64 })
    .map(({ body, which, twice, other }) => {
      const h = signed(body);
      const sig = h['x-slack-signature']!;
      const stamp = h['x-slack-request-timestamp']!;
      const headers: Record<string, string | string[]> =
        which === 'signature'
          ? { ...h, 'x-slack-signature': [sig, twice ? sig : `v0=${other}`] }
          : which === 'timestamp'
            ? { ...h, 'x-slack-request-timestamp': [stamp, stamp] }
            : { 'x-slack-signature': [sig, sig], 'x-slack-request-timestamp': [stamp, stamp] };
      return { kind: 'duplicate header', body, headers };
    }),
  fc
    .record({
      body: slackBody,
      sig: fc.oneof(
        hex64.map((h) => `v0=${h}`),
        printable(80),
        fc.constantFrom('v0=', 'v0', 'v1=', '='),
      ),
    })
    .map(({ body, sig }) => ({ kind: 'random signature', body, headers: { ...signed(body), 'x-slack-signature': sig } })),
  fc.record({ body: slackBody, form: fc.constantFrom('v1=', 'upper', 'short', 'long', 'bare', 'unprefixed-base') }).map(({ body, form }) => {
    const right = signed(body)['x-slack-signature']!;
    const digest = right.slice(3);
    const sig = {
      'v1=': `v1=${digest}`,
      upper: `v0=${digest.toUpperCase()}`,
      short: right.slice(0, -1),
      long: `${right}0`,
      bare: digest,
      'unprefixed-base': slackSignature(SIGNING_SECRET, '', body),
    }[form];
    return { kind: 'right digest, wrong form', body, headers: { ...signed(body), 'x-slack-signature': sig } };
  }),
  fc
    .record({ signedOne: slackBody, sent: slackBody })
    .filter(({ signedOne, sent }) => signedOne !== sent)
    .map(({ signedOne, sent }) => ({
      kind: 'signature of another body',
      body: sent,
      headers: signed(signedOne),
    })),
);

// ---- PagerDuty ----

const PD_TYPES = ['incident.triggered', 'incident.acknowledged', 'incident.resolved', 'pagey.ping'] as const;
/** The genuine event stored before the barrage: forged redeliveries of it must not be answered as duplicates either. */
const GENUINE_EVENT_ID = 'a3f1c0de-0000-4000-8000-000000000001';

const pdBody = fc
  .record({ type: fc.constantFrom(...PD_TYPES), pd: fc.stringMatching(/^P[A-Z0-9]{6}$/), id: fc.oneof(fc.uuid(), fc.constant(GENUINE_EVENT_ID)) })
  .map(({ type, pd, id }) =>
    type === 'pagey.ping'
      ? eventBody(type, { type: 'ping', message: 'Hello from your friend Pagey!' }, { id })
      : eventBody(type, incidentData(pd), { id }),
  );

const hmac = (secret: string, body: string | Buffer, algorithm = 'sha256'): string => createHmac(algorithm, secret).update(body).digest('hex');
const otherSecret = fc.oneof(
  printable(48).filter((s) => s !== PAGERDUTY_SECRET && s !== PAGERDUTY_OLD_SECRET),
  fc.constantFrom(
    PAGERDUTY_SECRET.slice(0, -1),
    `${PAGERDUTY_SECRET}x`,
    PAGERDUTY_SECRET.toUpperCase(),
    PAGERDUTY_OLD_SECRET.slice(1),
    SIGNING_SECRET,
    AUDIT_KEY,
    '',
  ),
);

const pagerdutyForgery: fc.Arbitrary<Forgery> = fc.oneof(
  fc.record({ body: pdBody, secrets: fc.array(otherSecret, { minLength: 1, maxLength: 3 }) }).map(({ body, secrets }) => ({
    kind: 'only wrong v1=',
    body,
    headers: { 'x-pagerduty-signature': secrets.map((s) => `v1=${hmac(s, body)}`).join(',') },
  })),
  fc.record({ body: pdBody, prefix: fc.constantFrom('v2=', 'v0=', 'V1=', 'v1:', 'v1 =', 'sha256=', '') }).map(({ body, prefix }) => ({
    kind: 'right digest, not as v1=',
    body,
    headers: { 'x-pagerduty-signature': `${prefix}${hmac(PAGERDUTY_SECRET, body)}` },
  })),
  fc.record({ body: pdBody, value: fc.constantFrom('', ' ', ',', 'v1=', 'v1=,v1=', ' , ') }).map(({ body, value }) => ({
    kind: 'empty',
    body,
    headers: { 'x-pagerduty-signature': value },
  })),
  pdBody.map((body) => ({ kind: 'missing', body, headers: {} })),
  fc
    .record({ body: pdBody, keep: fc.integer({ min: 0, max: 63 }), secret: fc.constantFrom(PAGERDUTY_SECRET, PAGERDUTY_OLD_SECRET) })
    .map(({ body, keep, secret }) => ({
      kind: 'truncated',
      body,
      headers: { 'x-pagerduty-signature': `v1=${hmac(secret, body).slice(0, keep)}` },
    })),
  fc.record({ body: pdBody, secret: otherSecret, extra: fc.constantFrom('v1', 'v2') }).map(({ body, secret, extra }) => ({
    kind: 'other secrets',
    body,
    // A rotation-shaped header, every entry wrong (the right digest appears only under v2=).
    headers: {
      'x-pagerduty-signature': `v1=${hmac(secret, body)},${extra === 'v2' ? `v2=${hmac(PAGERDUTY_SECRET, body)}` : `v1=${hmac(`${secret}!`, body)}`}`,
    },
  })),
  fc.record({ body: pdBody, algorithm: fc.constantFrom('sha1', 'sha512', 'md5', 'sha256-unkeyed') }).map(({ body, algorithm }) => ({
    kind: 'other digest',
    body,
    headers: {
      'x-pagerduty-signature': `v1=${algorithm === 'sha256-unkeyed' ? createHash('sha256').update(body).digest('hex') : hmac(PAGERDUTY_SECRET, body, algorithm)}`,
    },
  })),
  fc.record({ body: pdBody, at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }).map(({ body, at, mask }) => ({
    kind: 'flipped body byte',
    body: flipByte(body, at, mask),
    headers: { 'x-pagerduty-signature': `v1=${hmac(PAGERDUTY_SECRET, body)}` },
  })),
  fc.record({ body: pdBody, at: fc.nat(), shift: fc.nat() }).map(({ body, at, shift }) => ({
    kind: 'flipped digest character',
    body,
    headers: { 'x-pagerduty-signature': flipHexChar(`v1=${hmac(PAGERDUTY_SECRET, body)}`, 3, at, shift) },
  })),
  fc.record({ body: pdBody, sigs: fc.array(hex64, { minLength: 1, maxLength: 4 }) }).map(({ body, sigs }) => ({
    kind: 'random',
    body,
    headers: { 'x-pagerduty-signature': sigs.map((s) => `v1=${s}`).join(', ') },
  })),
  fc.record({ body: pdBody, a: otherSecret, b: otherSecret }).map(({ body, a, b }) => ({
    kind: 'two wrong headers',
    body,
    headers: { 'x-pagerduty-signature': [`v1=${hmac(a, body)}`, `v1=${hmac(b, body)}`] },
  })),
);

describe('forged signatures at volume, against the served routes', () => {
  let s: Served;

  beforeAll(async () => {
    s = await startServe({ catalog: CATALOG, now: () => NOW });
    // Genuine traffic first, so there is something to protect and the accepting path is shown to work.
    const declare = commandBody(OPERATOR, GENERAL, '/incident', 'declare Genuine incident sev=2');
    const declared = await post(s.eventsUrl, declare, { 'content-type': FORM, ...signed(declare) });
    expect(declared.status).toBe(200);
    expect(declared.body).toContain('INC-1 declared');
    const triggered = eventBody('incident.triggered', incidentData('PGENUIN'), { id: GENUINE_EVENT_ID });
    const stored = await post(s.webhookUrl, triggered, {
      'content-type': 'application/json',
      'x-pagerduty-signature': `v1=${hmac(PAGERDUTY_OLD_SECRET, triggered)}`,
    });
    expect(stored.status).toBe(202);
    await settle(s);
    expect((await s.app.incidents.listOpen()).map((i) => i.id)).toEqual(['INC-1', 'INC-2']);
  });

  afterAll(async () => s.close());

  it(`answers 401 to ${SLACK_FORGERIES} generated Slack forgeries and changes nothing`, async () => {
    const forgeries = fc.sample(slackForgery, { numRuns: SLACK_FORGERIES, seed: 20261201 });
    const before = await snapshot(s);
    const apiCalls = s.slack.calls.length;
    const responds = s.slack.responds.length;
    const refusalsLogged = (): number => s.logLines().filter((l) => l.includes('"slack request refused"') && l.includes('"status":401')).length;
    const loggedBefore = refusalsLogged();

    const answers = await fire(s.eventsUrl, forgeries, FORM);

    const accepted = answers.filter((a) => a.res.status !== 401);
    expect(accepted.map((a) => `${a.forgery.kind}: ${a.res.status} ${a.res.body}`)).toEqual([]);
    for (const { res } of answers) expect(JSON.parse(res.body)).toEqual({ error: 'invalid signature' });
    expect(await snapshot(s)).toEqual(before);
    expect(s.slack.calls.length).toBe(apiCalls);
    expect(s.slack.responds.length).toBe(responds);
    expect(refusalsLogged() - loggedBefore).toBe(SLACK_FORGERIES);
    const metrics = parsePrometheus(await (await fetch(`${s.baseUrl}/metrics`)).text());
    expect(metrics.get('edgeops_http_requests_total{route="/slack/events",method="POST",status="401"}')).toBe(SLACK_FORGERIES);

    // The same server still takes what Slack did sign.
    const genuine = commandBody(OPERATOR, GENERAL, '/incident', 'declare Still listening sev=4');
    const after = await post(s.eventsUrl, genuine, { 'content-type': FORM, ...signed(genuine) });
    expect(after.status).toBe(200);
    expect(after.body).toContain('INC-3 declared');
    await settle(s);

    console.info(
      `forged Slack requests: ${answers.length} sent, ${accepted.length} accepted, ${answers.filter((a) => a.res.status === 401).length} answered 401; database unchanged (audit head seq ${before.head.seq}); ${countBy(forgeries.map((f) => f.kind))}`,
    );
  });

  it(`answers 401 to ${PAGERDUTY_FORGERIES} generated PagerDuty forgeries and changes nothing`, async () => {
    const forgeries = fc.sample(pagerdutyForgery, { numRuns: PAGERDUTY_FORGERIES, seed: 20261202 });
    const before = await snapshot(s);
    const rejectedBefore =
      parsePrometheus(await (await fetch(`${s.baseUrl}/metrics`)).text()).get('edgeops_webhook_deliveries_total{outcome="rejected"}') ?? 0;

    const answers = await fire(s.webhookUrl, forgeries, 'application/json');

    const accepted = answers.filter((a) => a.res.status !== 401);
    expect(accepted.map((a) => `${a.forgery.kind}: ${a.res.status} ${a.res.body}`)).toEqual([]);
    for (const { res } of answers) expect(JSON.parse(res.body)).toEqual({ error: 'invalid signature' });
    expect(await snapshot(s)).toEqual(before);
    const metrics = parsePrometheus(await (await fetch(`${s.baseUrl}/metrics`)).text());
    expect(metrics.get('edgeops_webhook_deliveries_total{outcome="rejected"}')! - rejectedBefore).toBe(PAGERDUTY_FORGERIES);
    expect(metrics.get('edgeops_webhook_deliveries_total{outcome="accepted"}')).toBe(1);

    // A genuine delivery under the current secret is still stored.
    const genuine = eventBody('pagey.ping', { type: 'ping', message: 'Hello from your friend Pagey!' });
    const after = await post(s.webhookUrl, genuine, {
      'content-type': 'application/json',
      'x-pagerduty-signature': `v1=${hmac(PAGERDUTY_SECRET, genuine)}`,
    });
    expect(after.status).toBe(202);
    expect((await s.app.store.audit.head()).seq).toBe(before.head.seq + 1);

    console.info(
      `forged PagerDuty webhooks: ${answers.length} sent, ${accepted.length} accepted, ${answers.filter((a) => a.res.status === 401).length} answered 401; database unchanged (audit head seq ${before.head.seq}, ${before.pagerdutyEvents.length} event stored); ${countBy(forgeries.map((f) => f.kind))}`,
    );
  });
});
