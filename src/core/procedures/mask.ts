// Masking of secret values in step output, run records and anything else stored or posted.

export const SECRET_MASK = '[secret]';

/**
 * Values shorter than this are not masked: replacing every `abc` or `1` in output would turn it
 * into noise while protecting nothing. `resolveParams` refuses secret params this short, so no
 * procedure secret ever goes unmasked because of it.
 */
export const MIN_MASKED_SECRET_LENGTH = 4;

export interface MaskOptions {
  /**
   * The text starts right after a cut (output dropped before it): a leading fragment that ends a
   * secret is masked too, so no piece of a secret survives at the edge.
   */
  cutBefore?: boolean;
  /** The text ends right before a cut: a trailing fragment that starts a secret is masked too. */
  cutAfter?: boolean;
}

/** The distinct values worth masking, longest first. */
export function maskableSecrets(secrets: readonly string[]): string[] {
  const unique = [...new Set(secrets.filter((s) => s.length >= MIN_MASKED_SECRET_LENGTH))];
  return unique.sort((a, b) => b.length - a.length);
}

/**
 * Replaces every occurrence of every secret with `[secret]`. Overlapping or adjacent occurrences
 * (of the same or different secrets) become one mask, so no fragment of either is left visible.
 */
export function maskSecrets(text: string, secrets: readonly string[], options: MaskOptions = {}): string {
  const values = maskableSecrets(secrets);
  if (values.length === 0 || text.length === 0) return text;

  const spans: Array<[number, number]> = [];
  for (const secret of values) {
    for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
      spans.push([at, at + secret.length]);
    }
  }
  if (options.cutBefore) {
    const n = longestEdgeFragment(values, (k, s) => text.startsWith(s.slice(s.length - k)), text.length);
    if (n > 0) spans.push([0, n]);
  }
  if (options.cutAfter) {
    const n = longestEdgeFragment(values, (k, s) => text.endsWith(s.slice(0, k)), text.length);
    if (n > 0) spans.push([text.length - n, text.length]);
  }
  if (spans.length === 0) return text;

  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  let [start, end] = spans[0]!;
  for (const [s, e] of spans.slice(1)) {
    if (s <= end) {
      end = Math.max(end, e);
      continue;
    }
    out += text.slice(pos, start) + SECRET_MASK;
    pos = end;
    [start, end] = [s, e];
  }
  return out + text.slice(pos, start) + SECRET_MASK + text.slice(end);
}

/** Longest proper fragment (1 … length-1 characters) of any secret that `matches` at the edge. */
function longestEdgeFragment(
  secrets: readonly string[],
  matches: (k: number, secret: string) => boolean,
  textLength: number,
): number {
  let best = 0;
  for (const secret of secrets) {
    for (let k = Math.min(secret.length - 1, textLength); k > best; k--) {
      if (matches(k, secret)) {
        best = k;
        break;
      }
    }
  }
  return best;
}

/**
 * Masks every string (object keys included) in JSON-able data: strings, numbers, booleans, null,
 * arrays and plain objects. Other values are returned as they are. The input is not modified.
 */
export function maskDeep<T>(value: T, secrets: readonly string[]): T {
  const values = maskableSecrets(secrets);
  if (values.length === 0) return value;
  return walk(value, values) as T;
}

function walk(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return maskSecrets(value, secrets);
  if (Array.isArray(value)) return value.map((v) => walk(v, secrets));
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[maskSecrets(k, secrets)] = walk(v, secrets);
    return out;
  }
  return value;
}
