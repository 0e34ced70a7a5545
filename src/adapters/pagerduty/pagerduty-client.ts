// The PagerDuty REST client: pdjs's api() with real timeouts, every status checked, answers zod-parsed, typed errors.
import { api } from '@pagerduty/pdjs';
import { z } from 'zod';
import type { OncallEntry, Pager, PagerService } from '../../core/pager.js';
import { ConflictError, InputError, NotAllowedError, NotFoundError, UnavailableError, type EdgeopsError } from '../../errors.js';

/*
 * What pdjs 2.2.4 does, and how this wrapper deals with it:
 * - It resolves on HTTP errors (a 404 or 500 is a resolved APIResponse), and rejects with the Response
 *   itself, not an Error, when a body is not JSON. Every status is checked here, and both paths end
 *   in a typed error.
 * - Its `requestTimeout` aborts nothing: it only starts an empty timer, which is not cleared after a
 *   429 or a network error and keeps the process alive for 30 s. It is set to 0 (no timer); the real
 *   timeout is an AbortSignal, which pdjs passes through to fetch.
 * - On a 429 it retries 3 times, waiting `retryTimeout` (default 20 s) each time and ignoring
 *   Retry-After; the retry count is fixed (its `retryCount` option is never read). With
 *   `retryTimeout: 0` nothing waits: a rate-limited call ends at once, after at most 4 quick
 *   attempts, with PagerDuty's last 429, whose Retry-After becomes `retryAfterMs` here. Waiting is the
 *   outbox's job, which holds the incident's channel for that long.
 * - `server` always means https://; `url` takes the whole address, so PAGERDUTY_API_URL (EU accounts,
 *   proxies, tests on http://) is honoured by building the URL here.
 */

/** A PagerDuty call that did not work now but may later: outage, 5xx, timeout, rate limit, garbled answer. */
export class PagerdutyUnavailableError extends UnavailableError {
  constructor(
    message: string,
    /** HTTP status, when PagerDuty answered. */
    readonly status: number | null,
    /** How long PagerDuty asked us to wait (429 Retry-After), when it did. */
    readonly retryAfterMs: number | null = null,
    readonly timedOut = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PagerdutyClientOptions {
  /** PAGERDUTY_API_URL, without a trailing slash. */
  apiUrl: string;
  token: string;
  /** PAGERDUTY_FROM: the PagerDuty user e-mail writes are made as. */
  from?: string | undefined;
  /** Per call, unless the caller's signal ends it sooner (default 10 s). */
  timeoutMs?: number;
}

export type Query = Record<string, string | number | readonly string[]>;

export interface RequestOptions<T> {
  query?: Query;
  body?: Record<string, unknown>;
  schema: z.ZodType<T>;
  signal?: AbortSignal | undefined;
}

/** When Retry-After (or PagerDuty's ratelimit-reset) is missing or unreadable. */
const DEFAULT_RETRY_AFTER_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 10_000;

/** pdjs's APIResponse (its index does not export the type): the fetch Response plus the decoded body. */
type APIResponse = Response & { data: unknown };

/** `Retry-After: <seconds>` or `<HTTP-date>`; PagerDuty's own `ratelimit-reset` (seconds) otherwise. */
export function retryAfterMs(headers: { get(name: string): string | null }, now: number = Date.now()): number {
  const value = headers.get('retry-after')?.trim();
  if (value) {
    if (/^\d+(?:\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
    const at = Date.parse(value);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) return Number(reset) * 1000;
  return DEFAULT_RETRY_AFTER_MS;
}

const ErrorBodySchema = z.object({ error: z.object({ message: z.string().optional(), errors: z.array(z.string()).optional() }) });

/** PagerDuty's own words about a refused call, when it gave any. */
function detailOf(data: unknown): string {
  const parsed = ErrorBodySchema.safeParse(data);
  if (!parsed.success) return '';
  const { message, errors } = parsed.data.error;
  return [message, ...(errors ?? [])].filter(Boolean).join('; ');
}

/** One typed error per status: the outbox retries UnavailableError and gives up on the others. */
export function errorForStatus(status: number, what: string, data: unknown, headers: { get(name: string): string | null }): EdgeopsError {
  const detail = detailOf(data);
  const message = `PagerDuty answered ${status} to ${what}${detail ? `: ${detail}` : ''}`;
  if (status === 429) return new PagerdutyUnavailableError(message, status, retryAfterMs(headers));
  if (status === 404) return new NotFoundError(message);
  if (status === 401 || status === 403) return new NotAllowedError(`${message} (check PAGERDUTY_API_TOKEN and its permissions)`);
  if (status === 409) return new ConflictError(message);
  if (status >= 500 || status === 408) return new PagerdutyUnavailableError(message, status);
  return new InputError(message);
}

const isResponse = (v: unknown): v is Response =>
  v !== null &&
  typeof v === 'object' &&
  typeof (v as Response).status === 'number' &&
  typeof (v as { headers?: { get?: unknown } }).headers?.get === 'function';

function toQuery(url: URL, query: Query | undefined): void {
  for (const [key, value] of Object.entries(query ?? {})) {
    if (Array.isArray(value)) for (const v of value as readonly string[]) url.searchParams.append(key, v);
    else url.searchParams.append(key, String(value));
  }
}

const ReferenceSchema = z.object({ id: z.string(), summary: z.string().nullish(), name: z.string().nullish() });
const nameOf = (r: z.infer<typeof ReferenceSchema>): string => r.summary || r.name || r.id;

const ServicesSchema = z.object({
  services: z.array(z.object({ id: z.string(), name: z.string(), escalation_policy: ReferenceSchema.nullish() })),
});

const OncallsSchema = z.object({
  oncalls: z.array(
    z.object({
      escalation_policy: ReferenceSchema,
      escalation_level: z.number().int(),
      user: ReferenceSchema,
      schedule: ReferenceSchema.nullish(),
      end: z.string().nullish(),
    }),
  ),
});

/** A write's answer: PagerDuty returns the changed resource, which edgeops does not need beyond "it is JSON". */
const WrittenSchema = z.record(z.string(), z.unknown());

export interface PagerdutyClient extends Pager {
  request<T>(method: 'GET' | 'POST' | 'PUT', path: string, options: RequestOptions<T>): Promise<T>;
  addNote(pdIncidentId: string, content: string, signal?: AbortSignal): Promise<void>;
  setStatus(pdIncidentId: string, status: 'acknowledged' | 'resolved', resolution?: string | null, signal?: AbortSignal): Promise<void>;
}

export function createPagerdutyClient(options: PagerdutyClientOptions): PagerdutyClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const base = options.apiUrl.replace(/\/+$/, '');

  async function request<T>(method: 'GET' | 'POST' | 'PUT', path: string, req: RequestOptions<T>): Promise<T> {
    const what = `${method} ${path}`;
    const write = method !== 'GET';
    if (write && !options.from) {
      // PagerDuty refuses writes made with an account API key without a From user: say so before asking.
      throw new NotAllowedError(`${what} needs PAGERDUTY_FROM (the e-mail of the PagerDuty user edgeops writes as)`);
    }
    const url = new URL(`${base}${path}`);
    toQuery(url, req.query);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;

    let response: APIResponse;
    try {
      response = await api({
        url: url.toString(),
        method,
        token: options.token,
        tokenType: 'token',
        headers: write ? { From: options.from! } : {},
        ...(req.body ? { data: req.body } : {}),
        requestTimeout: 0,
        retryTimeout: 0,
        signal,
      });
    } catch (err) {
      if (isResponse(err)) {
        // pdjs could not read the body as JSON: an error page from a proxy, or a garbled answer.
        if (!err.ok) throw errorForStatus(err.status, what, undefined, err.headers);
        throw new PagerdutyUnavailableError(`PagerDuty answered ${err.status} to ${what} with a body that is not JSON`, err.status);
      }
      if (signal.aborted) {
        if (timeout.aborted && !req.signal?.aborted) {
          throw new PagerdutyUnavailableError(`PagerDuty did not answer ${what} within ${(timeoutMs / 1000).toFixed(1)} s`, null, null, true, {
            cause: err,
          });
        }
        throw new PagerdutyUnavailableError(`${what} was abandoned before PagerDuty answered`, null, null, true, { cause: err });
      }
      throw new PagerdutyUnavailableError(`cannot reach PagerDuty for ${what}: ${(err as Error).message}`, null, null, false, { cause: err });
    }

    const status = response.status;
    if (status < 200 || status >= 300) throw errorForStatus(status, what, response.data, response.headers);
    const parsed = req.schema.safeParse(status === 204 ? {} : response.data);
    if (!parsed.success) {
      throw new PagerdutyUnavailableError(
        `PagerDuty's answer to ${what} is not what edgeops expects: ${parsed.error.issues[0]?.message ?? 'unreadable'}`,
        status,
      );
    }
    return parsed.data;
  }

  return {
    request,

    async addNote(pdIncidentId, content, signal) {
      await request('POST', `/incidents/${encodeURIComponent(pdIncidentId)}/notes`, { body: { note: { content } }, schema: WrittenSchema, signal });
    },

    async setStatus(pdIncidentId, status, resolution, signal) {
      const incident: Record<string, unknown> = { type: 'incident_reference', status };
      if (status === 'resolved' && resolution) incident.resolution = resolution;
      await request('PUT', `/incidents/${encodeURIComponent(pdIncidentId)}`, { body: { incident }, schema: WrittenSchema, signal });
    },

    async findServices(query, signal): Promise<PagerService[]> {
      const found = await request('GET', '/services', { query: { query, limit: 25 }, schema: ServicesSchema, signal });
      return found.services.map((s) => ({
        id: s.id,
        name: s.name,
        escalationPolicy: s.escalation_policy ? { id: s.escalation_policy.id, name: nameOf(s.escalation_policy) } : null,
      }));
    },

    async oncalls(escalationPolicyIds, signal): Promise<OncallEntry[]> {
      const query: Query = { limit: 100, earliest: 'true' };
      if (escalationPolicyIds.length > 0) query['escalation_policy_ids[]'] = escalationPolicyIds;
      const found = await request('GET', '/oncalls', { query, schema: OncallsSchema, signal });
      return found.oncalls.map((o) => ({
        escalationPolicy: { id: o.escalation_policy.id, name: nameOf(o.escalation_policy) },
        level: o.escalation_level,
        user: { id: o.user.id, name: nameOf(o.user) },
        schedule: o.schedule ? nameOf(o.schedule) : null,
        until: o.end ?? null,
      }));
    },
  };
}
