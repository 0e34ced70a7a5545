// A seeded fuzz of the HTTP front: 10,000 random and malformed request lines, headers and bodies against `edgeops serve`; it never exits and /healthz answers 200 after.
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../fixtures/slack/slack-harness.js';
import { pagerdutySignature, startServeProcess, statusOf, type ServeProcess } from './serve-process.js';

/** Set EDGEOPS_FUZZ_SEED to replay a run; the seed of every run is printed in its summary line. */
const SEED = Number(process.env.EDGEOPS_FUZZ_SEED ?? 0x9e0ff5);
const REQUESTS = 10_000;
/** Connections open at once. */
const PARALLEL = 32;
/** Without an answer by then the client half-closes, which makes the server finish (or refuse) what it has. */
const END_AFTER_MS = 60;
/** A connection the server still holds this long after the client's half-close counts as hung. */
const HUNG_AFTER_MS = 5_000;

let serve: ServeProcess & { close(): Promise<void> };

beforeAll(async () => {
  serve = await startServeProcess();
});
afterAll(async () => {
  await serve.close();
});

/** One generated request: either structured (line, headers, body) or raw bytes; `sign` asks for a valid signature at send time. */
interface Case {
  raw?: Buffer;
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
  eol: string;
  sign: 'none' | 'slack' | 'pagerduty';
  truncateAt?: number;
}

const ROUTES = ['/slack/events', '/webhooks/pagerduty', '/healthz', '/metrics', '/runs/output', '/', '/favicon.ico'];
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const anyChars = (max: number) => fc.string({ unit: fc.integer({ min: 0, max: 0x2ff }).map((c) => String.fromCharCode(c)), maxLength: max });

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST') },
  { weight: 2, arbitrary: fc.constantFrom('PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PRI', 'get', 'M-SEARCH') },
  { weight: 1, arbitrary: printable(12) },
);

const target = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ROUTES) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), printable(40)).map(([r, s]) => r + s) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), fc.webQueryParameters()).map(([r, q]) => `${r}?${q}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '//[',
      'http://[::1',
      'http://[::1]/healthz',
      'http://x:99999/',
      '*',
      '//a:b/healthz',
      '/%',
      '/%zz',
      '/..%2f..%2f',
      'https://127.0.0.1/healthz',
      'file:///etc/passwd',
      '/\u00e9',
      '/runs/output?run=R-1&expires=1e99&sig=%',
    ),
  },
  { weight: 1, arbitrary: fc.webUrl() },
  { weight: 1, arbitrary: anyChars(60) },
  { weight: 1, arbitrary: fc.constant('') },
);

const version = fc.oneof(
  { weight: 10, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1x', 'http/1.1', '') },
);

const header: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constant('Content-Length'),
    fc.oneof(fc.nat({ max: 5000 }).map(String), fc.constantFrom('-1', '99999999999999999999', 'abc', '1 2', '0x10', ' 5', '')),
  ),
  fc.tuple(fc.constant('Transfer-Encoding'), fc.constantFrom('chunked', 'gzip, chunked', 'identity', 'chunked, gzip', 'xchunked')),
  fc.tuple(
    fc.constant('Content-Type'),
    fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', ''),
  ),
  fc.tuple(fc.constantFrom('X-Slack-Signature', 'X-Slack-Request-Timestamp', 'X-PagerDuty-Signature', 'X-Webhook-Id', 'X-Slack-Retry-Num'), printable(80)),
  fc.tuple(
    fc.constantFrom('Host', 'Expect', 'Upgrade', 'Connection'),
    fc.constantFrom('', 'x', '100-continue', 'websocket', 'h2c', 'keep-alive', 'close', 'Upgrade'),
  ),
  fc.tuple(printable(20), printable(60)),
  fc.tuple(anyChars(10), anyChars(30)),
);

const body = fc.oneof(
  { weight: 3, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 2, arbitrary: fc.json().map((j) => Buffer.from(j)) },
  { weight: 2, arbitrary: fc.webQueryParameters().map((q) => Buffer.from(q)) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('payload=%7B', 'payload={"type":"block_actions"}', '{"event":{}}', 'command=/incident&text=declare')
      .map((s) => Buffer.from(s)),
  },
  { weight: 2, arbitrary: bytes(2048) },
);

const structured: fc.Arbitrary<Case> = fc.record({
  method,
  target,
  version,
  headers: fc.array(header, { maxLength: 8 }),
  body,
  eol: fc.oneof({ weight: 12, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\r\r\n') }),
  sign: fc.oneof(
    { weight: 12, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constantFrom('slack' as const, 'pagerduty' as const) },
  ),
  truncateAt: fc.option(fc.nat({ max: 400 }), { freq: 6, nil: undefined }),
});

const garbage: fc.Arbitrary<Case> = bytes(600).map((raw) => ({
  raw,
  method: '',
  target: '',
  version: '',
  headers: [],
  body: Buffer.alloc(0),
  eol: '',
  sign: 'none',
}));

const cases = fc.oneof({ weight: 9, arbitrary: structured }, { weight: 1, arbitrary: garbage });

/** The bytes to send; signatures (which depend on the clock) are made now, over the body as it will be sent. */
function render(c: Case): Buffer {
  if (c.raw) return c.raw;
  const headers = [...c.headers];
  if (c.sign === 'slack') for (const [k, v] of Object.entries(signedHeaders(c.body))) headers.push([k, v]);
  if (c.sign === 'pagerduty') headers.push(['X-PagerDuty-Signature', pagerdutySignature(c.body)]);
  if (!headers.some(([k]) => /^content-length$/i.test(k)) && c.body.length > 0) headers.push(['Content-Length', String(c.body.length)]);
  if (!headers.some(([k]) => /^host$/i.test(k))) headers.unshift(['Host', '127.0.0.1']);
  const head = `${c.method} ${c.target} ${c.version}${c.eol}${headers.map(([k, v]) => `${k}: ${v}${c.eol}`).join('')}${c.eol}`;
  const all = Buffer.concat([Buffer.from(head, 'latin1'), c.body]);
  return c.truncateAt === undefined ? all : all.subarray(0, Math.min(all.length, c.truncateAt));
}

type Outcome = { status: number | null; hung: boolean; reset: boolean };

function send(port: number, payload: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let reset = false;
    let endTimer: NodeJS.Timeout | undefined;
    let hungTimer: NodeJS.Timeout | undefined;
    const endSoon = (ms: number): void => {
      if (endTimer) return;
      endTimer = setTimeout(() => {
        if (!socket.destroyed) socket.end();
        hungTimer = setTimeout(() => {
          socket.destroy();
          resolve({ status: statusOf(text), hung: true, reset });
        }, HUNG_AFTER_MS);
      }, ms);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      endSoon(5);
    });
    socket.on('error', () => (reset = true));
    socket.on('close', () => {
      clearTimeout(endTimer);
      clearTimeout(hungTimer);
      resolve({ status: statusOf(text), hung: false, reset });
    });
    socket.on('connect', () => {
      socket.write(payload);
      endSoon(END_AFTER_MS);
    });
  });
}

describe('fuzzing the HTTP front of edgeops serve', () => {
  it(`survives ${REQUESTS.toLocaleString('en')} random and malformed requests: never exits, never answers 500, never hangs a connection, and /healthz answers 200 after`, async () => {
    const generated = fc.sample(cases, { seed: SEED, numRuns: REQUESTS });
    const rssBefore = serve.rssBytes();
    const started = Date.now();
    const statuses = new Map<string, number>();
    let sentBytes = 0;
    let hung = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < generated.length) {
        const payload = render(generated[next++]!);
        sentBytes += payload.length;
        const outcome = await send(serve.port, payload);
        if (outcome.hung) hung++;
        const key = outcome.status === null ? 'closed' : String(outcome.status);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const seconds = (Date.now() - started) / 1000;

    const health = await fetch(`${serve.url}/healthz`);
    const summary = [...statuses.entries()]
      .sort()
      .map(([k, v]) => `${k}×${v}`)
      .join(' ');
    const mb = (n: number | undefined) => ((n ?? 0) / 1024 / 1024).toFixed(0);
    console.log(
      `http fuzz seed=${SEED}: ${REQUESTS} requests, ${(sentBytes / 1024).toFixed(0)} KB in ${seconds.toFixed(1)} s → ${summary}; hung ${hung}; ` +
        `/healthz ${health.status} after; alive ${serve.alive()}; RSS ${mb(rssBefore)} → ${mb(serve.rssBytes())} MB`,
    );
    expect(serve.alive()).toBe(true);
    expect(health.status).toBe(200);
    expect(statuses.get('500') ?? 0).toBe(0);
    expect(hung).toBe(0);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
  }, 120_000);
});
