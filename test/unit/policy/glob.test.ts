// Whole-value glob matching: exact strings, `*` runs, never substrings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyGlobMatch, globMatch } from '../../../src/core/policy/glob.js';

describe('globMatch', () => {
  it.each([
    ['restart-service', 'restart-service', true],
    ['restart', 'restart-service', false],
    ['service', 'restart-service', false],
    ['diag-*', 'diag-disk', true],
    ['diag-*', 'diag-', true],
    ['diag-*', 'diag', false],
    ['diag-*', 'xdiag-disk', false],
    ['*', '', true],
    ['*', 'anything at all', true],
    ['*-prod', 'eu-prod', true],
    ['*-prod', 'eu-prod-2', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['Checkout*', 'Checkout API', true],
    ['Checkout*', 'checkout API', false],
    ['incident.*', 'incident.ack', true],
    ['incident.*', 'incidentXack', false],
    ['run', 'dry-run', false],
    ['**', 'x', true],
    ['', '', true],
    ['', 'x', false],
    ['a.c', 'abc', false],
    ['[ab]', 'a', false],
  ])('%j vs %j → %s', (pattern, value, expected) => {
    expect(globMatch(pattern, value)).toBe(expected);
  });

  it('agrees with an anchored regular expression built from the pattern', () => {
    const alphabet = fc.constantFrom('a', 'b', '-', '.');
    const text = fc.array(alphabet, { maxLength: 8 }).map((cs) => cs.join(''));
    const pattern = fc.array(fc.oneof(alphabet, fc.constant('*')), { maxLength: 8 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(pattern, text, (p, v) => {
        const oracle = new RegExp(
          `^${p
            .split('*')
            .map((s) => s.replace(/[.-]/g, '\\$&'))
            .join('.*')}$`,
          's',
        );
        expect(globMatch(p, v)).toBe(oracle.test(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches when any pattern of a list does', () => {
    expect(anyGlobMatch(['prod', 'stag*'], 'staging')).toBe(true);
    expect(anyGlobMatch(['prod', 'stag*'], 'dev')).toBe(false);
    expect(anyGlobMatch([], 'dev')).toBe(false);
  });
});
