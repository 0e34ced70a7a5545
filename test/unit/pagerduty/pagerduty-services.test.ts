// PagerDuty inbox and processor over in-memory ports: a trigger opens an incident and starts its diagnostic once; a duplicate changes nothing.
import { describe, expect, it } from 'vitest';
import { parsePagerdutyEvent, type PagerdutyEvent } from '../../../src/core/pagerduty/pagerduty-event.js';
import type { Policy } from '../../../src/core/policy/policy.js';
import { ProcedureSchema } from '../../../src/core/procedures/procedure-schema.js';
import { coreServices } from '../../support/in-memory/core-services.js';

const POLICY = {
  roles: { pagerduty: { pagerduty_services: ['*'] } },
  rules: [{ roles: ['pagerduty'], allow: ['run'], procedures: ['diag-*'], environments: ['*'], source: { file: 'p.yaml', index: 0 } }],
} as Policy;

const DIAG = ProcedureSchema.parse({
  name: 'diag-checkout',
  description: 'Collects diagnostics for a PagerDuty incident',
  owner: '@test',
  environments: ['prod'],
  concurrency: 'diag-{{incident.pagerduty_id}}',
  steps: [{ name: 'collect', run: ['/usr/bin/collect', '{{incident.pagerduty_id}}'] }],
  triggers: [{ pagerduty: { event: 'incident.triggered', service: 'Checkout*' } }],
});

/** A PagerDuty v3 webhook body for `incident.triggered` on the Checkout API service. */
function triggered(eventId: string, pdId: string): { event: PagerdutyEvent; body: string } {
  const body = JSON.stringify({
    event: {
      id: eventId,
      event_type: 'incident.triggered',
      resource_type: 'incident',
      occurred_at: '2026-05-01T08:59:00.000Z',
      agent: { id: 'PAGENT1', summary: 'Monitoring', type: 'service_reference' },
      data: {
        id: pdId,
        type: 'incident',
        html_url: `https://acme.pagerduty.com/incidents/${pdId}`,
        number: 7,
        status: 'triggered',
        title: 'Checkout error rate above 5%',
        urgency: 'high',
        service: { id: 'PCHK001', summary: 'Checkout API', type: 'service_reference' },
      },
    },
  });
  const parsed = parsePagerdutyEvent(JSON.parse(body));
  if (!parsed.ok) throw new Error(parsed.problem);
  return { event: parsed.event, body };
}

describe('PagerDuty events over in-memory ports', () => {
  it('opens one incident for a trigger and starts its diagnostic run once, as the PagerDuty service', async () => {
    const s = coreServices({ policy: POLICY, procedures: [DIAG] });
    const { event, body } = triggered('EV1', 'PD1');
    expect(await s.inbox.receive([{ event, body, webhookId: 'WH1' }])).toEqual([{ kind: 'stored', eventId: 'EV1', seq: 1 }]);

    const pass = await s.processor.processDue();
    expect(pass).toMatchObject({ processed: 1, more: false });
    await s.runs.idle();

    expect(await s.store.incidents.byPagerdutyId('PD1')).toMatchObject({ id: 'INC-1', title: 'Checkout error rate above 5%', service: 'Checkout API' });
    expect(await s.runs.forIncident('INC-1')).toEqual([
      expect.objectContaining({ id: 'R-1', procedure: 'diag-checkout', state: 'succeeded', requestedBy: 'pagerduty:Checkout API' }),
    ]);
    expect(s.steps.calls.map((c) => c.argv)).toEqual([['/usr/bin/collect', 'PD1']]);
    expect(await s.store.pagerdutyEvents.get('EV1')).toMatchObject({ state: 'processed', incidentId: 'INC-1', outcome: 'declared' });
    expect(await s.store.pagerdutyEvents.triggerRuns('EV1')).toEqual([
      expect.objectContaining({ procedure: 'diag-checkout', runId: 'R-1', outcome: 'started' }),
    ]);
    expect(s.errors).toEqual([]);
    expect(await s.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('ignores the same event delivered again, by event id or by webhook id: nothing stored, nothing run', async () => {
    const s = coreServices({ policy: POLICY, procedures: [DIAG] });
    const first = triggered('EV1', 'PD1');
    await s.inbox.receive([{ ...first, webhookId: 'WH1' }]);
    await s.processor.processDue();
    await s.runs.idle();
    const rows = s.store.auditRows().length;

    expect(await s.inbox.receive([{ ...first, webhookId: 'WH2' }])).toEqual([{ kind: 'duplicate', eventId: 'EV1', seq: 1 }]);
    const redelivered = triggered('EV1-again', 'PD1');
    expect(await s.inbox.receive([{ ...redelivered, webhookId: 'WH1' }])).toEqual([{ kind: 'duplicate', eventId: 'EV1', seq: 1 }]);
    expect(await s.processor.processDue()).toMatchObject({ processed: 0 });
    await s.runs.idle();

    expect(s.store.auditRows()).toHaveLength(rows);
    expect(await s.store.incidents.listOpen()).toHaveLength(1);
    expect(s.steps.calls).toHaveLength(1);
    expect(await s.store.pagerdutyEvents.countByState()).toMatchObject({ processed: 1, pending: 0 });
  });

  it('stores a burst all or nothing: a batch that fails part-way leaves no event and no row', async () => {
    const s = coreServices({ policy: POLICY, procedures: [DIAG] });
    const good = triggered('EV1', 'PD1');
    const broken = { ...triggered('EV2', 'PD2'), webhookId: 'WH2' };
    // A store that throws on the second event is what a failing disk looks like to the inbox.
    const insert = s.store.pagerdutyEvents.insert.bind(s.store.pagerdutyEvents);
    s.store.pagerdutyEvents.insert = async (event) => {
      if (event.eventId === 'EV2') throw new Error('disk full');
      await insert(event);
    };
    await expect(s.inbox.receive([{ ...good, webhookId: 'WH1' }, broken])).rejects.toThrow('disk full');
    expect(s.store.auditRows()).toEqual([]);
    expect(await s.store.pagerdutyEvents.get('EV1')).toBeUndefined();
  });
});
