// Transport for `POST /slack/events` on our own HTTP server: body cap, signature, parsing, team check, ack.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App as BoltApp, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Logger } from '../../log.js';
import { verifySlackSignature } from './verify-signature.js';
import { createBodyBudget, type BodyBudget } from '../http/body-budget.js';
import { HttpFailure, readBody } from '../http/read-body.js';

/** Slack's own payloads are a few KB; the largest (interactivity on a big message) stay far below this. */
export const SLACK_BODY_LIMIT_BYTES = 1024 * 1024;
/** Slack gives up after 3 s; a request no listener acknowledged is answered before that. */
export const UNACKED_AFTER_MS = 2_500;
/** On stop, how long work already started (acks, replies after acks) may take to finish. */
export const DRAIN_MS = 10_000;

export interface SlackReceiverOptions {
  signingSecret: string;
  /** When set, requests from any other workspace are refused. */
  teamId?: string;
  logger: Logger;
  /** The clock signatures are checked against (milliseconds since the epoch). */
  now?: () => number;
  bodyLimitBytes?: number;
  /** Bytes of unverified bodies held at once, shared with the server's other signed routes; its own otherwise. */
  bodyBudget?: BodyBudget;
  unackedAfterMs?: number;
  drainMs?: number;
}

type Body = Record<string, unknown>;


const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Body | undefined => (v !== null && typeof v === 'object' ? (v as Body) : undefined);
const firstAuthorization = (body: Body): Body | undefined => (Array.isArray(body.authorizations) ? obj(body.authorizations[0]) : undefined);

/** The workspace a payload comes from, wherever its kind of payload carries it. */
export function teamOf(body: Body): string | undefined {
  return str(body.team_id) ?? str(obj(body.team)?.id) ?? str(firstAuthorization(body)?.team_id) ?? str(obj(body.user)?.team_id);
}

/** The Enterprise Grid organisation of a payload, if any. */
export function enterpriseOf(body: Body): string | undefined {
  return str(body.enterprise_id) ?? str(obj(body.enterprise)?.id) ?? str(firstAuthorization(body)?.enterprise_id);
}

/** SLACK_TEAM_ID names a workspace (`T…`) or, on Enterprise Grid, the organisation (`E…`). */
export function fromWorkspace(body: Body, teamId: string): boolean {
  return teamOf(body) === teamId || (teamId.startsWith('E') && enterpriseOf(body) === teamId);
}


/** Slash commands are a form; interactivity is a form whose `payload` is JSON; the Events API is JSON. */
export function parseSlackBody(contentType: string | undefined, raw: Buffer): Body {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = raw.toString('utf8');
  let parsed: unknown;
  try {
    if (media === 'application/x-www-form-urlencoded') {
      const form = new URLSearchParams(text);
      const payload = form.get('payload');
      parsed = payload === null ? Object.fromEntries(form) : JSON.parse(payload);
    } else if (media === 'application/json') {
      parsed = JSON.parse(text);
    } else {
      throw new HttpFailure(415, 'expected application/x-www-form-urlencoded or application/json');
    }
  } catch (err) {
    if (err instanceof HttpFailure) throw err;
    throw new HttpFailure(400, 'malformed body');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpFailure(400, 'malformed body');
  return parsed as Body;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) return;
  if (body === undefined || body === '') {
    res.writeHead(status).end();
  } else if (typeof body === 'string') {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  } else {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

const headerNumber = (req: IncomingMessage, name: string): number | undefined => {
  const v = req.headers[name];
  const n = typeof v === 'string' ? Number.parseInt(v, 10) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** A Bolt receiver that is one route of our HTTP server rather than a listener of its own. */
export class SlackReceiver implements Receiver {
  private bolt: BoltApp | undefined;
  private accepting = false;
  private readonly inflight = new Set<Promise<void>>();
  private readonly now: () => number;
  private readonly bodyLimit: number;
  private readonly bodyBudget: BodyBudget;
  private readonly unackedAfterMs: number;
  private readonly drainMs: number;

  constructor(private readonly options: SlackReceiverOptions) {
    if (!options.signingSecret) throw new Error('SlackReceiver needs the signing secret');
    this.now = options.now ?? Date.now;
    this.bodyLimit = options.bodyLimitBytes ?? SLACK_BODY_LIMIT_BYTES;
    this.bodyBudget = options.bodyBudget ?? createBodyBudget();
    this.unackedAfterMs = options.unackedAfterMs ?? UNACKED_AFTER_MS;
    this.drainMs = options.drainMs ?? DRAIN_MS;
  }

  init(bolt: BoltApp): void {
    this.bolt = bolt;
  }

  async start(): Promise<void> {
    if (!this.bolt) throw new Error('SlackReceiver.start before init');
    this.accepting = true;
  }

  /** Refuses new requests, then waits (bounded) for those in progress, replies after their acks included. */
  async stop(): Promise<void> {
    this.accepting = false;
    if (this.inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.drainMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.inflight]).then(() => undefined), timeout]);
    clearTimeout(timer);
  }

  /** The route handler for `POST /slack/events`. */
  readonly handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const log = this.options.logger.child({ requestId, route: 'POST /slack/events' });
    if (!this.accepting || !this.bolt) {
      req.resume();
      res.setHeader('connection', 'close');
      send(res, 503, { error: 'not accepting requests' });
      return;
    }
    let body: Body;
    try {
      const raw = await readBody(req, this.bodyLimit, this.bodyBudget);
      // Nothing of the request is looked at before its signature holds, not even its content type.
      const verdict = verifySlackSignature(req.headersDistinct, raw, { signingSecret: this.options.signingSecret, now: this.now });
      if (!verdict.ok) {
        log.warn({ status: 401, reason: verdict.reason, remote: req.socket.remoteAddress }, 'slack request refused');
        send(res, 401, { error: 'invalid signature' });
        return;
      }
      body = parseSlackBody(req.headers['content-type'], raw);
    } catch (err) {
      if (err instanceof HttpFailure) {
        log.warn({ status: err.status, reason: err.message }, 'slack request refused');
        for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
        send(res, err.status, { error: err.message });
        return;
      }
      throw err;
    }

    if (body.type === 'url_verification') {
      send(res, 200, { challenge: typeof body.challenge === 'string' ? body.challenge : '' });
      return;
    }
    if (body.ssl_check === '1') {
      send(res, 200);
      return;
    }
    if (this.options.teamId !== undefined && !fromWorkspace(body, this.options.teamId)) {
      log.warn({ status: 403, reason: 'another workspace', team: teamOf(body) ?? null }, 'slack request refused');
      send(res, 403, { error: 'this app serves another workspace' });
      return;
    }
    await this.dispatch(req, res, body, requestId, log);
  };

  private dispatch(req: IncomingMessage, res: ServerResponse, body: Body, requestId: string, log: Logger): Promise<void> {
    let answered = false;
    const timer = setTimeout(() => {
      if (answered) return;
      answered = true;
      // An empty 200 tells Slack the request arrived; the listener replies later through response_url.
      log.warn('slack request not acknowledged in time; answered empty');
      send(res, 200);
    }, this.unackedAfterMs);
    timer.unref();

    const ack: ReceiverEvent['ack'] = async (response?: unknown) => {
      if (answered) {
        log.warn('slack request acknowledged after it was answered; the acknowledgement body is lost');
        return;
      }
      answered = true;
      clearTimeout(timer);
      send(res, 200, response);
    };

    const event: ReceiverEvent = {
      body,
      ack,
      retryNum: headerNumber(req, 'x-slack-retry-num'),
      retryReason: typeof req.headers['x-slack-retry-reason'] === 'string' ? req.headers['x-slack-retry-reason'] : undefined,
      customProperties: { requestId },
    };
    const work = this.bolt!.processEvent(event).catch((err: unknown) => {
      log.error({ err }, 'slack request failed');
      if (!answered) {
        answered = true;
        clearTimeout(timer);
        send(res, 500, { error: 'internal error' });
      }
    });
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
    return work;
  }
}
