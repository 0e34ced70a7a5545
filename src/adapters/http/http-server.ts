// The HTTP listener for health checks and webhooks in local mode: plain node:http, a route table.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface Health {
  ok: boolean;
  reasons: string[];
}

export function healthRoute(check: () => Health): RouteHandler {
  return (_req, res) => {
    const health = check();
    const body = health.ok ? { status: 'ok' } : { status: 'unavailable', reasons: health.reasons };
    res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
}

export interface HttpServerOptions {
  routes: Record<string, RouteHandler>;
  logger: Logger;
  /** Told about every response: the route it matched (or `unmatched`), method, status and seconds taken. */
  onResponse?: (route: string, method: string, status: number, seconds: number) => void;
}

export function createHttpServer(options: HttpServerOptions): Server {
  const { routes, logger } = options;
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const key = `${req.method} ${url.pathname}`;
    const route = Object.hasOwn(routes, key) ? routes[key] : undefined;
    if (options.onResponse) {
      const onResponse = options.onResponse;
      const label = route ? url.pathname : 'unmatched';
      const started = process.hrtime.bigint();
      res.once('finish', () => onResponse(label, req.method ?? 'GET', res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
    }
    if (!route) {
      const allowed = Object.keys(routes).filter((k) => k.endsWith(` ${url.pathname}`));
      res
        .writeHead(allowed.length > 0 ? 405 : 404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: allowed.length > 0 ? 'method not allowed' : 'not found' }));
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      logger.error({ err, route: `${req.method} ${url.pathname}` }, 'route failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    });
  });
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
