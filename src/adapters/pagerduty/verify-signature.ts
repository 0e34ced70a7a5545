// PagerDuty Webhooks V3 signatures: any `v1=` of the header against any configured secret, in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type PagerdutySignatureVerdict =
  { ok: true } | { ok: false; reason: 'no secrets configured' | 'missing signature' | 'no v1 signature' | 'signature mismatch' };

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** The `v1=` values of an `X-PagerDuty-Signature` header (several during a secret rotation). */
export function v1Signatures(header: string | readonly string[] | undefined): string[] {
  const joined = Array.isArray(header) ? header.join(',') : ((header as string | undefined) ?? '');
  return joined
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .map((s) => s.slice(3));
}

/**
 * True when some `v1=` signature in the header is the HMAC-SHA256 (hex) of the raw body under some
 * secret. Every candidate is compared with every expected digest, each in constant time, so
 * neither the position of a match nor how much of a guess was right shows in the timing.
 */
export function verifyPagerdutySignature(
  header: string | readonly string[] | undefined,
  body: Uint8Array,
  secrets: readonly string[],
): PagerdutySignatureVerdict {
  if (secrets.length === 0) return { ok: false, reason: 'no secrets configured' };
  if (header === undefined || (typeof header === 'string' && header.trim() === '')) return { ok: false, reason: 'missing signature' };
  const candidates = v1Signatures(header).filter((s) => HEX_SHA256.test(s));
  if (candidates.length === 0) return { ok: false, reason: 'no v1 signature' };
  const expected = secrets.map((secret) => createHmac('sha256', secret).update(body).digest());
  let matched = false;
  for (const candidate of candidates) {
    const given = Buffer.from(candidate, 'hex');
    for (const digest of expected) matched = timingSafeEqual(given, digest) || matched;
  }
  return matched ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}
