// Reading a request body with a size cap, for routes that must check a signature over the raw bytes.
import type { IncomingMessage } from 'node:http';
import { BODY_BUDGET_RETRY_AFTER_S, type BodyBudget } from './body-budget.js';

/** A request refused with an HTTP status before any handler ran; `headers` go on the answer. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

// The rest of a refused body is never read, so the connection cannot carry another request.
const tooLarge = (): HttpFailure => new HttpFailure(413, 'request body too large', { connection: 'close' });
const endedEarly = (): HttpFailure => new HttpFailure(400, 'request body ended before its declared length', { connection: 'close' });
const overBudget = (): HttpFailure =>
  new HttpFailure(503, 'too many request bodies in flight; send again later', {
    connection: 'close',
    'retry-after': String(BODY_BUDGET_RETRY_AFTER_S),
  });

/**
 * The raw body, or an HttpFailure: 413 as soon as it (or its declared length) exceeds `limit`,
 * 503 with Retry-After as soon as holding it would take `budget` (shared by every unverified
 * body) over its cap. What the body took from the budget is given back however the read ends,
 * the client going away or timing out included.
 */
export function readBody(req: IncomingMessage, limit: number, budget?: BodyBudget): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: HttpFailure | undefined): void => {
      if (settled) return;
      settled = true;
      budget?.give(size);
      if (error) {
        chunks.length = 0;
        reject(error);
      } else {
        resolve(Buffer.concat(chunks, size));
      }
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (size + chunk.length > limit) {
        settle(tooLarge());
        return;
      }
      if (budget && !budget.take(chunk.length)) {
        settle(overBudget());
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => settle(undefined));
    // A client gone mid-body (or cut off by the request timeout): nobody reads the answer, but the budget is freed.
    req.on('error', () => settle(endedEarly()));
    req.on('close', () => settle(endedEarly()));
  });
}
