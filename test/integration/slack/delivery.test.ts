// Slack delivery end to end against real SQLite and a nock Slack: channels, order, pacing, 429, outages, failures, uploads.
import Database from 'better-sqlite3';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSlackClient } from '../../../src/adapters/slack/slack-client.js';
import { startSlackDelivery, suffixedChannelName, type SlackDelivery } from '../../../src/adapters/slack/slack-delivery.js';
import type { ComposedApp as App } from '../../../src/app.js';
import type { By } from '../../../src/core/ports.js';
import { createLogger } from '../../../src/log.js';
import { FakeTime } from '../../fixtures/slack-delivery/fake-time.js';
import { fakeSlack, isolateNetwork, multipartFile, restoreNetwork, SLACK_CONFIG, SLACK_BASE, type SlackAnswer, type SlackCall } from '../../fixtures/slack/fake-slack.js';
import { runCli } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { makeRunFixture, type RunFixture } from '../runs/run-fixture.js';

const DEV: By = { actor: { id: 'U0DEV0001', groups: [] }, source: 'slack' };
const SRE: By = { actor: { id: 'U0SRE0001', groups: [] }, source: 'slack' };

let fx: RunFixture;
let app: App;
let time: FakeTime;
let delivery: SlackDelivery | undefined;

beforeEach(() => {
  isolateNetwork();
  fx = makeRunFixture(makeTempDir('slack-delivery'));
  app = fx.app;
  time = new FakeTime(fx.now);
});

afterEach(async () => {
  await delivery?.stop();
  delivery = undefined;
  app.close();
  restoreNetwork();
  removeTempDirs();
});

function start(options: { random?: () => number; concurrency?: number; timeoutMs?: number } = {}): SlackDelivery {
  delivery = startSlackDelivery({
    app,
    client: createSlackClient(SLACK_CONFIG, app.logger, { timeoutMs: options.timeoutMs ?? 2_000 }),
    logger: createLogger({ level: 'silent' }),
    clock: time.clock,
    sleep: time.sleep,
    random: options.random ?? (() => 0.5),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  return delivery;
}

/** Queues a message for a raw channel, caused by an audit row, as the core does. */
async function queue(channel: string, text: string): Promise<number> {
  return await app.store.transaction(async () => {
    const event = await app.store.audit.append({ actor: 'system', source: 'system', kind: 'test.queued', payload: { text } });
    return await app.store.outbox.enqueue({ causeSeq: event.seq, target: 'slack', channel, body: { kind: 'test.message', text } });
  });
}

/** Runs delivery as an idle process would: deliver what is due, then wait for the next deadline. */
async function runUntilIdle(d: SlackDelivery, maxSteps = 2_000): Promise<void> {
  for (let i = 0; i < maxSteps; i += 1) {
    await d.drain();
    if ((await app.store.outbox.depth('slack')) === 0) return;
    if (!(await time.advanceToNextDeadline())) throw new Error('nothing left to wait for, yet messages are pending');
  }
  throw new Error(`still ${await app.store.outbox.depth('slack')} pending after ${maxSteps} steps`);
}

const outboxRows = (): Array<{ id: number; state: string; attempts: number; last_error: string | null }> => {
  const db = new Database(fx.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT id, state, attempts, last_error FROM outbox ORDER BY id').all() as Array<{ id: number; state: string; attempts: number; last_error: string | null }>;
  } finally {
    db.close();
  }
};

interface AuditRow {
  actor: string;
  source: string;
  incident_id: string | null;
  payload: string;
}

const deliveryFailures = (): AuditRow[] => {
  const db = new Database(fx.dbPath, { readonly: true });
  try {
    return db.prepare("SELECT actor, source, incident_id, payload FROM audit_log WHERE kind = 'delivery.failed' ORDER BY seq").all() as AuditRow[];
  } finally {
    db.close();
  }
};

const blocksOf = (call: SlackCall): unknown[] => JSON.parse(call.args.blocks ?? '[]') as unknown[];

describe('an incident channel', () => {
  it('is created on declare (a taken name gets a suffix), the caller invited, the topic set, the summary posted and pinned', async () => {
    const slack = fakeSlack(time.clock.now, (call) =>
      call.method === 'conversations.create' && call.args.name === 'inc-1-checkout-errors' ? { body: { ok: false, error: 'name_taken' } } : undefined,
    );
    const incident = await app.incidents.declare(DEV, { title: 'Checkout errors', severity: 2, service: 'checkout' });
    await app.incidents.note(DEV, incident.id, 'first note');
    const d = start();
    await runUntilIdle(d);
    await time.advance(5_000);
    await app.incidents.update(SRE, incident.id, { text: 'rolled back', status: 'identified' });
    d.kick();
    await runUntilIdle(d);

    expect(slack.calls.map((c) => c.method)).toEqual([
      'conversations.create',
      'conversations.create',
      'conversations.invite',
      'conversations.setTopic',
      'chat.postMessage',
      'pins.add',
      'chat.postMessage',
      'conversations.setTopic',
      'chat.postMessage',
    ]);
    const [taken, created, invite, topic, summary, pin] = slack.calls;
    expect(taken!.args).toMatchObject({ name: 'inc-1-checkout-errors', is_private: 'false' });
    expect(created!.args).toMatchObject({ name: 'inc-1-checkout-errors-2', is_private: 'false' });
    const channel = 'C0NEW2';
    expect((await app.incidents.get(incident.id)).channelId).toBe(channel);
    expect(invite!.args).toMatchObject({ channel, users: 'U0DEV0001' });
    expect(topic!.args).toMatchObject({ channel, topic: 'SEV2 · investigating · commander <@U0DEV0001> · service checkout' });
    expect(summary!.args.channel).toBe(channel);
    expect(summary!.args.text).toBe('INC-1 declared by <@U0DEV0001>: Checkout errors');
    expect(JSON.stringify(blocksOf(summary!))).toContain('*Severity*\\nSEV2');
    expect(pin!.args).toMatchObject({ channel, timestamp: '1700000000.000005' });
    // Later messages go to the created channel, in order; the summary and the first note go out as one burst.
    const posts = slack.callsTo('chat.postMessage');
    expect(posts.map((c) => c.args.channel)).toEqual([channel, channel, channel]);
    expect(posts[1]!.args.text).toBe('<@U0DEV0001> note: first note');
    expect(posts[2]!.args.text).toBe('<@U0SRE0001> status update [identified]: rolled back');
    expect(posts[1]!.at - posts[0]!.at).toBe(0);
    // The topic follows the status; the note did not touch it.
    expect(slack.callsTo('conversations.setTopic')[1]!.args.topic).toBe('SEV2 · identified · commander <@U0DEV0001> · service checkout');
  });

  it('is private when declared --private, and role holders are invited when assigned', async () => {
    const slack = fakeSlack(time.clock.now, (call) =>
      call.method === 'conversations.invite' && call.args.users === 'U0DEV0001' ? { body: { ok: false, error: 'already_in_channel' } } : undefined,
    );
    const incident = await app.incidents.declare(DEV, { title: 'Secret thing', private: true });
    await app.incidents.assignRole(DEV, incident.id, 'comms', 'U0SRE0002');
    await runUntilIdle(start());
    expect(slack.callsTo('conversations.create')[0]!.args).toMatchObject({ name: 'inc-1-secret-thing', is_private: 'true' });
    expect(slack.callsTo('conversations.invite').map((c) => c.args.users)).toEqual(['U0DEV0001', 'U0SRE0002']);
    expect(slack.callsTo('chat.postMessage')).toHaveLength(2);
    expect(await app.store.outbox.depth()).toBe(0);
  });

  it('keeps suffixed names within 80 characters', () => {
    const base = `inc-12-${'a'.repeat(73)}`;
    expect(base).toHaveLength(80);
    expect(suffixedChannelName(base, 1)).toBe(base);
    expect(suffixedChannelName(base, 2)).toHaveLength(80);
    expect(suffixedChannelName(base, 2).endsWith('a-2')).toBe(true);
    expect(suffixedChannelName('inc-3-x-', 12)).toBe('inc-3-x-12');
  });
});

describe('ordering and pacing', () => {
  it('delivers each channel in order, a burst of three then one message per second, and two channels in parallel', async () => {
    const slack = fakeSlack(time.clock.now);
    for (let i = 1; i <= 5; i += 1) {
      await queue('C0AAA', `a${i}`);
      await queue('C0BBB', `b${i}`);
    }
    const t0 = time.now.value;
    const d = start();
    await d.drain();
    // Both channels' first three went out at once (Slack allows a short burst), not one channel after the other.
    expect(slack.posted().sort()).toEqual(['C0AAA: a1', 'C0AAA: a2', 'C0AAA: a3', 'C0BBB: b1', 'C0BBB: b2', 'C0BBB: b3']);
    await time.advance(999);
    await d.drain();
    expect(slack.posted()).toHaveLength(6);
    await time.advance(1);
    await d.drain();
    expect(slack.posted().slice(6).sort()).toEqual(['C0AAA: a4', 'C0BBB: b4']);
    await runUntilIdle(d);
    const at = (channel: string) => slack.callsTo('chat.postMessage').filter((c) => c.args.channel === channel);
    expect(at('C0AAA').map((c) => c.args.text)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(at('C0BBB').map((c) => c.args.text)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5']);
    expect(at('C0AAA').map((c) => c.at - t0)).toEqual([0, 0, 0, 1000, 2000]);
    expect(at('C0BBB').map((c) => c.at - t0)).toEqual([0, 0, 0, 1000, 2000]);
  });

  it('waits out a 429 Retry-After: nothing of that channel before the deadline, everything after, in order', async () => {
    const t0 = time.now.value;
    const limitedUntil = t0 + 30_000;
    const slack = fakeSlack(time.clock.now, (call): SlackAnswer | undefined =>
      call.method === 'chat.postMessage' && call.args.channel === 'C0AAA' && call.at < limitedUntil
        ? { status: 429, headers: { 'retry-after': String(Math.ceil((limitedUntil - call.at) / 1000)) }, body: { ok: false, error: 'ratelimited' } }
        : undefined,
    );
    for (let i = 1; i <= 4; i += 1) await queue('C0AAA', `a${i}`);
    await queue('C0BBB', 'b1');
    const d = start();
    await d.drain();
    // a1 was refused with 429; the other channel is not held back.
    expect(slack.posted()).toEqual(['C0AAA: a1', 'C0BBB: b1']);
    expect(outboxRows().map((r) => r.state)).toEqual(['pending', 'pending', 'pending', 'pending', 'sent']);
    await time.advanceTo(limitedUntil - 1);
    await d.drain();
    const beforeDeadline = slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0AAA');
    expect(beforeDeadline).toHaveLength(1);
    await runUntilIdle(d);
    const aCalls = slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0AAA');
    expect(aCalls.map((c) => c.args.text)).toEqual(['a1', 'a1', 'a2', 'a3', 'a4']);
    expect(aCalls[1]!.at).toBe(limitedUntil);
    expect(aCalls.slice(1).every((c) => c.at >= limitedUntil)).toBe(true);
    expect(outboxRows().every((r) => r.state === 'sent')).toBe(true);
  });

  it('rides out five minutes of 500s with backoff, losing nothing and keeping the order', async () => {
    const t0 = time.now.value;
    const outageEnd = t0 + 5 * 60_000;
    const slack = fakeSlack(time.clock.now, (call) => (call.at < outageEnd ? { status: 500, body: { ok: false } } : undefined));
    for (let i = 1; i <= 5; i += 1) await queue('C0AAA', `m${i}`);
    // random() = 1: the full step each time, so the schedule is exact: 1 s, 2 s, 4 s … doubling.
    await runUntilIdle(start({ random: () => 1 }));

    const calls = slack.callsTo('chat.postMessage');
    const failed = calls.filter((c) => c.at < outageEnd);
    expect(failed.map((c) => (c.at - t0) / 1000)).toEqual([0, 1, 3, 7, 15, 31, 63, 127, 255]);
    expect(failed.every((c) => c.args.text === 'm1')).toBe(true);
    const delivered = calls.filter((c) => c.at >= outageEnd);
    expect(delivered.map((c) => c.args.text)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    // The failed calls were spread out, so the bucket is full again: a burst of three, then one a second.
    expect(delivered.map((c) => (c.at - t0) / 1000)).toEqual([511, 511, 511, 512, 513]);
    const rows = outboxRows();
    expect(rows.map((r) => r.state)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    expect(rows[0]!.attempts).toBe(10);
  });

  it('retries a dropped connection, a hung call and a Slack internal_error, then delivers', async () => {
    const scope = nock(SLACK_BASE)
      .post('/api/chat.postMessage')
      .replyWithError({ code: 'ECONNRESET', message: 'socket hang up' })
      .post('/api/chat.postMessage')
      .delay(1_000)
      .reply(200, { ok: true, ts: '1.1' })
      .post('/api/chat.postMessage')
      .reply(200, { ok: false, error: 'internal_error' })
      .post('/api/chat.postMessage')
      .reply(200, { ok: true, ts: '1.2' });
    await queue('C0AAA', 'persistent');
    await runUntilIdle(start({ timeoutMs: 100 }));
    expect(scope.isDone()).toBe(true);
    const rows = outboxRows();
    expect(rows[0]).toMatchObject({ state: 'sent', attempts: 4 });
  });

  it('caps the backoff at five minutes however long the outage lasts', async () => {
    const t0 = time.now.value;
    const outageEnd = t0 + 60 * 60_000;
    const slack = fakeSlack(time.clock.now, (call) => (call.at < outageEnd ? { status: 503, body: { ok: false } } : undefined));
    await queue('C0AAA', 'only');
    await runUntilIdle(start({ random: () => 1 }));
    const gaps = slack.callsTo('chat.postMessage').map((c, i, all) => (i === 0 ? 0 : c.at - all[i - 1]!.at));
    expect(Math.max(...gaps)).toBe(5 * 60_000);
    expect(slack.callsTo('chat.postMessage').at(-1)!.at).toBeGreaterThanOrEqual(outageEnd);
    expect(slack.callsTo('chat.postMessage').length).toBeLessThan(25);
  });
});

describe('a message Slack will never take', () => {
  it('is recorded as delivery.failed, not retried, and the channel carries on', async () => {
    const slack = fakeSlack(time.clock.now, (call) =>
      call.method === 'chat.postMessage' && call.args.text === 'doomed' ? { body: { ok: false, error: 'channel_not_found' } } : undefined,
    );
    await queue('C0GONE', 'doomed');
    await queue('C0GONE', 'next');
    const d = start();
    await runUntilIdle(d);
    await time.advance(60 * 60_000);
    await d.drain();
    expect(slack.posted()).toEqual(['C0GONE: doomed', 'C0GONE: next']);
    const rows = outboxRows();
    expect(rows.map((r) => [r.state, r.attempts, r.last_error])).toEqual([
      ['failed', 1, 'channel_not_found'],
      ['sent', 1, null],
    ]);
    const failures = deliveryFailures();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ actor: 'system', source: 'system', incident_id: null });
    expect(JSON.parse(failures[0]!.payload)).toMatchObject({ channel: 'C0GONE', error: 'channel_not_found', message_kind: 'test.message', target: 'slack' });
    expect((await app.store.audit.verify()).ok).toBe(true);
  });

  it('is linked to its incident on the audit log when the incident channel is archived', async () => {
    const slack = fakeSlack(time.clock.now, (call) =>
      call.method === 'chat.postMessage' && call.args.text?.includes('too late') ? { body: { ok: false, error: 'is_archived' } } : undefined,
    );
    const incident = await app.incidents.declare(DEV, { title: 'Archived' });
    await app.incidents.note(DEV, incident.id, 'too late');
    await app.incidents.note(DEV, incident.id, 'after');
    await runUntilIdle(start());
    expect(slack.callsTo('chat.postMessage').map((c) => c.args.text)).toEqual([
      'INC-1 declared by <@U0DEV0001>: Archived',
      '<@U0DEV0001> note: too late',
      '<@U0DEV0001> note: after',
    ]);
    const failures = deliveryFailures();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ actor: 'system', source: 'system', incident_id: incident.id });
    expect(JSON.parse(failures[0]!.payload)).toMatchObject({ error: 'is_archived', channel: 'incident:INC-1', message_kind: 'incident.note' });
    expect((await app.incidents.timeline(incident.id, 10)).map((e) => e.kind)).toContain('delivery.failed');
  });

  it('joins a public channel it is not in, once, and posts', async () => {
    let joined = false;
    const slack = fakeSlack(time.clock.now, (call) => {
      if (call.method === 'conversations.join') joined = true;
      return call.method === 'chat.postMessage' && !joined ? { body: { ok: false, error: 'not_in_channel' } } : undefined;
    });
    await queue('C0PUBLIC', 'hello');
    await runUntilIdle(start());
    expect(slack.calls.map((c) => c.method)).toEqual(['chat.postMessage', 'conversations.join', 'chat.postMessage']);
    expect(outboxRows()[0]!.state).toBe('sent');
  });
});

describe('transcript export', () => {
  it('uploads with files.uploadV2 exactly what `edgeops export` writes', async () => {
    const slack = fakeSlack(time.clock.now);
    const incident = await app.incidents.declare(DEV, { title: 'Export me', severity: 2 });
    await app.incidents.note(DEV, incident.id, 'a note with <!channel> & friends');
    await app.incidents.resolve(DEV, incident.id, 'fixed it');
    await app.incidents.requestExport(DEV, incident.id, 'md');
    await app.incidents.requestExport(DEV, incident.id, 'json');
    await runUntilIdle(start());

    const urls = slack.callsTo('files.getUploadURLExternal');
    expect(urls.map((c) => c.args.filename)).toEqual(['INC-1.md', 'INC-1.json']);
    const complete = slack.callsTo('files.completeUploadExternal');
    expect(complete).toHaveLength(2);
    expect(complete[0]!.args.channel_id).toBe('C0NEW1');
    expect(JSON.parse(complete[0]!.args.files!)).toEqual([{ id: expect.any(String), title: 'INC-1 transcript (md)' }]);
    expect(slack.uploads).toHaveLength(2);

    const env = { EDGEOPS_DB: fx.dbPath, EDGEOPS_AUDIT_KEY: 'a'.repeat(64) };
    for (const [i, format] of (['md', 'json'] as const).entries()) {
      const cli = await runCli(['export', 'INC-1', '--format', format], { env, cwd: fx.dir });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain('INC-1');
      expect(multipartFile(slack.uploads[i]!.body)).toBe(cli.stdout);
      expect(Number(urls[i]!.args.length)).toBe(Buffer.byteLength(cli.stdout));
    }
  });
});
