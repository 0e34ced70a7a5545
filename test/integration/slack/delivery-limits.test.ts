// Slack delivery at Slack's limits, against a fake Web API that enforces them: bursts, backlogs, 429 pauses, restarts, in-place results.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSlackClient } from '../../../src/adapters/slack/slack-client.js';
import { startSlackDelivery, type SlackDelivery } from '../../../src/adapters/slack/slack-delivery.js';
import type { ComposedApp as App } from '../../../src/app.js';
import type { By } from '../../../src/core/ports.js';
import { createLogger } from '../../../src/log.js';
import { FakeTime } from '../../fixtures/slack-delivery/fake-time.js';
import { fakeSlack, isolateNetwork, restoreNetwork, SLACK_CONFIG, type FakeSlack, type SlackCall } from '../../fixtures/slack/fake-slack.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { makeRunFixture, type RunFixture } from '../runs/run-fixture.js';

const DEV: By = { actor: { id: 'U0DEV0001', groups: [] }, source: 'slack' };

let dir: string;
let fx: RunFixture;
let app: App;
let time: FakeTime;
let delivery: SlackDelivery | undefined;

beforeEach(() => {
  isolateNetwork();
  dir = makeTempDir('slack-limits');
  fx = makeRunFixture(dir);
  app = fx.app;
  time = new FakeTime(fx.now);
});

afterEach(async () => {
  await delivery?.stop();
  delivery = undefined;
  await app.runs.idle();
  app.close();
  restoreNetwork();
  removeTempDirs();
});

function start(): SlackDelivery {
  delivery = startSlackDelivery({
    app,
    client: createSlackClient(SLACK_CONFIG, app.logger, { timeoutMs: 2_000 }),
    logger: createLogger({ level: 'silent' }),
    clock: time.clock,
    sleep: time.sleep,
    random: () => 0.5,
  });
  return delivery;
}

async function queue(channel: string, text: string): Promise<void> {
  await app.store.transaction(async () => {
    const event = await app.store.audit.append({ actor: 'system', source: 'system', kind: 'test.queued', payload: { text } });
    await app.store.outbox.enqueue({ causeSeq: event.seq, target: 'slack', channel, body: { kind: 'test.message', text } });
  });
}

/** Delivers as an idle process would: what is due, then wait for the next deadline; stops early when `until` holds. */
async function runUntilIdle(d: SlackDelivery, until: () => boolean = () => false, maxSteps = 5_000): Promise<void> {
  for (let i = 0; i < maxSteps; i += 1) {
    await d.drain();
    if (until() || (await app.store.outbox.depth('slack')) === 0) return;
    if (!(await time.advanceToNextDeadline())) throw new Error('nothing left to wait for, yet messages are pending');
  }
  throw new Error(`still ${await app.store.outbox.depth('slack')} pending after ${maxSteps} steps`);
}

/**
 * Lets `ms` of fake time pass as a running process would live it: time never jumps past a deadline
 * while a call is on its way (the fake would see it arrive later than it was sent).
 */
async function runFor(d: SlackDelivery, ms: number): Promise<void> {
  const target = time.now.value + ms;
  for (;;) {
    await d.drain();
    const next = time.nextDeadline();
    if (next === undefined || next > target) break;
    await time.advanceTo(next);
  }
  await time.advanceTo(target);
  await d.drain();
}

const posts = (slack: FakeSlack, channel?: string): SlackCall[] =>
  slack.callsTo('chat.postMessage').filter((c) => channel === undefined || c.args.channel === channel);
const texts = (calls: SlackCall[]): string[] => calls.map((c) => c.args.text ?? '');

describe('a busy incident channel', () => {
  it('gets a run result within 2 s of the run ending even with 2,000 notes queued ahead of it', async () => {
    const slack = fakeSlack(time.clock.now, undefined, { enforceLimits: true });
    const incident = await app.incidents.declare(DEV, { title: 'Noisy' });
    await app.store.transaction(async () => {
      for (let i = 1; i <= 2_000; i += 1) await app.incidents.note(DEV, incident.id, `note-${i}`);
    });
    const d = start();
    await runFor(d, 10_000);
    const channel = (await app.incidents.get(incident.id)).channelId!;
    const notesBefore = posts(slack, channel).length;
    // The summary, a burst of notes, then one a second: far from the 2,000.
    expect(notesBefore).toBeGreaterThanOrEqual(12);
    expect(notesBefore).toBeLessThanOrEqual(14);

    const requested = await app.runs.request(DEV, { procedure: 'echo-args', params: { msg: 'disk ok' }, environment: 'staging', incidentId: incident.id });
    if (requested.kind !== 'run') throw new Error('expected a run');
    await requested.done;
    const endedAt = time.now.value;
    const isResult = (c: SlackCall): boolean => /R-1 echo-args \(staging\) succeeded/.test(c.args.text ?? '');
    d.kick();
    await runUntilIdle(d, () => posts(slack).some(isResult));

    const after = posts(slack, channel).slice(notesBefore);
    const result = after.findIndex(isResult);
    expect(result).toBeGreaterThanOrEqual(0);
    // At most the note already in its turn went first; the result never waits behind the backlog.
    expect(result).toBeLessThanOrEqual(1);
    expect(after[result]!.at - endedAt).toBeLessThanOrEqual(2_000);
    expect(after[result]!.args.blocks).toContain('recorded 1 arguments');
    // The notes carry on after it, in the order they were written.
    await runFor(d, 20_000);
    const notes = texts(posts(slack, channel)).filter((t) => t.includes('note: note-'));
    expect(notes).toEqual(notes.map((_, i) => `<@U0DEV0001> note: note-${i + 1}`));
    expect(slack.limits!.refused).toEqual({});
  });

  it('keeps posting into one channel to one message a second after a burst of three, with no 429', async () => {
    const slack = fakeSlack(time.clock.now, undefined, { enforceLimits: true });
    for (let i = 1; i <= 40; i += 1) await queue('C0BUSY', `m${i}`);
    const t0 = time.now.value;
    await runUntilIdle(start());
    const at = posts(slack, 'C0BUSY').map((c) => c.at - t0);
    expect(texts(posts(slack, 'C0BUSY'))).toEqual(Array.from({ length: 40 }, (_, i) => `m${i + 1}`));
    expect(at.slice(0, 3)).toEqual([0, 0, 0]);
    expect(at.slice(3)).toEqual(Array.from({ length: 37 }, (_, i) => (i + 1) * 1000));
    // No ten-second window holds more than ten messages plus the opening burst.
    for (const startAt of at) expect(at.filter((t) => t >= startAt && t < startAt + 10_000).length).toBeLessThanOrEqual(12);
    expect(slack.limits!.refused).toEqual({});
  });
});

describe('a 429 from Slack', () => {
  it('with Retry-After: 3 pauses chat.postMessage for the workspace for 3 s and loses nothing', async () => {
    let refusedOnce = false;
    const slack = fakeSlack(time.clock.now, (call) => {
      if (call.method !== 'chat.postMessage' || refusedOnce) return undefined;
      refusedOnce = true;
      return { status: 429, headers: { 'retry-after': '3' }, body: { ok: false, error: 'ratelimited' } };
    });
    for (let i = 1; i <= 3; i += 1) await queue('C0AAA', `a${i}`);
    for (let i = 1; i <= 2; i += 1) await queue('C0BBB', `b${i}`);
    const t0 = time.now.value;
    const d = start();
    await d.drain();
    // a1 was refused; b1 was already on its way and went through.
    expect(texts(posts(slack))).toEqual(['a1', 'b1']);
    await time.advanceTo(t0 + 2_999);
    await d.drain();
    // Nothing was posted anywhere during the pause, though C0BBB's own bucket had room.
    expect(posts(slack)).toHaveLength(2);
    await runUntilIdle(d);
    expect(texts(posts(slack, 'C0AAA'))).toEqual(['a1', 'a1', 'a2', 'a3']);
    expect(texts(posts(slack, 'C0BBB'))).toEqual(['b1', 'b2']);
    expect(posts(slack).slice(2).every((c) => c.at >= t0 + 3_000)).toBe(true);
    expect(posts(slack, 'C0AAA')[1]!.at).toBe(t0 + 3_000);
    const rows = app.store.db.prepare('SELECT state FROM outbox ORDER BY id').all() as Array<{ state: string }>;
    expect(rows.every((r) => r.state === 'sent')).toBe(true);
    expect(rows).toHaveLength(5);
  });
});

describe('priorities', () => {
  it('sends status changes before routine notes, keeps the order within each kind, and keeps it across a restart', async () => {
    const slack = fakeSlack(time.clock.now, undefined, { enforceLimits: true });
    const incident = await app.incidents.declare(DEV, { title: 'Ordered' });
    await app.incidents.note(DEV, incident.id, 'n1');
    await app.incidents.update(DEV, incident.id, { text: 'u1' });
    await app.incidents.note(DEV, incident.id, 'n2');
    await app.incidents.note(DEV, incident.id, 'n3');
    await app.incidents.update(DEV, incident.id, { text: 'u2' });
    await app.incidents.note(DEV, incident.id, 'n4');
    await app.incidents.update(DEV, incident.id, { text: 'u3' });
    await app.incidents.note(DEV, incident.id, 'n5');
    await start().drain();
    const firstLife = texts(posts(slack));
    expect(firstLife).toHaveLength(3);

    // Restart: a new process on the same database, some seconds later.
    await delivery!.stop();
    delivery = undefined;
    app.close();
    const now = time.now.value + 3_000;
    fx = makeRunFixture(dir);
    fx.now.value = now;
    app = fx.app;
    time = new FakeTime(fx.now);
    restoreNetwork();
    isolateNetwork();
    const again = fakeSlack(time.clock.now, undefined, { enforceLimits: true });
    await app.incidents.note(DEV, incident.id, 'n6');
    await runUntilIdle(start());

    const all = [...firstLife, ...texts(posts(again))].map((t) => t.replace(/^<@U0DEV0001> (note|status update): /, ''));
    expect(all).toEqual(['INC-1 declared by <@U0DEV0001>: Ordered', 'u1', 'u2', 'u3', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
    expect(again.limits!.refused).toEqual({});
  });
});

describe('a burst of new incidents', () => {
  it('opens 20 incidents at once without exceeding any of Slack\'s limits, and delivers everything', async () => {
    const slack = fakeSlack(time.clock.now, undefined, { enforceLimits: true });
    const t0 = time.now.value;
    for (let i = 1; i <= 20; i += 1) {
      const incident = await app.incidents.declare(DEV, { title: `Outage ${i}` });
      await app.incidents.update(DEV, incident.id, { text: `looking ${i}` });
      await app.incidents.note(DEV, incident.id, `note ${i}`);
      await app.incidents.note(DEV, incident.id, `more ${i}`);
    }
    await runUntilIdle(start());
    expect(slack.limits!.refused).toEqual({});
    expect(slack.callsTo('conversations.create')).toHaveLength(20);
    expect(slack.callsTo('pins.add')).toHaveLength(20);
    // Every channel was made and its summary posted in the first burst.
    expect(slack.callsTo('conversations.create').every((c) => c.at === t0)).toBe(true);
    const summaries = posts(slack).filter((c) => /^INC-\d+ declared by/.test(c.args.text ?? ''));
    expect(summaries.map((c) => c.at - t0)).toEqual(Array.from({ length: 20 }, () => 0));
    for (let i = 1; i <= 20; i += 1) {
      const channel = (await app.incidents.get(`INC-${i}`)).channelId!;
      expect(texts(posts(slack, channel)).map((t) => t.replace(/^<@U0DEV0001> (note|status update): /, ''))).toEqual([
        `INC-${i} declared by <@U0DEV0001>: Outage ${i}`,
        `looking ${i}`,
        `note ${i}`,
        `more ${i}`,
      ]);
    }
  });
});

describe('a run\'s messages', () => {
  async function runSlow(advanceMs: number): Promise<{ slack: FakeSlack; channel: string }> {
    const slack = fakeSlack(time.clock.now, undefined, { enforceLimits: true });
    const incident = await app.incidents.declare(DEV, { title: 'Runs' });
    const d = start();
    await d.drain();
    const requested = await app.runs.request(DEV, { procedure: 'slow', params: { seconds: '1' }, environment: 'staging', incidentId: incident.id });
    if (requested.kind !== 'run') throw new Error('expected a run');
    // The run is checked again before it starts: deliver its "started" message once it is running.
    while ((await app.runs.get(requested.run.id)).state === 'queued') await new Promise((r) => setTimeout(r, 5));
    await d.drain();
    if (advanceMs > 0) await runFor(d, advanceMs);
    await requested.done;
    d.kick();
    await runUntilIdle(d);
    return { slack, channel: (await app.incidents.get(incident.id)).channelId! };
  }

  it('are one message when the run ends within a few seconds: the start message is updated with the result', async () => {
    const { slack, channel } = await runSlow(0);
    const started = posts(slack, channel).find((c) => /R-1 slow \(staging\) started/.test(c.args.text ?? ''));
    expect(started).toBeDefined();
    const startTs = slack.calls.indexOf(started!) + 1;
    const updates = slack.callsTo('chat.update');
    expect(updates).toHaveLength(1);
    expect(updates[0]!.args).toMatchObject({ channel, ts: `1700000000.${String(startTs).padStart(6, '0')}` });
    expect(updates[0]!.args.text).toMatch(/R-1 slow \(staging\) succeeded/);
    expect(posts(slack, channel).some((c) => /succeeded/.test(c.args.text ?? ''))).toBe(false);
  });

  it('are two messages when the run took longer, so the result notifies the channel', async () => {
    const { slack, channel } = await runSlow(10_000);
    expect(texts(posts(slack, channel)).map((t) => t.split('\n')[0]!.replace(/ (—|in \d+s).*$/, ''))).toEqual([
      'INC-1 declared by <@U0DEV0001>: Runs',
      '▶ R-1 slow (staging) started for <@U0DEV0001>',
      '✅ R-1 slow (staging) succeeded',
    ]);
    expect(slack.callsTo('chat.update')).toHaveLength(0);
  });
});
