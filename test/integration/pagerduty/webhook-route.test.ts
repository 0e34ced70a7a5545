// POST /webhooks/pagerduty on the real server, on SQLite and on PostgreSQL: refusals change nothing; valid events are stored once and answered 202.
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/app.js';
import { BACKEND_KINDS } from '../../helpers/backends.js';
import { eventBody, harnessEnv, incidentData, OLD_SECRET, post, sign, startHarness, triggeredBody, type Harness } from './pd-harness.js';

let h: Harness<Backend> | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** What a refused request must leave as it was. */
const state = async (h: Harness<Backend>) => ({
  auditSeq: (await h.app.store.audit.head()).seq,
  events: (await h.query<{ n: number }>('SELECT COUNT(*) AS n FROM pagerduty_events'))[0]!.n,
  incidents: (await h.app.incidents.listOpen()).length,
});

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('POST /webhooks/pagerduty refusals', () => {
    it('401 for a missing, wrong, v2-only or wrong-secret signature, with nothing stored', async () => {
      h = await startHarness({ backend, start: false });
      const body = triggeredBody('PREFUSE1');
      const before = await state(h);
      const variants: Array<[string, Record<string, string>]> = [
        ['no signature', {}],
        ['an empty signature', { 'x-pagerduty-signature': '' }],
        ['a wrong signature', { 'x-pagerduty-signature': `v1=${'0'.repeat(64)}` }],
        ['a v2 signature with the right digest', { 'x-pagerduty-signature': sign(body).replace('v1=', 'v2=') }],
        ['another secret', { 'x-pagerduty-signature': sign(body, 'not-our-secret') }],
      ];
      for (const [what, headers] of variants) {
        const res = await post(h.webhookUrl, body, headers);
        expect(res.status, what).toBe(401);
        expect(JSON.parse(res.body), what).toEqual({ error: 'invalid signature' });
      }
      // A byte changed after signing.
      const tampered = body.replace('Errors', 'errors');
      expect((await post(h.webhookUrl, tampered, { 'x-pagerduty-signature': sign(body) })).status).toBe(401);
      expect(await state(h)).toEqual(before);
    });

    it('413 for a body over 2 MB, 400 for one that is not JSON or not a V3 event; nothing stored', async () => {
      h = await startHarness({ backend, start: false });
      const before = await state(h);
      const big = JSON.stringify({ event: { id: 'x', event_type: 'incident.triggered', data: { pad: 'x'.repeat(2 * 1024 * 1024) } } });
      expect((await post(h.webhookUrl, big, { 'x-pagerduty-signature': sign(big) })).status).toBe(413);
      for (const body of ['{not json', '[]', '{"event":{"id":"x"}}', eventBody('incident.triggered', { title: 'no id' })]) {
        const res = await post(h.webhookUrl, body, { 'x-pagerduty-signature': sign(body) });
        expect(res.status, body).toBe(400);
      }
      expect(await state(h)).toEqual(before);
    });

    it('503 when no secret is configured, whatever is sent', async () => {
      h = await startHarness({ backend, start: false, secrets: '' });
      expect(harnessEnv(h.dir, { secrets: '' }).PAGERDUTY_WEBHOOK_SECRETS).toBe('');
      const body = triggeredBody('PNOCONF1');
      const res = await post(h.webhookUrl, body, { 'x-pagerduty-signature': sign(body) });
      expect(res.status).toBe(503);
      expect((JSON.parse(res.body) as { error: string }).error).toContain('PAGERDUTY_WEBHOOK_SECRETS');
      expect((await state(h)).events).toBe(0);
    });
  });

  describe('POST /webhooks/pagerduty acceptance', () => {
    it('202 for a valid event: stored with its audit row and X-Webhook-Id before the answer; processed after', async () => {
      h = await startHarness({ backend, start: false });
      const body = triggeredBody('PSTORE1', { id: 'evt-store-1' });
      const res = await h.deliver(body, { 'x-webhook-id': 'wh-1' });
      expect(res.status).toBe(202);
      expect(JSON.parse(res.body)).toEqual({ status: 'accepted', event: 'evt-store-1' });
      const [stored] = await h.query<Record<string, unknown>>('SELECT * FROM pagerduty_events');
      expect(stored).toMatchObject({
        event_id: 'evt-store-1',
        webhook_id: 'wh-1',
        event_type: 'incident.triggered',
        pd_incident_id: 'PSTORE1',
        state: 'pending',
        body,
      });
      const receipt = (await h.app.store.audit.bySeq(stored!.received_seq as number))!;
      expect(receipt).toMatchObject({ kind: 'pagerduty.incident.triggered', actor: 'pagerduty:Checkout API', source: 'pagerduty' });
      expect(receipt.payload).toMatchObject({ event_id: 'evt-store-1', webhook_id: 'wh-1', agent: 'Ada Oncall', ignored: false });
      // Processing had not started (no worker): the answer did not wait for it.
      expect(await h.app.incidents.listOpen()).toEqual([]);
      h.pd.start();
      await h.settle();
      expect((await h.app.incidents.listOpen()).map((i) => i.pagerdutyId)).toEqual(['PSTORE1']);
    });

    it('accepts a signature under the older secret of a rotation', async () => {
      h = await startHarness({ backend, start: false });
      const body = triggeredBody('PROTATE1');
      expect((await post(h.webhookUrl, body, { 'x-pagerduty-signature': `${sign(body, 'stale')},${sign(body, OLD_SECRET)}` })).status).toBe(202);
    });

    it('a redelivery (same event id, or same X-Webhook-Id) answers 2xx and changes nothing', async () => {
      h = await startHarness({ backend, start: false });
      const body = triggeredBody('PDUP1', { id: 'evt-dup-1' });
      expect((await h.deliver(body, { 'x-webhook-id': 'wh-dup' })).status).toBe(202);
      const before = await state(h);
      const again = await h.deliver(body, { 'x-webhook-id': 'wh-dup' });
      expect(again.status).toBe(200);
      expect(JSON.parse(again.body)).toEqual({ status: 'duplicate', event: 'evt-dup-1' });
      expect((await h.deliver(body)).status).toBe(200);
      // Same delivery id, body re-serialised with another event id: still the same webhook.
      expect((await h.deliver(triggeredBody('PDUP1', { id: 'evt-dup-2' }), { 'x-webhook-id': 'wh-dup' })).status).toBe(200);
      expect(await state(h)).toEqual(before);
    });

    it('records pagey.ping, and records unknown event types as ignored', async () => {
      h = await startHarness({ backend, start: false });
      const ping = eventBody('pagey.ping', { message: 'Hello from your friend Pagey!', type: 'ping' }, { id: 'evt-ping', agent: null });
      expect((await h.deliver(ping)).status).toBe(202);
      const unknown = eventBody('service.updated', { id: 'PSVC', type: 'service', summary: 'x' }, { id: 'evt-svc' });
      expect((await h.deliver(unknown)).status).toBe(202);
      const responder = eventBody('incident.responder.added', { incident: { id: 'PR1' }, user: { id: 'PU' } }, { id: 'evt-resp' });
      expect((await h.deliver(responder)).status).toBe(202);
      expect(await h.query('SELECT event_id, state, outcome FROM pagerduty_events ORDER BY received_seq')).toEqual([
        { event_id: 'evt-ping', state: 'processed', outcome: 'ping' },
        { event_id: 'evt-svc', state: 'ignored', outcome: 'unhandled event type' },
        { event_id: 'evt-resp', state: 'ignored', outcome: 'unhandled event type' },
      ]);
      const kinds = await h.query<{ kind: string; actor: string }>("SELECT kind, actor FROM audit_log WHERE kind LIKE 'pagerduty.%' ORDER BY seq");
      expect(kinds).toEqual([
        { kind: 'pagerduty.pagey.ping', actor: 'pagerduty' },
        { kind: 'pagerduty.service.updated', actor: 'pagerduty' },
        { kind: 'pagerduty.incident.responder.added', actor: 'pagerduty' },
      ]);
      h.pd.start();
      await h.settle();
      expect(await h.app.incidents.listOpen()).toEqual([]);
    });

    it('answers well inside PagerDuty’s 5 s', async () => {
      h = await startHarness({ backend });
      const started = performance.now();
      const res = await h.deliver(eventBody('incident.triggered', incidentData('PFAST1')));
      expect(res.status).toBe(202);
      expect(performance.now() - started).toBeLessThan(1_000);
    });
  });
});
