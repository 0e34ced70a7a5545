// PagerDuty both ways, on SQLite and on PostgreSQL: a triggered incident gets a channel, a diagnostic and a note back; acks made here go there, once.
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSlackClient } from '../../../src/adapters/slack/slack-client.js';
import { startSlackDelivery, type SlackDelivery } from '../../../src/adapters/slack/slack-delivery.js';
import type { CommandContext } from '../../../src/core/commands/command-context.js';
import { consoleText } from '../../../src/adapters/console/console-text.js';
import { describeEvent } from '../../../src/core/timeline/describe-event.js';
import type { Backend } from '../../../src/app.js';
import { createLogger } from '../../../src/log.js';
import { BACKEND_KINDS, type BackendKind } from '../../helpers/backends.js';
import { FakeSlack, SLACK_API_URL } from '../../fixtures/slack/fake-slack.js';
import { eventBody, FROM, incidentData, PD_API, SRE, startHarness, TOKEN, triggeredBody, type Harness } from './pd-harness.js';

interface PdCall {
  method: string;
  path: string;
  from: string | undefined;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

/** PagerDuty's REST API at the HTTP boundary: records each call with the headers that matter. */
class FakePagerDuty {
  readonly calls: PdCall[] = [];
  /** Answers for the next calls, in order; afterwards 200/201 with an echo of the resource. */
  readonly scripted: Array<[number, Record<string, unknown>, Record<string, string>?]> = [];

  install(): void {
    const calls = this.calls;
    const scripted = this.scripted;
    const scope = nock(PD_API).persist();
    const handler = (method: string) =>
      function (this: { req: { headers: Record<string, string | string[] | undefined> } }, uri: string, body: unknown) {
        const header = (name: string): string | undefined => {
          const v = this.req.headers[name];
          return Array.isArray(v) ? v[0] : v;
        };
        calls.push({ method, path: uri, from: header('from'), authorization: header('authorization'), body: (body ?? {}) as Record<string, unknown> });
        const next = scripted.shift();
        if (next) return next[2] ? [next[0], next[1], next[2]] : [next[0], next[1]];
        return [method === 'POST' ? 201 : 200, method === 'POST' ? { note: { id: 'PNOTE1' } } : { incident: { id: 'x' } }];
      };
    scope.post(/^\/incidents\/[^/]+\/notes$/).reply(handler('POST'));
    scope.put(/^\/incidents\/[^/]+$/).reply(handler('PUT'));
  }
}

let h: Harness<Backend> | undefined;
let slack: FakeSlack;
let pd: FakePagerDuty;
let slackDelivery: SlackDelivery | undefined;

beforeEach(() => {
  slack = new FakeSlack();
  slack.install();
  pd = new FakePagerDuty();
  pd.install();
});

afterEach(async () => {
  await slackDelivery?.stop();
  slackDelivery = undefined;
  await h?.close();
  h = undefined;
  slack.uninstall();
});

async function start(backend: BackendKind): Promise<Harness<Backend>> {
  const harness = await startHarness({ backend, token: true });
  const logger = createLogger({ level: 'silent' });
  const client = createSlackClient({ signingSecret: 's', botToken: 'xoxb-test', appToken: undefined, apiUrl: SLACK_API_URL, teamId: undefined }, logger);
  const delivery = startSlackDelivery({ app: harness.app, client, logger, perChannelIntervalMs: 0, idlePollMs: 50 });
  harness.app.onMessages(() => delivery.kick());
  slackDelivery = delivery;
  return harness;
}

/** Everything processed, every run ended, every message delivered to Slack and PagerDuty. */
async function quiet(h: Harness<Backend>): Promise<void> {
  await h.settle();
  await h.pd.drain();
  await slackDelivery!.drain();
}

const incidentTimeline = async (h: Harness<Backend>, id: string) =>
  (await h.app.incidents.timeline(id, 500)).map((e) => ({ kind: e.kind, actor: e.actor, text: consoleText(describeEvent(e)) }));

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('incident.triggered, end to end', () => {
    it('opens the incident and its Slack channel, runs the diagnostic, posts the result there and notes it on PagerDuty with From', async () => {
      h = await start(backend);
      expect((await h.deliver(triggeredBody('PSYNC1', { title: 'Checkout errors' }))).status).toBe(202);
      await quiet(h);

      const incident = await h.app.incidents.get('INC-1');
      const created = slack.callsTo('conversations.create');
      expect(created.map((c) => c.args.name)).toEqual(['inc-1-checkout-errors']);
      expect(incident.channelId).toBe('C0INC0001');
      // The result is a new message, or an edit of the run's start message when that went out first.
      const posts = [...slack.callsTo('chat.postMessage'), ...slack.callsTo('chat.update')].filter((c) => c.args.channel === 'C0INC0001');
      expect(posts.some((p) => /R-1 diag-echo \(staging\) succeeded/.test(p.args.text ?? ''))).toBe(true);

      expect(pd.calls).toHaveLength(1);
      const [note] = pd.calls;
      expect(note).toMatchObject({ method: 'POST', path: '/incidents/PSYNC1/notes', from: FROM, authorization: `Token token=${TOKEN}` });
      const content = (note!.body.note as { content: string }).content;
      expect(content).toMatch(
        /^\[edgeops\] R-1 diag-echo \(staging\) succeeded in \d+s — edgeops INC-1\n• record: succeeded \(exit 0, \d+s\)\nchecked PSYNC1$/,
      );

      // PagerDuty then tells us about the note: recognised as ours, not put on the timeline, fires nothing.
      await h.deliver(
        eventBody('incident.annotated', { id: 'PNOTE1', type: 'incident_note', content, incident: { id: 'PSYNC1' } }, { agent: 'edgeops bot' }),
      );
      await quiet(h);
      expect(await h.query("SELECT outcome FROM pagerduty_events WHERE event_type = 'incident.annotated'")).toEqual([
        { outcome: 'echo of an edgeops note' },
      ]);
      expect((await incidentTimeline(h, 'INC-1')).some((l) => l.kind === 'incident.annotated')).toBe(false);
    });
  });

  describe('acks and resolves', () => {
    it('from PagerDuty land on the timeline in order and are not sent back', async () => {
      h = await start(backend);
      await h.deliver(triggeredBody('PSYNC2'));
      await h.deliver(eventBody('incident.acknowledged', incidentData('PSYNC2'), { agent: 'Ada Oncall' }));
      await h.deliver(eventBody('incident.resolved', incidentData('PSYNC2', { status: 'resolved' }), { agent: 'Ada Oncall' }));
      await quiet(h);
      const kinds = (await incidentTimeline(h, 'INC-1')).filter((l) => l.kind.startsWith('incident.')).map((l) => l.text);
      expect(kinds).toEqual([
        expect.stringMatching(/^declared "Errors on Checkout API"/),
        'acknowledged on behalf of Ada Oncall',
        'resolved on behalf of Ada Oncall',
      ]);
      expect(pd.calls.filter((c) => c.method === 'PUT')).toEqual([]);
      expect((await h.app.incidents.get('INC-1')).status).toBe('resolved');
    });

    it('made here are sent to PagerDuty (with From), and their webhook echo is not recorded twice', async () => {
      h = await start(backend);
      await h.deliver(triggeredBody('PSYNC3'));
      await quiet(h);
      const channelId = (await h.app.incidents.get('INC-1')).channelId;
      const sre: CommandContext = { actor: { id: SRE, groups: [] }, source: 'slack', channelId };

      expect((await h.app.handle(sre, '/incident', 'ack')).text).toContain('INC-1 acknowledged');
      await quiet(h);
      const ack = pd.calls.find((c) => c.method === 'PUT');
      expect(ack).toMatchObject({ path: '/incidents/PSYNC3', from: FROM, body: { incident: { type: 'incident_reference', status: 'acknowledged' } } });
      // PagerDuty's webhook for the change edgeops made, by the From user.
      await h.deliver(
        eventBody('incident.acknowledged', incidentData('PSYNC3', { status: 'acknowledged' }), { agent: 'edgeops bot', agentId: 'PBOT001' }),
      );

      expect((await h.app.handle(sre, '/incident', 'resolve rolled back the deploy')).text).toContain('INC-1 resolved');
      await quiet(h);
      const resolve = pd.calls.filter((c) => c.method === 'PUT')[1];
      expect(resolve).toMatchObject({
        path: '/incidents/PSYNC3',
        from: FROM,
        body: { incident: { type: 'incident_reference', status: 'resolved', resolution: 'rolled back the deploy' } },
      });
      await h.deliver(eventBody('incident.resolved', incidentData('PSYNC3', { status: 'resolved' }), { agent: 'edgeops bot', agentId: 'PBOT001' }));
      await quiet(h);

      const lines = (await incidentTimeline(h, 'INC-1')).filter((l) => l.kind === 'incident.acknowledged' || l.kind === 'incident.resolved');
      expect(lines).toEqual([
        { kind: 'incident.acknowledged', actor: SRE, text: 'acknowledged' },
        { kind: 'incident.resolved', actor: SRE, text: 'resolved: rolled back the deploy' },
      ]);
      expect(
        await h.query(
          "SELECT event_type, outcome FROM pagerduty_events WHERE event_type IN ('incident.acknowledged', 'incident.resolved') ORDER BY received_seq",
        ),
      ).toEqual([
        { event_type: 'incident.acknowledged', outcome: 'unchanged' },
        { event_type: 'incident.resolved', outcome: 'unchanged' },
      ]);
      expect(pd.calls.filter((c) => c.method === 'PUT')).toHaveLength(2);
    });

    it('a write PagerDuty refuses for good is recorded as delivery.failed; a rate limit waits as asked', async () => {
      h = await start(backend);
      await h.deliver(triggeredBody('PSYNC4'));
      await quiet(h);
      const channelId = (await h.app.incidents.get('INC-1')).channelId;
      const sre: CommandContext = { actor: { id: SRE, groups: [] }, source: 'slack', channelId };

      pd.scripted.push([429, { error: { message: 'Rate Limit Exceeded', code: 2020 } }, { 'Retry-After': '7' }]);
      pd.scripted.push([429, { error: { message: 'Rate Limit Exceeded', code: 2020 } }, { 'Retry-After': '7' }]);
      pd.scripted.push([429, { error: { message: 'Rate Limit Exceeded', code: 2020 } }, { 'Retry-After': '7' }]);
      pd.scripted.push([429, { error: { message: 'Rate Limit Exceeded', code: 2020 } }, { 'Retry-After': '7' }]);
      const before = Date.now();
      await h.app.handle(sre, '/incident', 'ack');
      await quiet(h);
      const [waiting] = await h.query<{ state: string; next_attempt_at: number; last_error: string }>(
        "SELECT state, next_attempt_at, last_error FROM outbox WHERE target = 'pagerduty' AND body LIKE '%acknowledge%'",
      );
      expect(waiting!.state).toBe('pending');
      expect(waiting!.next_attempt_at - before).toBeGreaterThanOrEqual(7_000);
      expect(waiting!.last_error).toContain('rate limited');
      // pdjs retries a 429 three times itself (immediately, as configured) before handing the last one back.
      expect(pd.calls.filter((c) => c.method === 'PUT')).toHaveLength(4);

      // The next write of this incident waits behind it; another incident's write is refused for good.
      await h.deliver(triggeredBody('PSYNC5', { title: 'Other' }));
      await quiet(h);
      pd.scripted.push([404, { error: { message: 'Incident Not Found', code: 2100 } }]);
      await h.app.handle({ ...sre, channelId: (await h.app.incidents.get('INC-2')).channelId }, '/incident', 'ack');
      await quiet(h);
      const failed = await h.query<{ kind: string; incident_id: string; payload: string }>(
        "SELECT kind, incident_id, payload FROM audit_log WHERE kind = 'delivery.failed'",
      );
      expect(failed).toHaveLength(1);
      expect(failed[0]!.incident_id).toBeNull();
      expect(JSON.parse(failed[0]!.payload)).toMatchObject({
        target: 'pagerduty',
        channel: 'pagerduty:PSYNC5',
        message_kind: 'pagerduty.acknowledge',
        error: expect.stringContaining('404'),
      });
    });
  });
});
