// Memory before the signature check: many slow unsigned bodies against `edgeops serve` hit one shared budget (503 + Retry-After), PagerDuty's 256 KB cap, and timeouts that close slow clients.
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBodyBudget } from '../../src/adapters/http/body-budget.js';
import { createHttpServer, listen } from '../../src/adapters/http/http-server.js';
import { pagerdutyWebhookRoute } from '../../src/adapters/pagerduty/webhook-route.js';
import { createLogger } from '../../src/log.js';
import { FORM, USERS, commandBody, signedHeaders } from '../fixtures/slack/slack-harness.js';
import { exchange, headerOf, openRaw, pagerdutyPing, pagerdutySignature, startServeProcess, statusOf, type ServeProcess } from './serve-process.js';

let serve: ServeProcess & { close(): Promise<void> };

beforeAll(async () => {
  serve = await startServeProcess();
});
afterAll(async () => {
  await serve.close();
});

const MB = 1024 * 1024;
const BUDGET = 32 * MB;

/** Opens a connection, sends headers declaring `declared` bytes and `sent` of them, and keeps it open. */
async function slowBody(port: number, route: string, declared: number, sent: number) {
  const raw = openRaw(port);
  await raw.connected;
  const type = route === '/slack/events' ? FORM : 'application/json';
  raw.socket.write(`POST ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${declared}\r\n\r\n`);
  raw.socket.write(Buffer.alloc(sent, 0x61));
  return raw;
}

async function postPagerduty(body: string): Promise<Response> {
  return fetch(`${serve.url}/webhooks/pagerduty`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-pagerduty-signature': pagerdutySignature(body) },
  });
}

describe('unsigned request bodies in flight', () => {
  it('beyond the 32 MB Slack and PagerDuty share, are refused 503 with Retry-After; once they are gone signed requests are taken again', async () => {
    const rssBefore = serve.rssBytes();
    // 40 × 800 KB to Slack stays under the budget by itself; 10 × 200 KB more to PagerDuty goes over it.
    const slack = await Promise.all(Array.from({ length: 40 }, () => slowBody(serve.port, '/slack/events', 1_000_000, 800_000)));
    const pagerduty = await Promise.all(Array.from({ length: 10 }, () => slowBody(serve.port, '/webhooks/pagerduty', 250_000, 200_000)));
    const all = [...slack, ...pagerduty];
    const sentBytes = 40 * 800_000 + 10 * 200_000;
    expect(sentBytes).toBeGreaterThan(BUDGET);

    const answered = () => all.filter((c) => statusOf(c.received()) !== null);
    await expect.poll(() => answered().length, { timeout: 20_000, interval: 100 }).toBeGreaterThan(0);
    // Whatever is still held fits in the budget, so at least this many must have been refused.
    const mustRefuse = Math.ceil((sentBytes - BUDGET) / 800_000);
    await expect.poll(() => answered().length, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(mustRefuse);
    for (const c of answered()) {
      const text = c.received();
      expect(statusOf(text)).toBe(503);
      expect(headerOf(text, 'retry-after')).toBe('5');
      expect(headerOf(text, 'connection')).toBe('close');
      expect(text).toContain('too many request bodies in flight; send again later');
    }
    // Routes without a body are not held up by the budget.
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
    const rssPeak = serve.rssBytes();
    const refused = answered().length;

    for (const c of all) c.socket.destroy();
    // Closed connections give their bytes back: a signed delivery is stored once the server has seen them go.
    let n = 0;
    await expect.poll(async () => (await postPagerduty(pagerdutyPing(`EVT-BUDGET-${++n}`))).status, { timeout: 10_000, interval: 100 }).toBe(202);
    const command = commandBody(USERS.sre, 'C0GENERAL1', '/incident', 'help');
    const slash = await fetch(`${serve.url}/slack/events`, {
      method: 'POST',
      body: command,
      headers: { 'content-type': FORM, ...signedHeaders(command) },
    });
    expect(slash.status).toBe(200);
    expect(serve.alive()).toBe(true);
    console.log(
      `body budget: ${all.length} slow unsigned bodies (${(sentBytes / MB).toFixed(1)} MB) → ${refused} refused 503, ${all.length - refused} held; ` +
        `server RSS ${((rssBefore ?? 0) / MB).toFixed(0)} → ${((rssPeak ?? 0) / MB).toFixed(0)} MB`,
    );
  }, 60_000);

  it('over 256 KB, a PagerDuty delivery is refused 413 (declared or chunked) and nothing is stored; one of exactly 256 KB is accepted', async () => {
    const limit = 256 * 1024;
    const atLimit = pagerdutyPing('EVT-AT-LIMIT', limit);
    expect(Buffer.byteLength(atLimit)).toBe(limit);
    expect((await postPagerduty(atLimit)).status).toBe(202);

    const over = pagerdutyPing('EVT-OVER-LIMIT', limit + 1);
    const refused = await postPagerduty(over);
    expect(refused.status).toBe(413);
    expect(await refused.json()).toEqual({ error: 'request body too large' });

    // Without a declared length the cap holds as the bytes arrive.
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const chunked = await exchange(
      serve.port,
      `POST /webhooks/pagerduty HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-PagerDuty-Signature: ${pagerdutySignature(over)}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        chunk(over.slice(0, 200_000)) +
        chunk(over.slice(200_000)) +
        '0\r\n\r\n',
    );
    expect(chunked.status).toBe(413);
    // A stored event is logged as such; the refused ones were not.
    await expect
      .poll(
        () =>
          serve
            .logs()
            .filter((l) => l.msg === 'pagerduty webhook stored')
            .map((l) => l.eventId),
        { timeout: 5_000 },
      )
      .toContain('EVT-AT-LIMIT');
    expect(
      serve
        .logs()
        .filter((l) => l.msg === 'pagerduty webhook stored')
        .map((l) => l.eventId),
    ).not.toContain('EVT-OVER-LIMIT');
  });

  it('closes a slow-loris connection that never finishes its headers with 408', async () => {
    const raw = openRaw(serve.port);
    await raw.connected;
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // One more header line every half second, for far longer than the 10 s allowed for headers.
    let i = 0;
    const drip = setInterval(() => {
      if (!raw.socket.destroyed) raw.socket.write(`X-Drip-${i++}: ${'y'.repeat(8)}\r\n`);
    }, 500);
    try {
      const answer = await Promise.race([raw.answer, new Promise<null>((resolve) => setTimeout(() => resolve(null), 25_000))]);
      expect(answer, 'the server kept the slow connection open for 25 s').not.toBeNull();
      expect(answer!.status).toBe(408);
      expect(serve.alive()).toBe(true);
    } finally {
      clearInterval(drip);
      raw.socket.destroy();
    }
  }, 40_000);
});

describe('the request timeout', () => {
  it('closes a connection whose body trickles past it with 408, and gives the body budget back', async () => {
    const budget = createBodyBudget(MB);
    const logger = createLogger({ level: 'silent' });
    const route = pagerdutyWebhookRoute({
      secrets: ['s'.repeat(32)],
      store: () => Promise.reject(new Error('nothing may be stored')),
      logger,
      bodyBudget: budget,
    });
    const server = createHttpServer({
      routes: { 'POST /webhooks/pagerduty': route },
      logger,
      timeouts: { headersMs: 300, requestMs: 600, checkEveryMs: 50 },
    });
    const base = new URL(await listen(server, 0, '127.0.0.1'));
    const raw = openRaw(Number(base.port));
    let drip: NodeJS.Timeout | undefined;
    try {
      await raw.connected;
      raw.socket.write('POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n');
      raw.socket.write(Buffer.alloc(10_000, 0x61));
      await expect.poll(() => budget.inUse(), { timeout: 2_000, interval: 10 }).toBe(10_000);
      drip = setInterval(() => !raw.socket.destroyed && raw.socket.write('a'), 50);
      const answer = await Promise.race([raw.answer, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000))]);
      expect(answer, 'the server kept the trickling connection open for 10 s').not.toBeNull();
      expect(answer!.status).toBe(408);
      await expect.poll(() => budget.inUse(), { timeout: 2_000, interval: 10 }).toBe(0);
    } finally {
      clearInterval(drip);
      raw.socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('gives the budget back when a client goes away mid-body or is refused over the cap', async () => {
    const budget = createBodyBudget(MB);
    const logger = createLogger({ level: 'silent' });
    const route = pagerdutyWebhookRoute({
      secrets: ['s'.repeat(32)],
      store: () => Promise.reject(new Error('nothing may be stored')),
      logger,
      bodyBudget: budget,
      bodyLimitBytes: 50_000,
    });
    const server = createHttpServer({ routes: { 'POST /webhooks/pagerduty': route }, logger });
    const port = Number(new URL(await listen(server, 0, '127.0.0.1')).port);
    const sockets: Socket[] = [];
    try {
      const gone = openRaw(port);
      sockets.push(gone.socket);
      await gone.connected;
      gone.socket.write('POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n');
      gone.socket.write(Buffer.alloc(30_000, 0x61));
      await expect.poll(() => budget.inUse(), { timeout: 2_000, interval: 10 }).toBe(30_000);
      gone.socket.destroy();
      await expect.poll(() => budget.inUse(), { timeout: 2_000, interval: 10 }).toBe(0);

      // Chunked, so the cap is found while reading rather than from a declared length.
      const over = await exchange(
        port,
        `POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${(60_000).toString(16)}\r\n${'a'.repeat(60_000)}\r\n0\r\n\r\n`,
      );
      expect(over.status).toBe(413);
      expect(budget.inUse()).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
