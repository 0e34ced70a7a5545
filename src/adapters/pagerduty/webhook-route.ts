// `POST /webhooks/pagerduty`: body cap, signature, envelope, durable store, then 202; processing happens later.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parsePagerdutyEvent } from '../../core/pagerduty/pagerduty-event.js';
import type { IncomingEvent, ReceiveResult } from '../../core/pagerduty/pagerduty-inbox.js';
import type { Logger } from '../../log.js';
import type { RouteHandler } from '../http/http-server.js';
import { verifyPagerdutySignature } from './verify-signature.js';
import { createBodyBudget, type BodyBudget } from '../http/body-budget.js';
import { HttpFailure, readBody } from '../http/read-body.js';

/**
 * PagerDuty documents 256 KB as the most a V3 webhook delivery carries; a larger body is not
 * PagerDuty's, so nothing bigger is held in memory before its signature is checked (README:
 * "Connect to PagerDuty").
 */
export const PAGERDUTY_BODY_LIMIT_BYTES = 256 * 1024;
/** Longer `X-Webhook-Id`s are not PagerDuty's (it sends UUIDs); such a header is not used for deduplication. */
const WEBHOOK_ID_MAX = 200;

export interface PagerdutyWebhookRouteDeps {
  /** PAGERDUTY_WEBHOOK_SECRETS; empty = the endpoint is not configured (503). */
  secrets: readonly string[];
  /** Writes the event durably; resolves once committed. */
  store: (incoming: IncomingEvent) => Promise<ReceiveResult>;
  logger: Logger;
  /** Told after each newly stored event, so processing starts at once. */
  onStored?: () => void;
  /** Told how each delivery ended (the webhook-deliveries metric). */
  onOutcome?: (outcome: WebhookOutcome) => void;
  /** False while stopping: deliveries are answered 503 and PagerDuty sends them again later. */
  accepting?: () => boolean;
  bodyLimitBytes?: number;
  /** Bytes of unverified bodies held at once, shared with the server's other signed routes; its own otherwise. */
  bodyBudget?: BodyBudget;
}

export type WebhookOutcome = 'accepted' | 'duplicate' | 'rejected';

function send(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function webhookIdOf(req: IncomingMessage): string | null {
  const value = req.headers['x-webhook-id'];
  const id = (Array.isArray(value) ? value[0] : value)?.trim();
  return id && id.length <= WEBHOOK_ID_MAX ? id : null;
}

/**
 * The route handler. Answers: 503 when no secret is configured (or while stopping, or when the
 * server holds too many unverified bodies: then with Retry-After), 413 over the size cap, 401 for a missing or wrong signature (nothing is stored; PagerDuty does not retry a
 * 4xx), 400 for a body that is not a V3 event, 202 once a new event is on disk, 200 for a
 * redelivery of one already stored.
 */
export function pagerdutyWebhookRoute(deps: PagerdutyWebhookRouteDeps): RouteHandler {
  const limit = deps.bodyLimitBytes ?? PAGERDUTY_BODY_LIMIT_BYTES;
  const budget = deps.bodyBudget ?? createBodyBudget();
  const outcome = (o: WebhookOutcome): void => deps.onOutcome?.(o);
  return async (req, res) => {
    const log = deps.logger.child({ requestId: randomUUID(), route: 'POST /webhooks/pagerduty' });
    if (deps.secrets.length === 0) {
      req.resume();
      send(res, 503, { error: 'PagerDuty webhooks are not configured here: set PAGERDUTY_WEBHOOK_SECRETS' });
      return;
    }
    if (deps.accepting && !deps.accepting()) {
      req.resume();
      send(res, 503, { error: 'not accepting webhooks right now; send again later' }, { connection: 'close' });
      return;
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, limit, budget);
    } catch (err) {
      if (!(err instanceof HttpFailure)) throw err;
      log.warn({ status: err.status, reason: err.message }, 'pagerduty webhook refused before its signature was checked');
      outcome('rejected');
      send(res, err.status, { error: err.message }, { ...err.headers });
      return;
    }

    // Nothing of the request is read before its signature holds.
    const verdict = verifyPagerdutySignature(req.headers['x-pagerduty-signature'], raw, deps.secrets);
    if (!verdict.ok) {
      log.warn({ reason: verdict.reason, remote: req.socket.remoteAddress }, 'pagerduty webhook refused: bad signature');
      outcome('rejected');
      send(res, 401, { error: 'invalid signature' });
      return;
    }

    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      log.warn('pagerduty webhook refused: body is not JSON');
      outcome('rejected');
      send(res, 400, { error: 'body is not JSON' });
      return;
    }
    const parsed = parsePagerdutyEvent(json);
    if (!parsed.ok) {
      log.warn({ problem: parsed.problem }, 'pagerduty webhook refused: not a V3 event');
      outcome('rejected');
      send(res, 400, { error: `not a PagerDuty V3 webhook event: ${parsed.problem}` });
      return;
    }

    const event = parsed.event;
    const result = await deps.store({ event, body: raw.toString('utf8'), webhookId: webhookIdOf(req) });
    if (result.kind === 'duplicate') {
      log.info({ eventId: event.id, eventType: event.type }, 'pagerduty webhook redelivered; already stored');
      outcome('duplicate');
      send(res, 200, { status: 'duplicate', event: result.eventId });
      return;
    }
    log.info({ eventId: event.id, eventType: event.type, seq: result.seq }, 'pagerduty webhook stored');
    outcome('accepted');
    send(res, 202, { status: 'accepted', event: event.id });
    deps.onStored?.();
  };
}
