// PagerDuty V3 signatures: the published vector, rotation, and every way a header can be wrong.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { v1Signatures, verifyPagerdutySignature } from '../../../src/adapters/pagerduty/verify-signature.js';

// PagerDuty/go-pagerduty webhookv3/webhookv3_test.go: secret, body and signatures, as published.
const SECRET = 'lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK';
const BODY = readFileSync(new URL('../../fixtures/pagerduty/pagerduty-v3-test-body.json', import.meta.url));
const GOOD = 'v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd';
const PUBLISHED_MISMATCH = 'v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5';

const hmac = (secret: string, body: Buffer): string => createHmac('sha256', secret).update(body).digest('hex');

describe('verifyPagerdutySignature', () => {
  it('accepts the published vector: the exact bytes of the test body under its secret', () => {
    expect(BODY.at(-1)).not.toBe(0x0a);
    expect(`v1=${hmac(SECRET, BODY)}`).toBe(GOOD);
    expect(verifyPagerdutySignature(GOOD, BODY, [SECRET])).toEqual({ ok: true });
  });

  it('accepts the right signature among several wrong v1= values, wherever it stands', () => {
    const wrong = ['v1=' + 'a'.repeat(64), PUBLISHED_MISMATCH, 'v1=' + '0'.repeat(64)];
    for (let at = 0; at <= wrong.length; at += 1) {
      const parts = [...wrong];
      parts.splice(at, 0, GOOD);
      expect(verifyPagerdutySignature(parts.join(','), BODY, [SECRET])).toEqual({ ok: true });
      expect(verifyPagerdutySignature(parts.join(', '), BODY, [SECRET])).toEqual({ ok: true });
    }
  });

  it('accepts during a rotation: any signature against any configured secret', () => {
    const fresh = 'new-secret-after-rotation';
    const header = `v1=${hmac(fresh, BODY)}`;
    expect(verifyPagerdutySignature(header, BODY, [SECRET, fresh])).toEqual({ ok: true });
    expect(verifyPagerdutySignature(`${GOOD},${header}`, BODY, [fresh])).toEqual({ ok: true });
    expect(verifyPagerdutySignature(header, BODY, [SECRET])).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('refuses the published mismatch and any other wrong-only header', () => {
    expect(verifyPagerdutySignature(PUBLISHED_MISMATCH, BODY, [SECRET])).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifyPagerdutySignature(`${PUBLISHED_MISMATCH},v1=${'b'.repeat(64)}`, BODY, [SECRET])).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('refuses a body changed by one byte', () => {
    const changed = Buffer.from(BODY);
    changed[10] = changed[10]! ^ 1;
    expect(verifyPagerdutySignature(GOOD, changed, [SECRET])).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('refuses a header with only v2= (or other versions), even carrying the right digest', () => {
    const digest = GOOD.slice(3);
    expect(verifyPagerdutySignature(`v2=${digest}`, BODY, [SECRET])).toEqual({ ok: false, reason: 'no v1 signature' });
    expect(verifyPagerdutySignature(`v0=${digest},V1=${digest}`, BODY, [SECRET])).toEqual({ ok: false, reason: 'no v1 signature' });
    expect(verifyPagerdutySignature(digest, BODY, [SECRET])).toEqual({ ok: false, reason: 'no v1 signature' });
  });

  it('refuses an empty or missing header, and truncated or non-hex signatures', () => {
    expect(verifyPagerdutySignature(undefined, BODY, [SECRET])).toEqual({ ok: false, reason: 'missing signature' });
    expect(verifyPagerdutySignature('', BODY, [SECRET])).toEqual({ ok: false, reason: 'missing signature' });
    expect(verifyPagerdutySignature('   ', BODY, [SECRET])).toEqual({ ok: false, reason: 'missing signature' });
    expect(verifyPagerdutySignature('v1=', BODY, [SECRET])).toEqual({ ok: false, reason: 'no v1 signature' });
    expect(verifyPagerdutySignature(GOOD.slice(0, -2), BODY, [SECRET])).toEqual({ ok: false, reason: 'no v1 signature' });
    expect(verifyPagerdutySignature(`${GOOD.slice(0, -1)}z`, BODY, [SECRET])).toEqual({ ok: false, reason: 'no v1 signature' });
  });

  it('refuses everything when no secret is configured', () => {
    expect(verifyPagerdutySignature(GOOD, BODY, [])).toEqual({ ok: false, reason: 'no secrets configured' });
  });

  it('reads a header sent twice (Node joins repeats) the same as one comma-separated header', () => {
    expect(verifyPagerdutySignature([PUBLISHED_MISMATCH, GOOD], BODY, [SECRET])).toEqual({ ok: true });
    expect(v1Signatures(' v1=aa , v2=bb,v1=cc')).toEqual(['aa', 'cc']);
  });
});
