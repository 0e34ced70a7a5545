// Malformed request lines and URLs against a running `edgeops serve`: each answered 400 and logged, the process never exits; a route that throws is a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, listen, type RouteHandler } from '../../src/adapters/http/http-server.js';
import { createLogger } from '../../src/log.js';
import { exchange, startServeProcess, type ServeProcess } from './serve-process.js';

let serve: ServeProcess & { close(): Promise<void> };

beforeAll(async () => {
  serve = await startServeProcess();
});
afterAll(async () => {
  await serve.close();
});

const request = (line: string): string => `${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;

async function healthy(): Promise<number> {
  return (await fetch(`${serve.url}/healthz`)).status;
}

describe('edgeops serve facing malformed requests', () => {
  it('answers 400 to request targets no URL can be made of (GET //[, GET http://[::1) and keeps serving', async () => {
    const targets = [
      'GET //[ HTTP/1.1',
      'GET http://[::1 HTTP/1.1',
      'GET http://[::1]:99999/healthz HTTP/1.1',
      'POST //[/webhooks/pagerduty HTTP/1.1',
      'GET /runs/output?run=[R-1] HTTP/1.1',
      'GET /healthz%zz HTTP/1.1',
      'GET * HTTP/1.1',
      'GET ftp://example.com/healthz HTTP/1.1',
    ];
    for (const line of targets) {
      const answer = await exchange(serve.port, request(line));
      expect(answer.status, line).toBe(400);
      expect(answer.text, line).toContain('malformed request target');
      expect(serve.alive(), `the process exited after "${line}"`).toBe(true);
    }
    expect(await healthy()).toBe(200);
    // The log is written asynchronously: wait for every line rather than read it at once.
    const refused = () => serve.logs().filter((l) => l.msg === 'malformed request target refused');
    await expect.poll(() => refused().length, { timeout: 5_000 }).toBe(targets.length);
    expect(refused().every((l) => l.status === 400 && l.level === 'warn')).toBe(true);
  });

  it('answers 400 to request lines and headers the HTTP parser refuses, and logs each', async () => {
    const before = serve.logs().filter((l) => l.msg === 'http request refused by the parser').length;
    const broken = [
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/9.9\r\n\r\n',
      'GET /he\x00althz HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n',
      'POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello',
      'POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ];
    for (const bytes of broken) {
      const answer = await exchange(serve.port, bytes);
      expect(answer.status, JSON.stringify(bytes)).toBe(400);
      expect(answer.closed, JSON.stringify(bytes)).toBe(true);
      expect(serve.alive()).toBe(true);
    }
    await expect
      .poll(() => serve.logs().filter((l) => l.msg === 'http request refused by the parser').length - before, { timeout: 5_000 })
      .toBe(broken.length);
    expect(await healthy()).toBe(200);
  });

  it('still routes well-formed absolute-form targets, as proxies send them', async () => {
    const answer = await exchange(serve.port, request(`GET http://127.0.0.1:${serve.port}/healthz HTTP/1.1`));
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('{"status":"ok"}');
  });
});

describe('a route that throws', () => {
  it('is answered 500 and logged, whether it throws before its first await or after, and the server keeps serving', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    const routes: Record<string, RouteHandler> = {
      'GET /sync': () => {
        throw new TypeError('thrown synchronously');
      },
      'GET /async': async () => {
        await Promise.resolve();
        throw new Error('rejected');
      },
      'GET /late': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('half an answer');
        throw new Error('thrown after the headers went out');
      },
      'GET /ok': (_req, res) => void res.writeHead(200).end('ok'),
    };
    const server = createHttpServer({ routes, logger, onResponse: () => undefined });
    const base = await listen(server, 0, '127.0.0.1');
    try {
      for (const route of ['/sync', '/async']) {
        const res = await fetch(`${base}${route}`, { signal: AbortSignal.timeout(5_000) });
        expect(res.status, route).toBe(500);
        expect(await res.json()).toEqual({ error: 'internal error' });
      }
      // Headers already sent: the answer is ended where it stood rather than replaced.
      const late = await fetch(`${base}/late`);
      expect(late.status).toBe(200);
      expect(await late.text()).toBe('half an answer');
      expect((await fetch(`${base}/ok`)).status).toBe(200);
      const failed = lines.filter((l) => l.msg === 'route failed');
      expect(failed.map((l) => l.route)).toEqual(['/sync', '/async', '/late']);
      expect(failed.every((l) => l.level === 'error')).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
