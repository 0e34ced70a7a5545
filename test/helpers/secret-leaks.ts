// Finds a secret in text however a step may have encoded it: raw, base64/base64url at any alignment, hex, percent-encoding.

/** The shortest run of the secret's bytes that counts as a leak (masking may leave a byte or two at an encoded edge). */
export const LEAK_WINDOW = 8;

function windows(secret: string, size: number): Buffer[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i + size <= bytes.length; i++) out.push(bytes.subarray(i, i + size));
  return out;
}

function percentDecode(text: string): Buffer {
  const out: number[] = [];
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes.subarray(i + 1, i + 3).toString('latin1');
    if (bytes[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(bytes[i] === 0x2b ? 0x20 : bytes[i]!);
  }
  return Buffer.from(out);
}

/**
 * Which encoding of `secret` (any `LEAK_WINDOW` bytes of it) can be recovered from `text`, or
 * undefined when none can. Decodes independently of the masking code, so it checks it.
 */
export function leakedEncoding(text: string | Buffer, secret: string): string | undefined {
  const str = typeof text === 'string' ? text : text.toString('latin1');
  const pieces = windows(secret, Math.min(LEAK_WINDOW, Buffer.byteLength(secret)));
  const holds = (decoded: Buffer): boolean => pieces.some((p) => decoded.includes(p));
  if (holds(Buffer.isBuffer(text) ? text : Buffer.from(str, 'utf8'))) return 'raw';
  if (holds(percentDecode(str))) return 'url-encoded';
  for (const run of str.match(/[0-9a-fA-F]{16,}/g) ?? []) {
    for (let shift = 0; shift < 2; shift++) if (holds(Buffer.from(run.slice(shift), 'hex'))) return 'hex';
  }
  for (const run of str.match(/[A-Za-z0-9+/_-]{11,}/g) ?? []) {
    for (let shift = 0; shift < 4; shift++) {
      const part = run.slice(shift);
      if (holds(Buffer.from(part.slice(0, part.length - (part.length % 4)), 'base64'))) {
        return /[-_]/.test(run) ? 'base64url' : 'base64';
      }
    }
  }
  return undefined;
}

/** The secret as a hostile step prints it: raw and in every encoding masking must catch, at each base64 alignment. */
export function encodedLeaks(secret: string): Record<string, string> {
  const out: Record<string, string> = { raw: secret };
  for (let k = 0; k < 3; k++) {
    const embedded = Buffer.from(`${'x'.repeat(k)}${secret}yz`, 'utf8');
    out[`base64+${k}`] = embedded.toString('base64');
    out[`base64url+${k}`] = embedded.toString('base64url');
  }
  const bytes = Buffer.from(secret, 'utf8');
  out.base64 = bytes.toString('base64');
  out.hex = bytes.toString('hex');
  out.HEX = bytes.toString('hex').toUpperCase();
  out.url = encodeURIComponent(secret);
  return out;
}
