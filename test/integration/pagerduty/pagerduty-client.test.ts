// The REST wrapper against PagerDuty at the HTTP boundary: every failure is a typed error or a retry, never a success.
import { createServer, type AddressInfo } from 'node:net';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPagerdutyClient, PagerdutyUnavailableError, retryAfterMs } from '../../../src/adapters/pagerduty/pagerduty-client.js';
import { createPagerdutyDeliverer } from '../../../src/adapters/pagerduty/pagerduty-delivery.js';
import type { OutboxItem } from '../../../src/core/outbox/outbox.js';
import { InputError, NotAllowedError, NotFoundError, UnavailableError } from '../../../src/errors.js';

const API = 'http://pagerduty.test';
const client = (over: Partial<Parameters<typeof createPagerdutyClient>[0]> = {}) =>
  createPagerdutyClient({ apiUrl: API, token: 'tok-123', from: 'bot@example.com', timeoutMs: 300, ...over });

beforeEach(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

const caught = async (p: Promise<unknown>): Promise<Error> => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the call succeeded');
};

describe('reads', () => {
  it('sends the token and PagerDuty’s Accept header, builds the query, and parses the answer', async () => {
    const scope = nock(API, { reqheaders: { authorization: 'Token token=tok-123', accept: 'application/vnd.pagerduty+json;version=2' } })
      .get('/oncalls')
      .query({ limit: '100', earliest: 'true', 'escalation_policy_ids[]': ['PEP1', 'PEP2'] })
      .reply(200, {
        oncalls: [
          {
            escalation_policy: { id: 'PEP1', summary: 'Checkout EP' },
            escalation_level: 1,
            user: { id: 'PU1', summary: 'Alice' },
            schedule: { id: 'PS1', summary: 'Primary' },
            end: '2026-05-01T17:00:00Z',
          },
        ],
        limit: 100,
        more: false,
      });
    expect(await client().oncalls(['PEP1', 'PEP2'])).toEqual([
      {
        escalationPolicy: { id: 'PEP1', name: 'Checkout EP' },
        level: 1,
        user: { id: 'PU1', name: 'Alice' },
        schedule: 'Primary',
        until: '2026-05-01T17:00:00Z',
      },
    ]);
    expect(scope.isDone()).toBe(true);
  });

  it('honours a base URL with a path (a proxy, or the EU API behind one) and sends no From on reads', async () => {
    const scope = nock(API, { badheaders: ['from'] })
      .get('/eu/services')
      .query({ query: 'checkout', limit: '25' })
      .reply(200, { services: [{ id: 'PS1', name: 'Checkout', escalation_policy: { id: 'PEP1', summary: 'EP' } }] });
    expect(await client({ apiUrl: `${API}/eu/` }).findServices('checkout')).toEqual([
      { id: 'PS1', name: 'Checkout', escalationPolicy: { id: 'PEP1', name: 'EP' } },
    ]);
    expect(scope.isDone()).toBe(true);
  });

  it('404 → NotFoundError; 401 → NotAllowedError; 400 → InputError, each with PagerDuty’s words', async () => {
    nock(API)
      .get('/services')
      .query(true)
      .reply(404, { error: { message: 'Not Found', code: 2100 } });
    const notFound = await caught(client().findServices('x'));
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound.message).toBe('PagerDuty answered 404 to GET /services: Not Found');
    nock(API)
      .get('/services')
      .query(true)
      .reply(401, { error: { message: 'Unauthorized', code: 2006 } });
    const refused = await caught(client().findServices('x'));
    expect(refused).toBeInstanceOf(NotAllowedError);
    expect(refused.message).toContain('PAGERDUTY_API_TOKEN');
    nock(API)
      .get('/services')
      .query(true)
      .reply(400, { error: { message: 'Invalid Input Provided', errors: ['Limit must be at most 100'] } });
    const bad = await caught(client().findServices('x'));
    expect(bad).toBeInstanceOf(InputError);
    expect(bad.message).toBe('PagerDuty answered 400 to GET /services: Invalid Input Provided; Limit must be at most 100');
  });

  it('429 → an UnavailableError carrying Retry-After, without waiting pdjs’s 20 s', async () => {
    nock(API)
      .get('/services')
      .query(true)
      .times(4)
      .reply(429, { error: { message: 'Rate Limit Exceeded' } }, { 'Retry-After': '12' });
    const started = Date.now();
    const err = await caught(client({ timeoutMs: 5_000 }).findServices('x'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(PagerdutyUnavailableError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 12_000 });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('500 and an HTML error page → UnavailableError (retried later), with the status', async () => {
    nock(API)
      .get('/services')
      .query(true)
      .reply(500, { error: { message: 'Internal Server Error' } });
    expect(await caught(client().findServices('x'))).toMatchObject({ name: 'PagerdutyUnavailableError', status: 500, retryAfterMs: null });
    nock(API).get('/services').query(true).reply(502, '<html>Bad Gateway</html>', { 'content-type': 'text/html' });
    const html = await caught(client().findServices('x'));
    expect(html).toBeInstanceOf(UnavailableError);
    expect(html.message).toBe('PagerDuty answered 502 to GET /services');
  });

  it('a 200 whose body is not JSON, or not the expected shape, is an error, not an empty success', async () => {
    nock(API).get('/services').query(true).reply(200, '{"services": [', { 'content-type': 'application/json' });
    const garbled = await caught(client().findServices('x'));
    expect(garbled).toBeInstanceOf(UnavailableError);
    expect(garbled.message).toBe('PagerDuty answered 200 to GET /services with a body that is not JSON');
    nock(API).get('/services').query(true).reply(200, { servicez: [] });
    expect(await caught(client().findServices('x'))).toMatchObject({ name: 'PagerdutyUnavailableError', status: 200 });
  });

  it('a timeout aborts the request and says so', async () => {
    nock(API).get('/services').query(true).delay(2_000).reply(200, { services: [] });
    const started = Date.now();
    const err = await caught(client({ timeoutMs: 200 }).findServices('x'));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(err).toMatchObject({ name: 'PagerdutyUnavailableError', timedOut: true, message: 'PagerDuty did not answer GET /services within 0.2 s' });
  });

  it('a network failure (nothing listening) is an UnavailableError', async () => {
    // A port that was just free: connecting to it is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    nock.enableNetConnect('127.0.0.1');
    const err = await caught(client({ apiUrl: `http://127.0.0.1:${port}`, timeoutMs: 5_000 }).findServices('x'));
    expect(err).toMatchObject({ name: 'PagerdutyUnavailableError', status: null, timedOut: false });
    expect(err.message).toMatch(/^cannot reach PagerDuty for GET \/services: .*ECONNREFUSED/);
  });
});

describe('writes', () => {
  it('send From and the body PagerDuty expects', async () => {
    const scope = nock(API, { reqheaders: { from: 'bot@example.com', 'content-type': /application\/json/ } })
      .post('/incidents/PINC1/notes', { note: { content: 'hello' } })
      .reply(201, { note: { id: 'PN1', content: 'hello' } })
      .put('/incidents/PINC1', { incident: { type: 'incident_reference', status: 'resolved', resolution: 'fixed' } })
      .reply(200, { incident: { id: 'PINC1', status: 'resolved' } });
    await client().addNote('PINC1', 'hello');
    await client().setStatus('PINC1', 'resolved', 'fixed');
    expect(scope.isDone()).toBe(true);
  });

  it('are refused before sending anything without PAGERDUTY_FROM', async () => {
    const err = await caught(client({ from: undefined }).addNote('PINC1', 'hello'));
    expect(err).toBeInstanceOf(NotAllowedError);
    expect(err.message).toContain('PAGERDUTY_FROM');
  });
});

describe('the PagerDuty delivery maps outcomes for the outbox', () => {
  const item = (body: Record<string, unknown>): OutboxItem => ({
    id: 1,
    causeSeq: 1,
    target: 'pagerduty',
    channel: 'pagerduty:PINC1',
    body,
    attempts: 0,
    nextAttemptAt: 0,
    createdAt: 0,
  });
  const deliver = createPagerdutyDeliverer(client());

  it('sent, retry after Retry-After, transient, permanent', async () => {
    nock(API).post('/incidents/PINC1/notes').reply(201, { note: {} });
    expect(await deliver(item({ action: 'note', incident: 'PINC1', content: 'x' }))).toEqual({ kind: 'sent' });
    nock(API).put('/incidents/PINC1').times(4).reply(429, {}, { 'Retry-After': '3' });
    expect(await deliver(item({ action: 'acknowledge', incident: 'PINC1' }))).toMatchObject({ kind: 'retry', afterMs: 3_000 });
    nock(API).put('/incidents/PINC1').reply(503, {});
    expect(await deliver(item({ action: 'acknowledge', incident: 'PINC1' }))).toMatchObject({ kind: 'transient' });
    nock(API)
      .put('/incidents/PINC1')
      .reply(400, { error: { message: 'Incident Already Resolved' } });
    expect(await deliver(item({ action: 'resolve', incident: 'PINC1', resolution: null }))).toMatchObject({
      kind: 'permanent',
      error: expect.stringContaining('Incident Already Resolved'),
    });
    expect(await deliver(item({ action: 'explode', incident: 'PINC1' }))).toMatchObject({ kind: 'permanent' });
  });
});

describe('retryAfterMs', () => {
  const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n] ?? null });
  it('reads seconds, an HTTP date, PagerDuty’s ratelimit-reset, and falls back to 30 s', () => {
    expect(retryAfterMs(headers({ 'retry-after': '5' }))).toBe(5_000);
    expect(retryAfterMs(headers({ 'retry-after': 'Fri, 01 May 2026 09:00:10 GMT' }), Date.parse('2026-05-01T09:00:00Z'))).toBe(10_000);
    expect(retryAfterMs(headers({ 'ratelimit-reset': '42' }))).toBe(42_000);
    expect(retryAfterMs(headers({}))).toBe(30_000);
  });
});
