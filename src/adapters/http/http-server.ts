// The HTTP listener for health checks and webhooks in every mode: plain node:http, a route table, nothing that can crash it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../../log.js';
import { parseRequestTarget } from './request-target.js';

export { requestUrl } from './request-target.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface Health {
  ok: boolean;
  reasons: string[];
}

export function healthRoute(check: () => Health | Promise<Health>): RouteHandler {
  return async (_req, res) => {
    const health = await check();
    const body = health.ok ? { status: 'ok' } : { status: 'unavailable', reasons: health.reasons };
    res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
}

/**
 * How long a client may take. Slack and PagerDuty send a request's headers in one packet and its
 * body at once; these bound how long a slow (or silent) client holds a connection and the body
 * bytes it sent so far.
 */
export interface HttpTimeouts {
  /** From connection (or the previous request) to the end of the headers. */
  headersMs: number;
  /** From connection (or the previous request) to the end of the body. */
  requestMs: number;
  /** How often connections are checked against the two above (Node checks every 30 s by default). */
  checkEveryMs: number;
}

export const HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, checkEveryMs: 1_000 };

export interface HttpServerOptions {
  routes: Record<string, RouteHandler>;
  logger: Logger;
  /** Told about every response: the route it matched (or `unmatched`), method, status and seconds taken. */
  onResponse?: (route: string, method: string, status: number, seconds: number) => void;
  timeouts?: Partial<HttpTimeouts>;
}

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Answers for requests the parser refused, by Node's error code; anything else it refused is a 400. */
const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
};

export function createHttpServer(options: HttpServerOptions): Server {
  const { routes, logger } = options;
  const timeouts = { ...HTTP_TIMEOUTS, ...options.timeouts };
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkEveryMs,
    },
    (req, res) => {
      try {
        handle(req, res);
      } catch (err) {
        // A route that throws before its first await: the same answer as one that rejects.
        failed(req, res, err);
      }
    },
  );

  const failed = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    logger.error({ err, method: req.method, route: parseRequestTarget(req.url)?.pathname ?? 'unparsed' }, 'route failed');
    try {
      sendJson(res, 500, { error: 'internal error' });
    } catch {
      res.destroy();
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const url = parseRequestTarget(req.url);
    const key = url ? `${method} ${url.pathname}` : '';
    const route = url && Object.hasOwn(routes, key) ? routes[key] : undefined;
    if (options.onResponse) {
      const onResponse = options.onResponse;
      const label = route && url ? url.pathname : 'unmatched';
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        try {
          onResponse(label, method, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
        } catch (err) {
          logger.error({ err }, 'response observer failed');
        }
      });
    }
    if (!url) {
      logger.warn({ status: 400, method, remote: req.socket.remoteAddress, targetLength: req.url?.length ?? 0 }, 'malformed request target refused');
      sendJson(
        res,
        400,
        { error: 'malformed request target: send a path such as /healthz, made of URL characters (percent-encode the rest)' },
        { connection: 'close' },
      );
      return;
    }
    if (!route) {
      const allowed = Object.keys(routes).filter((k) => k.endsWith(` ${url.pathname}`));
      sendJson(res, allowed.length > 0 ? 405 : 404, { error: allowed.length > 0 ? 'method not allowed' : 'not found' });
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => failed(req, res, err));
  };

  // Requests the parser refuses (a broken request line, oversized headers, a timeout) never reach a route.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? 'unknown';
    if (code === 'ECONNRESET' || code === 'EPIPE') {
      socket.destroy();
      return;
    }
    logger.warn({ code, remote: socket.remoteAddress }, 'http request refused by the parser');
    const [status, text] = CLIENT_ERROR_STATUS[code] ?? [400, 'Bad Request'];
    // A response already started on this connection cannot be replaced by another.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify({ error: status === 400 ? 'malformed HTTP request' : text.toLowerCase() });
      socket.end(
        `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroySoon();
  });
  return server;
}

export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}`;
}

/** Creates the server and starts listening; `url` resolves to where it listens. */
export function startHttpServer(options: HttpServerOptions & { port: number; host: string }): { server: Server; url: Promise<string> } {
  const server = createHttpServer(options);
  return { server, url: listen(server, options.port, options.host) };
}
