// Maps Slack Web API failures to outbox outcomes: wait as asked (429), back off (outage), or give up (recorded).
import { ErrorCode as SlackErrorCode, type WebAPIHTTPError, type WebAPIPlatformError, type WebAPIRateLimitedError, type WebAPIRequestError } from '@slack/web-api';
import { ErrorCode, isEdgeopsError } from '../../errors.js';
import type { DeliveryResult } from '../outbox/outbox-dispatcher.js';

/** Slack error codes that describe Slack's trouble, not our message's: worth retrying. */
const TRANSIENT_CODES = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);
const RATE_LIMIT_CODES = new Set(['ratelimited', 'rate_limited']);
/** When Slack says `ratelimited` in a 200 body without a Retry-After header. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;

const hasCode = (err: unknown): err is { code: unknown } => typeof err === 'object' && err !== null && 'code' in err;

const isPlatformError = (err: unknown): err is WebAPIPlatformError => hasCode(err) && err.code === SlackErrorCode.PlatformError;
const isRateLimited = (err: unknown): err is WebAPIRateLimitedError => hasCode(err) && err.code === SlackErrorCode.RateLimitedError;
const isHttpError = (err: unknown): err is WebAPIHTTPError => hasCode(err) && err.code === SlackErrorCode.HTTPError;
const isRequestError = (err: unknown): err is WebAPIRequestError => hasCode(err) && err.code === SlackErrorCode.RequestError;

/** The Slack API error code (`channel_not_found`, `name_taken`…) of a failed call, if Slack answered with one. */
export function slackErrorCode(err: unknown): string | undefined {
  return isPlatformError(err) ? err.data.error : undefined;
}

export function classifySlackError(err: unknown): DeliveryResult {
  if (isRateLimited(err)) {
    return { kind: 'retry', afterMs: Math.max(1, err.retryAfter) * 1000, error: `HTTP 429, Retry-After ${err.retryAfter}s` };
  }
  if (isPlatformError(err)) {
    const code = err.data.error;
    if (RATE_LIMIT_CODES.has(code)) {
      const after = err.data.response_metadata?.retryAfter;
      return { kind: 'retry', afterMs: after === undefined ? DEFAULT_RATE_LIMIT_WAIT_MS : Math.max(1, after) * 1000, error: code };
    }
    return TRANSIENT_CODES.has(code) ? { kind: 'transient', error: code } : { kind: 'permanent', error: code };
  }
  // Slack itself answers 200, 429 or 5xx; any other status comes from a proxy or gateway in between,
  // which says nothing about the message, so it is retried like an outage rather than given up on.
  if (isHttpError(err)) return { kind: 'transient', error: `HTTP ${err.statusCode}` };
  if (isRequestError(err)) return { kind: 'transient', error: `request failed: ${err.original.name}: ${err.original.message}` };
  if (hasCode(err) && typeof err.code === 'string' && err.code.startsWith('slack_webapi_file_upload')) {
    return { kind: 'permanent', error: (err as unknown as Error).message };
  }
  if (isEdgeopsError(err)) {
    return err.code === ErrorCode.Unavailable ? { kind: 'transient', error: err.message } : { kind: 'permanent', error: err.message };
  }
  // Anything else (an upload URL refusing the file, a malformed answer) may pass: retry with backoff.
  return { kind: 'transient', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}
