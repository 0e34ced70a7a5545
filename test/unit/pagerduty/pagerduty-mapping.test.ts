// PagerDuty → edgeops rules: severity, titles, the principal, and which triggers fire.
import { describe, expect, it } from 'vitest';
import { TITLE_MAX } from '../../../src/core/incidents/incident.js';
import { matchingTriggers, pagerdutyActor, severityOf, titleOf } from '../../../src/core/pagerduty/pagerduty-mapping.js';
import { ProcedureSchema, type Procedure } from '../../../src/core/procedures/procedure-schema.js';

const procedure = (name: string, triggers: Array<{ event: string; service?: string }>): Procedure =>
  ProcedureSchema.parse({
    name,
    description: 'd',
    owner: '@t',
    environments: ['prod'],
    steps: [{ name: 's', run: ['/bin/true'] }],
    triggers: triggers.map((t) => ({ pagerduty: t })),
  });

describe('severityOf', () => {
  it.each([
    [{ priority: { id: 'x', summary: 'P1' }, urgency: 'low' }, 1],
    [{ priority: { id: 'x', summary: 'p2' }, urgency: 'high' }, 2],
    [{ priority: { id: 'x', summary: 'P3' } }, 3],
    [{ priority: { id: 'x', summary: 'P4' } }, 4],
    [{ priority: { id: 'x', summary: 'P5' } }, 4],
    [{ priority: { id: 'x', summary: 'Critical' }, urgency: 'high' }, 2],
    [{ priority: null, urgency: 'high' }, 2],
    [{ urgency: 'low' }, 4],
    [{}, 3],
  ])('%j → SEV%i', (input, sev) => {
    expect(severityOf(input as Parameters<typeof severityOf>[0])).toBe(sev);
  });
});

describe('titleOf', () => {
  it('keeps the title, squeezes white space, names the incident when there is none, and fits the limit', () => {
    expect(titleOf({ id: 'P1', title: '  Disk   full\n on db-1 ' })).toBe('Disk full on db-1');
    expect(titleOf({ id: 'P1', number: 42, title: '' })).toBe('PagerDuty incident #42');
    expect(titleOf({ id: 'PX', title: null })).toBe('PagerDuty incident PX');
    const long = titleOf({ id: 'P1', title: 'x'.repeat(500) });
    expect(long).toHaveLength(TITLE_MAX);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('pagerdutyActor', () => {
  it('is pagerduty:<service> holding the service for the policy, or plain pagerduty without one', () => {
    expect(pagerdutyActor('Checkout API')).toEqual({ id: 'pagerduty:Checkout API', groups: [], pagerdutyService: 'Checkout API' });
    expect(pagerdutyActor(null)).toEqual({ id: 'pagerduty', groups: [] });
  });
});

describe('matchingTriggers', () => {
  const procedures = [
    procedure('diag-b', [{ event: 'incident.triggered', service: 'Checkout*' }, { event: 'incident.acknowledged' }]),
    procedure('diag-a', [{ event: 'incident.triggered', service: 'PCHK*' }]),
    procedure('diag-c', [{ event: 'incident.triggered', service: 'Payments' }]),
  ];

  it('matches the event type and the service by name or by ID, whole-value globs, in a stable order', () => {
    const keys = matchingTriggers(procedures, 'incident.triggered', { id: 'PCHK123', name: 'Checkout API' }).map((m) => m.key);
    expect(keys).toEqual(['diag-a#0', 'diag-b#0']);
    expect(matchingTriggers(procedures, 'incident.triggered', { id: 'PPAY', name: 'Payments' }).map((m) => m.key)).toEqual(['diag-c#0']);
    // Whole value: "Payments" does not match "Payments EU".
    expect(matchingTriggers(procedures, 'incident.triggered', { id: 'PPAY2', name: 'Payments EU' })).toEqual([]);
    expect(matchingTriggers(procedures, 'incident.acknowledged', { id: 'PZ', name: 'Zebra' }).map((m) => m.key)).toEqual(['diag-b#1']);
    expect(matchingTriggers(procedures, 'incident.resolved', { id: 'PCHK1', name: 'Checkout' })).toEqual([]);
  });

  it('without a service only a catch-all pattern matches', () => {
    expect(matchingTriggers(procedures, 'incident.acknowledged', null).map((m) => m.key)).toEqual(['diag-b#1']);
    expect(matchingTriggers(procedures, 'incident.triggered', null)).toEqual([]);
  });
});
