// Slack `v0` request signatures: the published vector, the window both ways, and every malformed header.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { slackSignature, verifySlackSignature, type DistinctHeaders } from '../../../src/adapters/slack/verify-signature.js';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TIMESTAMP = '1531420618';
const EXPECTED = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
const BODY = readFileSync(new URL('../../fixtures/slack/slack-signing-example.form', import.meta.url));
const AT = Number(TIMESTAMP) * 1000;

const headers = (signature: string | string[] | undefined, timestamp: string | string[] | undefined = TIMESTAMP): DistinctHeaders => ({
  'x-slack-signature': signature,
  'x-slack-request-timestamp': timestamp,
});
const check = (h: DistinctHeaders, body: Buffer | string = BODY, now = AT) => verifySlackSignature(h, body, { signingSecret: SECRET, now: () => now });

describe('verifySlackSignature', () => {
  it('computes the published signature of the published body', () => {
    expect(slackSignature(SECRET, TIMESTAMP, BODY)).toBe(EXPECTED);
  });

  it('accepts the published vector with the clock pinned to its timestamp', () => {
    expect(check(headers(EXPECTED))).toEqual({ ok: true });
  });

  it('refuses the published vector as stale with the real clock', () => {
    expect(verifySlackSignature(headers(EXPECTED), BODY, { signingSecret: SECRET, now: Date.now })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('accepts the edges of the five-minute window and refuses one second beyond, both ways', () => {
    expect(check(headers(EXPECTED), BODY, AT + 300_000)).toEqual({ ok: true });
    expect(check(headers(EXPECTED), BODY, AT - 300_000)).toEqual({ ok: true });
    expect(check(headers(EXPECTED), BODY, AT + 301_000)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(check(headers(EXPECTED), BODY, AT - 301_000)).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('refuses a body with one byte flipped', () => {
    const flipped = Buffer.from(BODY);
    flipped[10] = flipped[10]! ^ 0x01;
    expect(check(headers(EXPECTED), flipped)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a body signed with another secret', () => {
    const forged = slackSignature('another-secret', TIMESTAMP, BODY);
    expect(check(headers(forged))).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a signature replayed with another timestamp', () => {
    const later = String(Number(TIMESTAMP) + 60);
    expect(check(headers(EXPECTED, later), BODY, AT + 60_000)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses missing or empty headers', () => {
    expect(check(headers(undefined))).toEqual({ ok: false, reason: 'missing_signature' });
    expect(check(headers([]))).toEqual({ ok: false, reason: 'missing_signature' });
    expect(check(headers(''))).toEqual({ ok: false, reason: 'missing_signature' });
    expect(check({ 'x-slack-signature': EXPECTED })).toEqual({ ok: false, reason: 'missing_timestamp' });
    expect(check({})).toEqual({ ok: false, reason: 'missing_signature' });
  });

  it('refuses duplicate headers even when one of them is right', () => {
    expect(check(headers([EXPECTED, EXPECTED]))).toEqual({ ok: false, reason: 'duplicate_signature' });
    expect(check(headers(['v0=' + '0'.repeat(64), EXPECTED]))).toEqual({ ok: false, reason: 'duplicate_signature' });
    expect(check(headers(EXPECTED, [TIMESTAMP, TIMESTAMP]))).toEqual({ ok: false, reason: 'duplicate_timestamp' });
  });

  it('refuses timestamps that are not plain numbers', () => {
    for (const bad of ['1531420618.5', '-1531420618', ' 1531420618', '0x5b47a7ca', 'now', '1e9']) {
      expect(check(headers(EXPECTED, bad))).toEqual({ ok: false, reason: 'malformed_timestamp' });
    }
  });

  it('refuses signatures of another version or shape', () => {
    for (const bad of [EXPECTED.replace('v0=', 'v1='), EXPECTED.slice(0, -1), `${EXPECTED}0`, EXPECTED.toUpperCase(), 'v0=', 'garbage']) {
      expect(check(headers(bad))).toEqual({ ok: false, reason: 'malformed_signature' });
    }
  });
});
