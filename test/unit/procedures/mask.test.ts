// Secret masking in text and nested data: no secret, nor any fragment of one at a cut, survives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskDeep, maskSecrets, MIN_ENCODED_SECRET_LENGTH, MIN_MASKED_SECRET_LENGTH, secretMasker } from '../../../src/core/procedures/mask.js';
import { encodedLeaks, leakedEncoding } from '../../helpers/secret-leaks.js';

describe('maskSecrets', () => {
  it('masks every occurrence', () => {
    expect(maskSecrets('token=hunter22 again hunter22.', ['hunter22'])).toBe('token=[secret] again [secret].');
  });

  it('masks the longest secret where one contains another', () => {
    expect(maskSecrets('key abcd-efgh and abcd', ['abcd', 'abcd-efgh'])).toBe('key [secret] and [secret]');
  });

  it('masks overlapping secrets as one, leaving no fragment of either', () => {
    expect(maskSecrets('xxabcdefghxx', ['abcdef', 'defghi', 'cdefgh'])).toBe('xx[secret]xx');
    expect(maskSecrets('aaaaaa', ['aaaa'])).toBe('[secret]');
  });

  it(`ignores empty values and values shorter than ${MIN_MASKED_SECRET_LENGTH} characters`, () => {
    expect(maskSecrets('a 1 abc', ['', 'a', '1', 'abc'])).toBe('a 1 abc');
  });

  it('treats secrets as text, not patterns', () => {
    expect(maskSecrets('p.*s$ and pxxs', ['p.*s$'])).toBe('[secret] and pxxs');
  });

  it('masks fragments at a cut: a secret start at the end, a secret end at the start', () => {
    expect(maskSecrets('output then hunt', ['hunter22'], { cutAfter: true })).toBe('output then [secret]');
    expect(maskSecrets('er22 and more', ['hunter22'], { cutBefore: true })).toBe('[secret] and more');
    expect(maskSecrets('output then hunt', ['hunter22'])).toBe('output then hunt');
  });

  it('leaves no secret in any text (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 4, maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(0, 1, 2)), { maxLength: 12 }),
        (secrets, pieces) => {
          const text = pieces.map((p) => (typeof p === 'number' ? (secrets[p % secrets.length] ?? '') : p)).join('');
          const masked = maskSecrets(text, secrets);
          for (const s of secrets) expect(masked.includes(s) && !'[secret]'.includes(s)).toBe(false);
        },
      ),
    );
  });
});

describe('maskDeep', () => {
  it('masks strings and keys at any depth without touching the input', () => {
    const input = { argv: ['--token', 'tok-123456'], env: { TOKEN: 'Bearer tok-123456' }, n: 3, ok: true, nil: null, 'tok-123456': 1 };
    const copy = structuredClone(input);
    expect(maskDeep(input, ['tok-123456'])).toEqual({
      argv: ['--token', '[secret]'],
      env: { TOKEN: 'Bearer [secret]' },
      n: 3,
      ok: true,
      nil: null,
      '[secret]': 1,
    });
    expect(input).toEqual(copy);
  });

  it('returns the same value when there is nothing to mask', () => {
    const input = { a: 'b' };
    expect(maskDeep(input, [])).toBe(input);
  });
});

describe('maskSecrets on encoded secrets', () => {
  const secret = 'sig-9f8e7d6c5b4a/3+2=1 ü';

  it('masks base64 and base64url at each of the three alignments, hex in both cases, and the URL-encoded form', () => {
    for (const [form, encoded] of Object.entries(encodedLeaks(secret))) {
      const text = `before ${encoded} after`;
      expect(leakedEncoding(text, secret), form).toBeDefined();
      const masked = maskSecrets(text, [secret]);
      expect(masked, form).toContain('[secret]');
      expect(masked.startsWith('before '), form).toBe(true);
      expect(leakedEncoding(masked, secret), `${form}: ${masked}`).toBeUndefined();
    }
  });

  it('masks the JSON-escaped form, as a log line carries it', () => {
    const quoted = 'a"b\\c-0123456789';
    expect(maskSecrets(JSON.stringify({ out: quoted }), [quoted])).toBe('{"out":"[secret]"}');
  });

  it('masks an encoded secret wherever it sits in longer encoded data (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 40 }), fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), (s, before, after) => {
        const data = Buffer.from(`${before}${s}${after}`, 'utf8');
        for (const encoded of [data.toString('base64'), data.toString('base64url'), data.toString('hex'), encodeURIComponent(`${before}${s}${after}`)]) {
          expect(leakedEncoding(maskSecrets(encoded, [s]), s)).toBeUndefined();
        }
      }),
    );
  });

  it(`masks secrets of ${MIN_MASKED_SECRET_LENGTH}-${MIN_ENCODED_SECRET_LENGTH - 1} characters only as written`, () => {
    expect(maskSecrets('pw=abcdefg enc=YWJjZGVmZw==', ['abcdefg'])).toBe('pw=[secret] enc=YWJjZGVmZw==');
    expect(maskSecrets('enc=YWJjZGVmZ2g=', ['abcdefgh'])).toBe('enc=[secret]');
  });

  it('secretMasker masks as maskSecrets does', () => {
    const mask = secretMasker([secret]);
    const text = `x ${Buffer.from(secret).toString('hex')} y ${secret}`;
    expect(mask(text)).toBe(maskSecrets(text, [secret]));
    expect(mask(text)).toBe('x [secret] y [secret]');
  });
});
