// Runs one `http` step with fetch: expected statuses, a timeout, cancel, and a capped body excerpt.
import { formatDuration } from '../../core/duration.js';
import { maskSecrets } from '../../core/procedures/mask.js';
import { MAX_TIMER_MS, type HttpStepRequest, type HttpStepResult, type HttpStepRunner, type StepOutcome } from '../../core/procedures/step-runner.js';

export const DEFAULT_BODY_EXCERPT_BYTES = 4096;

export interface HttpStepRunnerOptions {
  fetch?: typeof fetch;
  maxExcerptBytes?: number;
  /** Monotonic milliseconds, for durations. */
  now?: () => number;
}

/**
 * Redirects are not followed: the status a step expects is the one the URL answers, and a
 * redirect cannot carry the request (and its headers) to another host or scheme.
 */
export function createHttpStepRunner(options: HttpStepRunnerOptions = {}): HttpStepRunner {
  const doFetch = options.fetch ?? globalThis.fetch;
  const maxExcerpt = options.maxExcerptBytes ?? DEFAULT_BODY_EXCERPT_BYTES;
  const now = options.now ?? (() => performance.now());

  return async function runHttpStep(request: HttpStepRequest): Promise<HttpStepResult> {
    const started = now();
    const secrets = request.secrets ?? [];
    let status: number | null = null;
    let excerpt = '';
    let truncated = false;
    const result = (outcome: StepOutcome, error?: string): HttpStepResult => ({
      outcome,
      status,
      bodyExcerpt: maskSecrets(excerpt, secrets),
      bodyTruncated: truncated,
      durationMs: Math.round(now() - started),
      ...(error !== undefined ? { error: maskSecrets(error, secrets) } : {}),
    });

    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return result('failed', `not a valid URL: ${request.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return result('failed', `only http and https URLs are allowed, not ${url.protocol}`);
    }
    if (request.signal?.aborted) return result('cancelled', 'cancelled before it started');

    const timeout = AbortSignal.timeout(Math.min(request.timeoutMs, MAX_TIMER_MS));
    const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
    const stopped = (): HttpStepResult | undefined => {
      if (request.signal?.aborted) return result('cancelled', 'cancelled');
      if (timeout.aborted) return result('timed_out', `no complete response within ${formatDuration(request.timeoutMs)}`);
      return undefined;
    };

    try {
      const response = await doFetch(url, {
        method: request.method,
        headers: request.headers ?? {},
        ...(request.body !== undefined ? { body: request.body } : {}),
        redirect: 'manual',
        signal,
      });
      status = response.status;
      const body = await readExcerpt(response, maxExcerpt);
      excerpt = body.text;
      truncated = body.truncated;
    } catch (err) {
      return stopped() ?? result('failed', fetchErrorMessage(url, err));
    }

    if (request.expectStatus.includes(status)) return result('succeeded');
    const expected = request.expectStatus.length === 1 ? String(request.expectStatus[0]) : `one of ${request.expectStatus.join(', ')}`;
    return result('failed', `expected status ${expected}, got ${status}`);
  };
}

/** Reads at most `max` bytes of the body, then stops the download. */
async function readExcerpt(response: Response, max: number): Promise<{ text: string; truncated: boolean }> {
  if (response.body === null) return { text: '', truncated: false };
  // A fetch body is a byte stream; its declared type leaves the chunks as any.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > max) {
      parts.push(value.subarray(0, max - size));
      size = max;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    parts.push(value);
    size += value.length;
  }
  const joined = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return { text: new TextDecoder('utf-8').decode(joined), truncated };
}

function fetchErrorMessage(url: URL, err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const where = `${url.protocol}//${url.host}`;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${where} (ECONNREFUSED)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${url.hostname} (${cause.code})`;
    case 'ECONNRESET':
      return `connection reset by ${where} (ECONNRESET)`;
    default: {
      const message = err instanceof Error ? err.message : String(err);
      return cause?.message ? `${message}: ${cause.message}${cause.code ? ` (${cause.code})` : ''}` : message;
    }
  }
}
