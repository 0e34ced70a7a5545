// Service names: what service= accepts, and the form procedures get of any recorded name.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { SERVICE_PATTERN, parseServiceName, serviceForTemplates } from '../../../src/core/incidents/incident.js';

const WHOLE = new RegExp(`^(?:${SERVICE_PATTERN})$`);

describe('parseServiceName', () => {
  it('takes names matching the pattern, trimmed', () => {
    expect(parseServiceName(' checkout ')).toBe('checkout');
    expect(parseServiceName('Checkout API v2.1_eu-west')).toBe('Checkout API v2.1_eu-west');
    expect(parseServiceName('x'.repeat(80))).toBe('x'.repeat(80));
  });

  it.each(['--output=/tmp/x', '-rf', '.hidden', 'a/b', 'Checkout (EU)', 'x'.repeat(81), 'a\nb', 'café'])('refuses %j, naming the pattern', (name) => {
    expect(() => parseServiceName(name)).toThrow(InputError);
    expect(() => parseServiceName(name)).toThrow(`is not a service name: it must match ${SERVICE_PATTERN}`);
  });
});

describe('serviceForTemplates', () => {
  it('keeps a name that matches the pattern, and maps free text to its service-name form', () => {
    expect(serviceForTemplates('checkout')).toBe('checkout');
    expect(serviceForTemplates('Checkout (EU)')).toBe('Checkout EU');
    expect(serviceForTemplates('--output=/tmp/x')).toBe('output tmp x');
    expect(serviceForTemplates('Zahlungen Zürich')).toBe('Zahlungen Zurich');
    expect(serviceForTemplates('決済')).toBe('');
    expect(serviceForTemplates(null)).toBe('');
  });

  it('always yields a name matching the pattern, or nothing (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: 'grapheme', maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 120 })),
        (name) => {
          const mapped = serviceForTemplates(name);
          expect(mapped === '' || WHOLE.test(mapped)).toBe(true);
          if (WHOLE.test(name)) expect(mapped).toBe(name);
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
