// Keeps a step's output within a fixed size: the first bytes and the last ones, counting what is dropped between.
import { maskSecrets } from './mask.js';
import type { OutputChunk, OutputStream } from './step-runner.js';

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** Most of the budget goes to the tail: a step's result and its last error are printed last. */
export const DEFAULT_HEAD_BYTES = 64 * 1024;

interface RawChunk {
  stream: OutputStream;
  data: Uint8Array;
}

export interface CapturedOutput {
  output: string;
  chunks: OutputChunk[];
  truncatedBytes: number;
}

/**
 * Collects output chunks in arrival order. Memory stays at most `maxBytes` plus one chunk however
 * much is pushed: the head fills first, then the tail keeps only the latest bytes.
 */
export class OutputCapture {
  readonly #headCap: number;
  readonly #tailCap: number;
  readonly #head: RawChunk[] = [];
  #headBytes = 0;
  // The tail is a queue: `#tailStart` advances as old chunks are dropped, compacted now and then.
  #tail: RawChunk[] = [];
  #tailStart = 0;
  #tailBytes = 0;
  #dropped = 0;
  #total = 0;

  constructor(options: { maxBytes?: number; headBytes?: number } = {}) {
    const max = options.maxBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.#headCap = Math.min(options.headBytes ?? DEFAULT_HEAD_BYTES, max);
    this.#tailCap = max - this.#headCap;
  }

  get totalBytes(): number {
    return this.#total;
  }

  get droppedBytes(): number {
    return this.#dropped;
  }

  push(stream: OutputStream, data: Uint8Array): void {
    if (data.length === 0) return;
    this.#total += data.length;
    let rest = data;
    if (this.#headBytes < this.#headCap) {
      const take = Math.min(this.#headCap - this.#headBytes, rest.length);
      // A copy when only part is kept, so a large chunk is not held alive by its first bytes.
      this.#head.push({ stream, data: take < rest.length ? rest.slice(0, take) : rest });
      this.#headBytes += take;
      rest = rest.subarray(take);
      if (rest.length === 0) return;
    }
    if (rest.length >= this.#tailCap) {
      // One chunk fills the whole tail: everything older goes.
      this.#dropped += this.#tailBytes + rest.length - this.#tailCap;
      this.#tail = this.#tailCap > 0 ? [{ stream, data: rest.slice(rest.length - this.#tailCap) }] : [];
      this.#tailStart = 0;
      this.#tailBytes = this.#tailCap;
      return;
    }
    this.#tail.push({ stream, data: rest });
    this.#tailBytes += rest.length;
    while (this.#tailBytes > this.#tailCap) {
      const front = this.#tail[this.#tailStart]!;
      const excess = this.#tailBytes - this.#tailCap;
      if (front.data.length <= excess) {
        this.#tailStart++;
        this.#tailBytes -= front.data.length;
        this.#dropped += front.data.length;
      } else {
        front.data = front.data.subarray(excess);
        this.#tailBytes -= excess;
        this.#dropped += excess;
      }
    }
    if (this.#tailStart > 1024 && this.#tailStart * 2 > this.#tail.length) {
      this.#tail = this.#tail.slice(this.#tailStart);
      this.#tailStart = 0;
    }
  }

  /** The kept output as text, secrets masked, including at the edges of a cut. */
  result(secrets: readonly string[] = []): CapturedOutput {
    const tail = this.#tail.slice(this.#tailStart);
    if (this.#dropped === 0) {
      const chunks = decode([...this.#head, ...tail]);
      return {
        output: maskSecrets(chunks.map((c) => c.text).join(''), secrets),
        chunks: chunks.map((c) => ({ stream: c.stream, text: maskSecrets(c.text, secrets) })),
        truncatedBytes: 0,
      };
    }
    const head = decode(this.#head);
    const kept = decode(tail);
    const marker = `\n[… ${this.#dropped} bytes of output dropped …]\n`;
    return {
      output:
        maskSecrets(head.map((c) => c.text).join(''), secrets, { cutAfter: true }) +
        marker +
        maskSecrets(kept.map((c) => c.text).join(''), secrets, { cutBefore: true }),
      chunks: [
        ...head.map((c, i) => ({ stream: c.stream, text: maskSecrets(c.text, secrets, { cutAfter: i === head.length - 1 }) })),
        ...kept.map((c, i) => ({ stream: c.stream, text: maskSecrets(c.text, secrets, { cutBefore: i === 0 }) })),
      ],
      truncatedBytes: this.#dropped,
    };
  }
}

/** Joins neighbouring chunks of the same stream (so a character or secret split across reads is whole) and decodes UTF-8. */
function decode(chunks: readonly RawChunk[]): OutputChunk[] {
  const out: OutputChunk[] = [];
  let i = 0;
  while (i < chunks.length) {
    const stream = chunks[i]!.stream;
    const parts: Uint8Array[] = [];
    let size = 0;
    for (; i < chunks.length && chunks[i]!.stream === stream; i++) {
      parts.push(chunks[i]!.data);
      size += chunks[i]!.data.length;
    }
    const joined = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.length;
    }
    out.push({ stream, text: new TextDecoder('utf-8').decode(joined) });
  }
  return out;
}
