// Slack request signing (`v0`): a pure check of the raw body against the signing secret and a clock.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's replay window: a request signed more than five minutes away from now (either way) is refused. */
export const SIGNATURE_WINDOW_SECONDS = 300;

export type SignatureFailure =
  | 'missing_signature'
  | 'duplicate_signature'
  | 'malformed_signature'
  | 'missing_timestamp'
  | 'duplicate_timestamp'
  | 'malformed_timestamp'
  | 'stale_timestamp'
  | 'mismatch';

export type SignatureVerdict = { ok: true } | { ok: false; reason: SignatureFailure };

/** Header values as `IncomingMessage.headersDistinct` gives them: one entry per occurrence, so duplicates show. */
export type DistinctHeaders = Record<string, string[] | string | undefined>;

export interface VerifyOptions {
  signingSecret: string;
  /** Milliseconds since the epoch; injected so the published vector can be checked at its own time. */
  now: () => number;
  windowSeconds?: number;
}

const SIGNATURE = /^v0=[0-9a-f]{64}$/;
const TIMESTAMP = /^\d{1,12}$/;

/** The one value of a header, or why there is not exactly one. */
function single(headers: DistinctHeaders, name: string): { value: string } | { missing: true } | { duplicate: true } {
  const raw = headers[name];
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (values.length === 0 || values[0] === '') return { missing: true };
  // A second signature or timestamp could be chosen by whoever forged the first: refuse rather than pick one.
  if (values.length > 1) return { duplicate: true };
  return { value: values[0]! };
}

/** `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: Buffer | string): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

/** Checks `X-Slack-Signature` and `X-Slack-Request-Timestamp` (lower-case keys) against the exact body bytes. */
export function verifySlackSignature(headers: DistinctHeaders, rawBody: Buffer | string, options: VerifyOptions): SignatureVerdict {
  const signature = single(headers, 'x-slack-signature');
  if ('missing' in signature) return { ok: false, reason: 'missing_signature' };
  if ('duplicate' in signature) return { ok: false, reason: 'duplicate_signature' };
  const timestamp = single(headers, 'x-slack-request-timestamp');
  if ('missing' in timestamp) return { ok: false, reason: 'missing_timestamp' };
  if ('duplicate' in timestamp) return { ok: false, reason: 'duplicate_timestamp' };
  if (!TIMESTAMP.test(timestamp.value)) return { ok: false, reason: 'malformed_timestamp' };
  const window = options.windowSeconds ?? SIGNATURE_WINDOW_SECONDS;
  const skew = Math.abs(Math.floor(options.now() / 1000) - Number(timestamp.value));
  if (skew > window) return { ok: false, reason: 'stale_timestamp' };
  if (!SIGNATURE.test(signature.value)) return { ok: false, reason: 'malformed_signature' };
  const expected = Buffer.from(slackSignature(options.signingSecret, timestamp.value, rawBody), 'utf8');
  const given = Buffer.from(signature.value, 'utf8');
  // Both are 67 ASCII bytes here (the format was checked), so the comparison itself takes constant time.
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
