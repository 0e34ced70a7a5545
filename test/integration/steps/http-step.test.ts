// An `http` step against a real server on loopback: statuses, timeout, cancel, refused connections, excerpts.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpStepRunner } from '../../../src/adapters/steps/http-step.js';

let server: Server;
let base: string;
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
const requestArrived: Array<() => void> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const url = new URL(req.url!, 'http://x');
      switch (url.pathname) {
        case '/healthz':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
          break;
        case '/status':
          res.writeHead(Number(url.searchParams.get('code'))).end(`answered ${url.searchParams.get('code')}`);
          break;
        case '/echo':
          res.writeHead(200).end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body }));
          break;
        case '/big':
          res.writeHead(200).end('y'.repeat(1024 * 1024));
          break;
        case '/redirect':
          res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
          break;
        case '/hang':
          requestArrived.shift()?.();
          break; // never answers
        default:
          res.writeHead(404).end('not found');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const run = createHttpStepRunner();

describe('http step', () => {
  it('succeeds when the status is the expected one', async () => {
    const r = await run({ method: 'GET', url: `${base}/healthz`, expectStatus: [200], timeoutMs: 5000 });
    expect(r).toEqual({ outcome: 'succeeded', status: 200, bodyExcerpt: '{"status":"ok"}', bodyTruncated: false, durationMs: expect.any(Number) });
  });

  it('fails on a status that was not expected, saying which', async () => {
    const r = await run({ method: 'GET', url: `${base}/status?code=503`, expectStatus: [200], timeoutMs: 5000 });
    expect(r).toMatchObject({ outcome: 'failed', status: 503, bodyExcerpt: 'answered 503', error: 'expected status 200, got 503' });
  });

  it('accepts any status of a list', async () => {
    const ok = await run({ method: 'GET', url: `${base}/status?code=204`, expectStatus: [200, 204], timeoutMs: 5000 });
    expect(ok).toMatchObject({ outcome: 'succeeded', status: 204 });
    const bad = await run({ method: 'GET', url: `${base}/status?code=500`, expectStatus: [200, 204], timeoutMs: 5000 });
    expect(bad).toMatchObject({ outcome: 'failed', error: 'expected status one of 200, 204, got 500' });
  });

  it('sends the method, headers and body', async () => {
    const r = await run({
      method: 'POST',
      url: `${base}/echo`,
      headers: { Authorization: 'Bearer tok-5e3c7a1b', 'content-type': 'application/json' },
      body: '{"by":"INC-7"}',
      expectStatus: [200],
      timeoutMs: 5000,
    });
    expect(JSON.parse(r.bodyExcerpt)).toEqual({ method: 'POST', auth: 'Bearer tok-5e3c7a1b', body: '{"by":"INC-7"}' });
  });

  it('masks secrets in the body excerpt', async () => {
    const r = await run({
      method: 'POST',
      url: `${base}/echo`,
      headers: { Authorization: 'Bearer tok-5e3c7a1b' },
      expectStatus: [200],
      timeoutMs: 5000,
      secrets: ['tok-5e3c7a1b'],
    });
    expect(r.bodyExcerpt).toContain('Bearer [secret]');
    expect(r.bodyExcerpt).not.toContain('tok-5e3c7a1b');
  });

  it('keeps only the first 4 KB of a large body', async () => {
    const r = await run({ method: 'GET', url: `${base}/big`, expectStatus: [200], timeoutMs: 5000 });
    expect(r).toMatchObject({ outcome: 'succeeded', bodyTruncated: true });
    expect(r.bodyExcerpt).toBe('y'.repeat(4096));
  });

  it('does not follow redirects', async () => {
    const count = seen.length;
    const r = await run({ method: 'GET', url: `${base}/redirect`, expectStatus: [200], timeoutMs: 5000 });
    expect(r).toMatchObject({ outcome: 'failed', status: 302, error: 'expected status 200, got 302' });
    expect(seen.length).toBe(count + 1);
  });

  it('times out when no response arrives in time', async () => {
    const r = await run({ method: 'GET', url: `${base}/hang`, expectStatus: [200], timeoutMs: 300 });
    expect(r).toMatchObject({ outcome: 'timed_out', status: null, error: 'no complete response within 300ms' });
    expect(r.durationMs).toBeGreaterThanOrEqual(250);
  });

  it('is cancelled by its signal', async () => {
    const controller = new AbortController();
    const arrived = new Promise<void>((resolve) => requestArrived.push(resolve));
    const result = run({ method: 'GET', url: `${base}/hang`, expectStatus: [200], timeoutMs: 60_000, signal: controller.signal });
    await arrived;
    controller.abort();
    expect(await result).toMatchObject({ outcome: 'cancelled', status: null, error: 'cancelled' });
  });

  it('fails with a clear message when the connection is refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await run({ method: 'GET', url: `http://127.0.0.1:${port}/healthz`, expectStatus: [200], timeoutMs: 5000 });
    expect(r).toMatchObject({ outcome: 'failed', status: null, error: `connection refused by http://127.0.0.1:${port} (ECONNREFUSED)` });
  });

  it.each(['file:///etc/passwd', 'ftp://127.0.0.1/', 'data:text/plain,hi'])('refuses %s without sending anything', async (url) => {
    const calls: unknown[] = [];
    const guarded = createHttpStepRunner({
      fetch: async (...args: unknown[]) => {
        calls.push(args);
        throw new Error('must not be called');
      },
    });
    const r = await guarded({ method: 'GET', url, expectStatus: [200], timeoutMs: 5000 });
    expect(r).toMatchObject({ outcome: 'failed', status: null });
    expect(r.error).toMatch(/^only http and https URLs are allowed/);
    expect(calls).toEqual([]);
  });

  it('refuses a malformed URL', async () => {
    const r = await run({ method: 'GET', url: 'not a url', expectStatus: [200], timeoutMs: 5000 });
    expect(r).toMatchObject({ outcome: 'failed', error: 'not a valid URL: not a url' });
  });
});
