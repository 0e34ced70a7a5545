// A fake Slack Web API in its own process that enforces Slack's rate limits (429 + Retry-After) and records what it took.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLimitEnforcer } from './slack-limit-enforcer.js';

/** One call the fake answered: when (epoch ms, as it answered), what, and whether it took it. */
export interface RecordedCall {
  at: number;
  method: string;
  channel?: string;
  status: number;
  text?: string;
}

/**
 * Calls over loopback sent a second apart can arrive a few milliseconds closer together; a tenth
 * of a token (100 ms of posting) forgives that jitter and nothing more.
 */
const JITTER_TOLERANCE = 0.1;

function start(): void {
  const limits = createLimitEnforcer({ tolerance: JITTER_TOLERANCE });
  const calls: RecordedCall[] = [];
  let n = 0;

  const answer = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? '/', 'http://fake.slack');
    // The bench's own questions: every call recorded from `since` on, and the 429s so far.
    if (url.pathname === '/_bench/calls') {
      answer(res, 200, { calls: calls.slice(Number(url.searchParams.get('since') ?? 0)), refused: limits.refused });
      return;
    }
    const method = url.pathname.replace(/^\/api\//, '');
    const params = Object.fromEntries(new URLSearchParams(raw).entries());
    const channel = params.channel ?? params.channel_id;
    const verdict = limits.check(method, channel, Date.now());
    n += 1;
    const record: RecordedCall = { at: 0, method, status: verdict.ok ? 200 : 429, ...(channel ? { channel } : {}) };
    // A result's output tail travels in its blocks; the text is the fallback.
    if (method === 'chat.postMessage' || method === 'chat.update') record.text = `${params.text ?? ''}\n${params.blocks ?? ''}`;
    if (!verdict.ok) {
      record.at = Date.now();
      calls.push(record);
      answer(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(verdict.retryAfter) });
      return;
    }
    const body: Record<string, unknown> = { ok: true };
    if (method === 'auth.test') Object.assign(body, { user_id: 'U0BOT0001', bot_id: 'B0BOT0001', team_id: 'T0BENCH01' });
    if (method === 'usergroups.users.list') body.users = [];
    if (method === 'conversations.create') body.channel = { id: `C0B${String(n).padStart(7, '0')}`, name: params.name };
    if (method === 'chat.postMessage') Object.assign(body, { channel, ts: `1700000000.${String(n).padStart(6, '0')}` });
    if (method === 'chat.update') Object.assign(body, { channel, ts: params.ts });
    record.at = Date.now();
    calls.push(record);
    answer(res, 200, body);
  }

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => handle(req, res, raw));
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

start();
