// The V3 envelope: what is read from it, what is refused as malformed, what is kept but ignored.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePagerdutyEvent } from '../../../src/core/pagerduty/pagerduty-event.js';

const VECTOR = JSON.parse(readFileSync(new URL('../../fixtures/pagerduty/pagerduty-v3-test-body.json', import.meta.url), 'utf8')) as unknown;

const incidentEvent = (type: string, data: Record<string, unknown>) => ({
  event: {
    id: 'E1',
    event_type: type,
    resource_type: 'incident',
    occurred_at: '2026-05-01T09:00:00Z',
    agent: { id: 'PAGENT1', summary: 'Ada', type: 'user_reference' },
    data,
  },
});

describe('parsePagerdutyEvent', () => {
  it('reads the published test event: its incident, service, agent and priority', () => {
    const parsed = parsePagerdutyEvent(VECTOR);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.event).toMatchObject({
      id: '01BWDWL3NYY7LUFPZCC28QUCMK',
      type: 'incident.priority_updated',
      handled: true,
      pdIncidentId: 'PGR0VU2',
      service: { id: 'PF9KMXH', name: 'API Service' },
      agent: { id: 'PLH1HKV', name: 'Tenex Engineer', type: 'user_reference' },
    });
    expect(parsed.event.incident?.priority?.summary).toBe('P1');
  });

  it('reads a note event: its incident and its text', () => {
    const parsed = parsePagerdutyEvent(
      incidentEvent('incident.annotated', { id: 'N1', type: 'incident_note', content: 'disk full', incident: { id: 'PINC1', summary: 'x' } }),
    );
    expect(parsed).toMatchObject({ ok: true, event: { pdIncidentId: 'PINC1', note: { content: 'disk full' }, service: null } });
  });

  it('accepts a ping and unknown event types, which it marks as not handled', () => {
    expect(
      parsePagerdutyEvent({ event: { id: 'P1', event_type: 'pagey.ping', agent: null, data: { message: 'Hello from your friend Pagey!' } } }),
    ).toMatchObject({
      ok: true,
      event: { type: 'pagey.ping', handled: true, pdIncidentId: null },
    });
    expect(parsePagerdutyEvent({ event: { id: 'S1', event_type: 'service.updated', data: { id: 'PSVC', type: 'service' } } })).toMatchObject({
      ok: true,
      event: { handled: false, pdIncidentId: null },
    });
    expect(parsePagerdutyEvent(incidentEvent('incident.responder.added', { incident: { id: 'PINC9' } }))).toMatchObject({
      ok: true,
      event: { handled: false, pdIncidentId: 'PINC9' },
    });
  });

  it('refuses bodies that are not V3 events', () => {
    for (const body of [
      null,
      [],
      'text',
      {},
      { event: null },
      { event: {} },
      { event: { id: '', event_type: 'incident.triggered' } },
      { event: { id: 'x', event_type: 'Not A Type' } },
    ]) {
      expect(parsePagerdutyEvent(body).ok, JSON.stringify(body)).toBe(false);
    }
  });

  it('refuses a handled incident event whose data does not name its incident', () => {
    const parsed = parsePagerdutyEvent(incidentEvent('incident.triggered', { title: 'no id' }));
    expect(parsed).toMatchObject({ ok: false, problem: expect.stringContaining('event.data') });
    expect(parsePagerdutyEvent(incidentEvent('incident.annotated', { content: 'x' })).ok).toBe(false);
  });
});
