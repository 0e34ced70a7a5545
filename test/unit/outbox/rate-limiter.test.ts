// The token-bucket limiter and Slack's table, on a clock the test moves: bursts, refills, pauses, per-channel buckets.
import { describe, expect, it } from 'vitest';
import { createRateLimiter, type PlannedCall } from '../../../src/core/outbox/rate-limiter.js';
import { createSlackRateLimiter, SLACK_RATE_RULES } from '../../../src/adapters/slack/slack-rate-limits.js';

const T0 = 1_000_000;
const post = (channel: string): PlannedCall => ({ method: 'chat.postMessage', channel });

/** Sends as soon as the limiter allows, returning each send time relative to T0. */
function sendTimes(calls: PlannedCall[][], limiter = createSlackRateLimiter()): number[] {
  let now = T0;
  return calls.map((planned) => {
    now += limiter.delay(planned, now);
    expect(limiter.delay(planned, now)).toBe(0);
    limiter.take(planned, now);
    return now - T0;
  });
}

describe('the Slack rate limiter', () => {
  it('lets three posts into a channel go at once, then one a second', () => {
    expect(sendTimes(Array.from({ length: 7 }, () => [post('C1')]))).toEqual([0, 0, 0, 1000, 2000, 3000, 4000]);
  });

  it('keeps one bucket per channel for posting', () => {
    const limiter = createSlackRateLimiter();
    limiter.take([post('C1'), post('C1'), post('C1')], T0);
    expect(limiter.delay([post('C1')], T0)).toBe(1000);
    expect(limiter.delay([post('C2')], T0)).toBe(0);
  });

  it('holds a Tier 2 method to 20 at once, then one every 3 s, for the whole workspace', () => {
    expect(SLACK_RATE_RULES['conversations.create']).toEqual({ burst: 20, perMinute: 20 });
    const times = sendTimes(Array.from({ length: 22 }, () => [{ method: 'conversations.create' }]));
    expect(times.slice(0, 20).every((t) => t === 0)).toBe(true);
    expect(times.slice(20)).toEqual([3000, 6000]);
  });

  it('refills with time and never beyond the burst', () => {
    const limiter = createSlackRateLimiter();
    limiter.take([post('C1'), post('C1'), post('C1')], T0);
    // An hour idle is still only three posts' worth.
    const later = T0 + 3_600_000;
    limiter.take([post('C1'), post('C1'), post('C1')], later);
    expect(limiter.delay([post('C1')], later)).toBe(1000);
    expect(limiter.delay([post('C1')], later + 400)).toBe(600);
  });

  it('waits for every bucket a message needs, and asking takes nothing', () => {
    const limiter = createSlackRateLimiter();
    for (let i = 0; i < 20; i += 1) limiter.take([{ method: 'pins.add' }], T0);
    const message = [post('C1'), { method: 'pins.add' }];
    expect(limiter.delay(message, T0)).toBe(3000);
    expect(limiter.delay(message, T0)).toBe(3000);
    expect(limiter.delay([post('C1')], T0)).toBe(0);
  });

  it('pauses a method for the workspace until a Retry-After is over, and only that method', () => {
    const limiter = createSlackRateLimiter();
    limiter.pause('chat.postMessage', T0 + 3000);
    expect(limiter.delay([post('C1')], T0)).toBe(3000);
    expect(limiter.delay([post('C2')], T0 + 1000)).toBe(2000);
    expect(limiter.delay([{ method: 'conversations.create' }], T0)).toBe(0);
    expect(limiter.delay([post('C1')], T0 + 3000)).toBe(0);
  });

  it('paces posts into a channel at EDGEOPS_SLACK_CHANNEL_PACE_MS, keeping the burst of three', () => {
    const limiter = createSlackRateLimiter({ channelPaceMs: 250 });
    expect(
      sendTimes(
        Array.from({ length: 6 }, () => [post('C1')]),
        limiter,
      ),
    ).toEqual([0, 0, 0, 250, 500, 750]);
    expect(
      sendTimes(
        Array.from({ length: 5 }, () => [post('C1')]),
        createSlackRateLimiter({ channelPaceMs: 1000 }),
      ),
    ).toEqual([0, 0, 0, 1000, 2000]);
  });

  it('lets posts go unpaced at a channel pace of 0, yet still waits out a Retry-After', () => {
    const limiter = createSlackRateLimiter({ channelPaceMs: 0 });
    expect(
      sendTimes(
        Array.from({ length: 2_000 }, () => [post('C1')]),
        limiter,
      ).every((t) => t === 0),
    ).toBe(true);
    limiter.pause('chat.postMessage', T0 + 3000);
    expect(limiter.delay([post('C1')], T0)).toBe(3000);
    // Other methods keep Slack's limits whatever the posting pace.
    expect(
      sendTimes(
        Array.from({ length: 21 }, () => [{ method: 'conversations.create' }]),
        limiter,
      ).at(-1),
    ).toBe(3000);
  });

  it('counts calls made beyond the bucket, so the next caller waits longer', () => {
    const limiter = createRateLimiter({}, { burst: 1, perMinute: 60 });
    limiter.take([{ method: 'm' }, { method: 'm' }, { method: 'm' }], T0);
    expect(limiter.delay([{ method: 'm' }], T0)).toBe(3000);
  });
});
