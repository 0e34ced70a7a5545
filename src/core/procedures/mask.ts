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

/**
 * Secrets shorter than this are masked only as written: the pieces of their encoded forms (a
 * base64 alignment of a 5-character value is 4 characters) would match ordinary output too often.
 * The bot's own credentials are all far longer.
 */
export const MIN_ENCODED_SECRET_LENGTH = 8;

/**
 * The forms a secret takes when a step prints it encoded rather than as written: JSON-escaped,
 * base64 and base64url (the whole encoding, and for each of the three byte alignments at which the
 * secret can sit inside longer encoded data, the part that does not depend on its neighbours), hex
 * in lower and upper case, and URL-encoded (`encodeURIComponent` and form encoding). Output that is
 * transformed further (reversed, compressed, split, wrapped) cannot be recognised; see the README.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set([secret]);
  if (secret.length < MIN_ENCODED_SECRET_LENGTH) return [...forms];
  const bytes = Buffer.from(secret, 'utf8');
  forms.add(JSON.stringify(secret).slice(1, -1));
  forms.add(bytes.toString('base64'));
  forms.add(bytes.toString('base64url'));
  for (let skip = 0; skip < 3; skip++) {
    // From the first whole 3-byte group on, base64 of the secret is the same whatever precedes it.
    const whole = Math.floor((bytes.length - skip) / 3) * 3;
    if (whole < 3) continue;
    const inner = bytes.subarray(skip, skip + whole);
    forms.add(inner.toString('base64'));
    forms.add(inner.toString('base64url'));
  }
  const hex = bytes.toString('hex');
  forms.add(hex);
  forms.add(hex.toUpperCase());
  forms.add(encodeURIComponent(secret));
  forms.add(new URLSearchParams({ s: secret }).toString().slice(2));
  return [...forms].filter((f) => f.length >= MIN_MASKED_SECRET_LENGTH);
}

/** The distinct values worth masking, every form of each, longest first. */
export function maskableSecrets(secrets: readonly string[]): string[] {
  const unique = new Set(secrets.filter((s) => s.length >= MIN_MASKED_SECRET_LENGTH).flatMap(secretForms));
  return [...unique].sort((a, b) => b.length - a.length);
}

/**
 * Replaces every occurrence of every secret (in any form `secretForms` names) with `[secret]`.
 * Overlapping or adjacent occurrences (of the same or different secrets) become one mask, so no
 * fragment of either is left visible.
 */
export function maskSecrets(text: string, secrets: readonly string[], options: MaskOptions = {}): string {
  return maskValues(text, maskableSecrets(secrets), options);
}

/**
 * A masking function for a fixed set of secrets, their forms worked out once: for hot paths such
 * as every log line.
 */
export function secretMasker(secrets: readonly string[]): (text: string, options?: MaskOptions) => string {
  const values = maskableSecrets(secrets);
  return (text, options = {}) => maskValues(text, values, options);
}

/** `maskSecrets` over values already expanded and sorted by `maskableSecrets`. */
function maskValues(text: string, values: readonly string[], options: MaskOptions): string {
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
function longestEdgeFragment(secrets: readonly string[], matches: (k: number, secret: string) => boolean, textLength: number): number {
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
  if (typeof value === 'string') return maskValues(value, secrets, {});
  if (Array.isArray(value)) return value.map((v) => walk(v, secrets));
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[maskValues(k, secrets, {})] = walk(v, secrets);
    return out;
  }
  return value;
}
