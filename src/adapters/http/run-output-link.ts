// Signed, expiring links to a run's full output, so channel messages can point at it without a login.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../../app-ports.js';
import { stepSummary } from '../../core/runs/step-summary.js';
import { NotFoundError } from '../../errors.js';
import type { RouteHandler } from './http-server.js';
import { requestUrl } from './request-target.js';

export const RUN_OUTPUT_PATH = '/runs/output';
const DEFAULT_TTL_MS = 7 * 24 * 3_600_000;

/** A key for links only, derived from the audit key so no other secret has to be configured. */
export const linkKey = (auditKey: string): string => createHmac('sha256', auditKey).update('edgeops run output links').digest('hex');

const signature = (key: string, runId: string, expires: number): string => createHmac('sha256', key).update(`${runId}\n${expires}`).digest('base64url');

export function runOutputLink(options: { publicUrl: string; key: string; runId: string; now: number; ttlMs?: number }): string {
  const expires = options.now + (options.ttlMs ?? DEFAULT_TTL_MS);
  const url = new URL(RUN_OUTPUT_PATH, options.publicUrl.endsWith('/') ? options.publicUrl : `${options.publicUrl}/`);
  url.searchParams.set('run', options.runId);
  url.searchParams.set('expires', String(expires));
  url.searchParams.set('sig', signature(options.key, options.runId, expires));
  return url.toString();
}

export function verifyRunOutputLink(key: string, query: URLSearchParams, now: number): { ok: true; runId: string } | { ok: false; reason: string } {
  const runId = query.get('run') ?? '';
  const expires = Number(query.get('expires'));
  const given = Buffer.from(query.get('sig') ?? '', 'utf8');
  if (!/^R-\d{1,9}$/.test(runId) || !Number.isSafeInteger(expires)) return { ok: false, reason: 'malformed link' };
  const expected = Buffer.from(signature(key, runId, expires), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' };
  if (now > expires) return { ok: false, reason: 'link expired' };
  return { ok: true, runId };
}

/** GET /runs/output?run=R-7&expires=…&sig=…: every step's kept output (secrets already masked), as text. */
/** What the output route reads: runs and their steps, and the time to check expiry against. */
export type RunOutputPorts = Pick<App, 'runs' | 'clock'>;

export function runOutputRoute(app: RunOutputPorts, key: string): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const query = requestUrl(req).searchParams;
    const verdict = verifyRunOutputLink(key, query, app.clock.now());
    if (!verdict.ok) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`forbidden: ${verdict.reason}\n`);
      return;
    }
    let run;
    try {
      run = await app.runs.get(verdict.runId);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('no such run\n');
      return;
    }
    const parts = [`${run.id} ${run.procedure} (${run.environment}): ${run.state}\n`];
    for (const step of await app.runs.steps(run.id)) {
      parts.push(`\n--- step ${stepSummary(step, { duration: false, error: false })}\n`);
      parts.push(step.output.endsWith('\n') || step.output === '' ? step.output : `${step.output}\n`);
      if (step.truncatedBytes > 0) parts.push(`(${step.truncatedBytes} bytes were dropped to keep 1 MB)\n`);
    }
    res
      .writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' })
      .end(parts.join(''));
  };
}
