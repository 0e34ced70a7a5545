// The slash-command grammar: words, quoted strings, key=value, flags, and its errors.
import { describe, expect, it } from 'vitest';
import { expectOnly, parseArgs } from '../../../src/core/commands/grammar.js';
import { InputError } from '../../../src/errors.js';

describe('parseArgs', () => {
  it('splits words, key=value pairs and flags in any order', () => {
    expect(parseArgs('declare Checkout errors sev=2 --private service=checkout')).toEqual({
      words: ['declare', 'Checkout', 'errors'],
      params: { sev: '2', service: 'checkout' },
      flags: ['private'],
    });
  });

  it('keeps a quoted string as one word, with escaped quotes and backslashes', () => {
    expect(parseArgs('note "rate = 5% | \\"bad\\" \\\\ path"').words).toEqual(['note', 'rate = 5% | "bad" \\ path']);
  });

  it('takes quoted values in key="…" pairs', () => {
    expect(parseArgs('run x reason="disk full on web-1" n=3').params).toEqual({ reason: 'disk full on web-1', n: '3' });
  });

  it('accepts the curly quotes chat clients substitute', () => {
    expect(parseArgs('note \u201chello there\u201d').words).toEqual(['note', 'hello there']);
  });

  it('treats a quoted --word as text, not a flag', () => {
    expect(parseArgs('note "--private"')).toEqual({ words: ['note', '--private'], params: {}, flags: [] });
  });

  it('returns nothing for empty input', () => {
    expect(parseArgs('   ')).toEqual({ words: [], params: {}, flags: [] });
  });

  it.each([
    ['note "never closed', /unbalanced quote: the quote at column 6 is never closed/],
    ['run reason="open', /unbalanced quote/],
    ['note ab"cd"', /quote in the middle/],
    ['note "ab"cd', /put a space after the quoted text/],
    ['sev=1 sev=2', /sev= is given twice/],
    ['run --Dry_Run', /is not a flag/],
    ['run --x=1', /is not a flag/],
  ])('refuses %j', (input, message) => {
    expect(() => parseArgs(input)).toThrow(InputError);
    expect(() => parseArgs(input)).toThrow(message);
  });
});

describe('expectOnly', () => {
  it('refuses an option the subcommand does not take, and says how to write it as text', () => {
    const args = parseArgs('note rate=5%');
    expect(() => expectOnly(args, 'note', { params: ['incident'] })).toThrow(
      'note: unknown option rate=; it takes incident=. To write "rate=5%" as text, put the text in quotes',
    );
  });

  it('refuses an unknown flag and lists the known ones', () => {
    expect(() => expectOnly(parseArgs('declare x --privat'), 'declare', { flags: ['private'] })).toThrow(
      'declare: unknown flag --privat; it takes --private',
    );
  });

  it('passes what is allowed', () => {
    expect(() => expectOnly(parseArgs('declare x sev=1 --private'), 'declare', { params: ['sev'], flags: ['private'] })).not.toThrow();
  });
});
