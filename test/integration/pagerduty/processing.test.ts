// Processing stored PagerDuty events on SQLite and on PostgreSQL: incidents opened and updated, timelines in order, triggers once per event.
import { afterEach, describe, expect, it } from 'vitest';
import { createPagerdutyProcessor } from '../../../src/core/pagerduty/pagerduty-processor.js';
import { consoleText } from '../../../src/adapters/console/console-text.js';
import { describeEvent } from '../../../src/core/timeline/describe-event.js';
import type { Backend } from '../../../src/app.js';
import { BACKEND_KINDS } from '../../helpers/backends.js';
import { CHECKOUT, DIAG_ECHO, eventBody, incidentData, RESTART_ALL, SEARCH, startHarness, triggeredBody, type Harness } from './pd-harness.js';

const DIAG_SLOW = `name: diag-slow
description: Takes a while
owner: "@test"
environments: [prod]
concurrency: "diag-slow-{{incident.pagerduty_id}}"
steps:
  - name: wait
    run: ["/bin/sleep", "0.5"]
triggers:
  - pagerduty: { event: incident.triggered }
  - pagerduty: { event: incident.acknowledged }
`;

let h: Harness<Backend> | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function deliverAll(h: Harness<Backend>, ...bodies: string[]): Promise<void> {
  for (const body of bodies) expect((await h.deliver(body)).status).toBe(202);
  await h.settle();
}

const timeline = async (h: Harness<Backend>, incidentId: string) =>
  (await h.app.incidents.timeline(incidentId, 500)).map((e) => ({ kind: e.kind, actor: e.actor, text: consoleText(describeEvent(e)) }));

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('incident.triggered', () => {
    it('opens an incident with title, severity, service and link, and runs the matching diagnostic once as the pagerduty principal', async () => {
      h = await startHarness({ backend });
      await deliverAll(h, triggeredBody('PINC100', { title: 'Checkout 5xx above 2%', priority: 'P1' }));
      const [incident] = await h.app.incidents.listOpen();
      expect(incident).toMatchObject({
        id: 'INC-1',
        title: 'Checkout 5xx above 2%',
        severity: 1,
        service: 'Checkout API',
        pagerdutyId: 'PINC100',
        pagerdutyUrl: 'https://acme.pagerduty.com/incidents/PINC100',
        declaredBy: 'pagerduty:Checkout API',
      });
      expect(h.ran()).toEqual(['PINC100 triggered']);
      const [run] = await h.app.runs.forIncident('INC-1');
      expect(run).toMatchObject({
        procedure: 'diag-echo',
        environment: 'staging',
        requestedBy: 'pagerduty:Checkout API',
        source: 'pagerduty',
        state: 'succeeded',
        params: { label: 'triggered' },
      });
      const requested = (await h.query<{ payload: string }>("SELECT payload FROM audit_log WHERE kind = 'run.requested'"))[0]!;
      expect((JSON.parse(requested.payload) as { authorized: { rules: string[] } }).authorized.rules[0]).toContain('default.yaml');
      // The result is posted to the incident channel (the Slack outbox), not sent to PagerDuty without a token.
      const slack = (await h.query<{ body: string }>("SELECT body FROM outbox WHERE target = 'slack' AND channel = 'incident:INC-1' ORDER BY id")).map(
        (r) => (JSON.parse(r.body) as { kind: string }).kind,
      );
      expect(slack).toEqual(['incident.declared', 'run.started', 'run.finished']);
      expect(await h.query("SELECT * FROM outbox WHERE target = 'pagerduty'")).toEqual([]);
      expect(await h.query('SELECT state, outcome, incident_id FROM pagerduty_events')).toEqual([
        { state: 'processed', outcome: 'declared', incident_id: 'INC-1' },
      ]);
    });

    it('finds the existing incident for a second triggered event of the same PagerDuty incident', async () => {
      h = await startHarness({ backend, procedures: {} });
      await deliverAll(h, triggeredBody('PINC101'), triggeredBody('PINC101'));
      expect(await h.app.incidents.listOpen()).toHaveLength(1);
      expect(await h.query('SELECT outcome FROM pagerduty_events ORDER BY received_seq')).toEqual([{ outcome: 'declared' }, { outcome: 'already open' }]);
    });

    it('runs nothing for a service no trigger names, and records a trigger the policy refuses', async () => {
      h = await startHarness({ backend, procedures: { 'diag-echo': DIAG_ECHO, 'restart-all': RESTART_ALL } });
      await deliverAll(h, triggeredBody('PINC102', { service: SEARCH }), triggeredBody('PINC103', { service: { id: 'PREF1', name: 'Refused Service' } }));
      expect(h.ran()).toEqual([]);
      expect(await h.query('SELECT trigger_key, outcome, run_id FROM pagerduty_trigger_runs')).toEqual([
        { trigger_key: 'restart-all#0', outcome: 'refused', run_id: null },
      ]);
      const denied = await h.query<{ actor: string; payload: string }>("SELECT actor, payload FROM audit_log WHERE kind = 'policy.denied'");
      expect(denied).toHaveLength(1);
      expect(denied[0]!.actor).toBe('pagerduty:Refused Service');
      expect(JSON.parse(denied[0]!.payload)).toMatchObject({ action: 'run', procedure: 'restart-all', environment: 'prod' });
    });
  });

  describe('later events land on the timeline in order, on behalf of the PagerDuty agent', () => {
    it('ack, priority, escalation, reassignment, note, resolve, reopen', async () => {
      h = await startHarness({ backend, procedures: {} });
      const pd = 'PINC200';
      await deliverAll(
        h,
        triggeredBody(pd, { urgency: 'low' }),
        eventBody('incident.acknowledged', incidentData(pd), { agent: 'Ada Oncall' }),
        eventBody('incident.priority_updated', incidentData(pd, { priority: 'P2' }), { agent: 'Ada Oncall' }),
        eventBody('incident.escalated', incidentData(pd, { assignees: ['Bob Second'] }), { agent: null }),
        eventBody('incident.reassigned', incidentData(pd, { assignees: ['Carol'] }), { agent: 'Bob Second' }),
        eventBody('incident.annotated', { id: 'N1', type: 'incident_note', content: 'rolling back 4.2.1', incident: { id: pd } }, { agent: 'Carol' }),
        eventBody('incident.resolved', incidentData(pd, { status: 'resolved' }), { agent: 'Carol' }),
        eventBody('incident.reopened', incidentData(pd), { agent: 'Carol' }),
      );
      const lines = await timeline(h, 'INC-1');
      expect(lines.map((l) => l.kind)).toEqual([
        'incident.declared',
        'incident.acknowledged',
        'incident.priority_updated',
        'incident.escalated',
        'incident.reassigned',
        'incident.annotated',
        'incident.resolved',
        'incident.reopened',
      ]);
      expect(new Set(lines.map((l) => l.actor))).toEqual(new Set(['pagerduty:Checkout API']));
      expect(lines.map((l) => l.text).slice(1)).toEqual([
        'acknowledged on behalf of Ada Oncall',
        'priority P2 (SEV4 → SEV2) on behalf of Ada Oncall',
        'escalated to Bob Second (Checkout EP)',
        'reassigned to Carol on behalf of Bob Second',
        'PagerDuty note on behalf of Carol: rolling back 4.2.1',
        'resolved on behalf of Carol',
        'reopened in PagerDuty on behalf of Carol',
      ]);
      const incident = await h.app.incidents.get('INC-1');
      expect(incident).toMatchObject({ severity: 2, status: 'investigating', resolvedAt: null, acknowledgedAt: null });
    });

    it('ignores events about PagerDuty incidents edgeops never opened, and changes nothing for a repeat of a state', async () => {
      h = await startHarness({ backend, procedures: {} });
      await deliverAll(
        h,
        eventBody('incident.acknowledged', incidentData('PNEVER1')),
        triggeredBody('PINC201'),
        eventBody('incident.acknowledged', incidentData('PINC201')),
        eventBody('incident.acknowledged', incidentData('PINC201')),
      );
      expect(await h.query('SELECT pd_incident_id, state, outcome FROM pagerduty_events ORDER BY received_seq')).toEqual([
        { pd_incident_id: 'PNEVER1', state: 'ignored', outcome: 'no edgeops incident' },
        { pd_incident_id: 'PINC201', state: 'processed', outcome: 'declared' },
        { pd_incident_id: 'PINC201', state: 'processed', outcome: 'acknowledged' },
        { pd_incident_id: 'PINC201', state: 'processed', outcome: 'unchanged' },
      ]);
      expect((await timeline(h, 'INC-1')).filter((l) => l.kind === 'incident.acknowledged')).toHaveLength(1);
    });

    it('links to the incident the events of its PagerDuty incident that were stored before it was opened', async () => {
      // Nothing is processed until all three are stored: the bridge update finds no incident at receipt.
      h = await startHarness({ backend, procedures: {}, start: false });
      for (const body of [
        triggeredBody('PINC203'),
        eventBody('incident.conference_bridge.updated', { id: 'PINC203', type: 'incident' }),
        eventBody('incident.acknowledged', incidentData('PNEVER2')),
      ])
        expect((await h.deliver(body)).status).toBe(202);
      expect(await h.query('SELECT incident_id FROM pagerduty_events ORDER BY received_seq')).toEqual([
        { incident_id: null },
        { incident_id: null },
        { incident_id: null },
      ]);
      h.pd.start();
      await h.settle();
      expect(await h.query('SELECT pd_incident_id, state, incident_id FROM pagerduty_events ORDER BY received_seq')).toEqual([
        { pd_incident_id: 'PINC203', state: 'processed', incident_id: 'INC-1' },
        { pd_incident_id: 'PINC203', state: 'ignored', incident_id: 'INC-1' },
        { pd_incident_id: 'PNEVER2', state: 'ignored', incident_id: null },
      ]);
    });

    it('fires a trigger named by service ID (glob) on acknowledgement', async () => {
      h = await startHarness({ backend });
      await deliverAll(h, triggeredBody('PINC202'), eventBody('incident.acknowledged', incidentData('PINC202', { service: CHECKOUT })));
      expect(h.ran().sort()).toEqual(['PINC202 acked', 'PINC202 triggered']);
      // diag-echo's second trigger names no env: the procedure's first environment.
      expect((await h.app.runs.forIncident('INC-1')).map((r) => r.environment)).toEqual(['staging', 'staging']);
    });
  });

  describe('exactly once, and in order', () => {
    it('a trigger whose run was recorded is not started again when its event is processed again', async () => {
      h = await startHarness({ backend });
      await deliverAll(h, triggeredBody('PINC300', { id: 'evt-300' }));
      // As after a crash between the run's commit and the event's last step, once the worker's claim on it ran out.
      await h.query("UPDATE pagerduty_events SET state = 'applied', next_attempt_at = 0 WHERE event_id = 'evt-300'");
      await h.pd.processDue();
      await h.settle();
      expect(h.ran()).toEqual(['PINC300 triggered']);
      expect(await h.app.runs.forIncident('INC-1')).toHaveLength(1);
      expect(await h.query("SELECT state FROM pagerduty_events WHERE event_id = 'evt-300'")).toEqual([{ state: 'processed' }]);
    });

    it('keeps one PagerDuty incident’s events in order behind a failing one, while other incidents go on; gives up after the last attempt', async () => {
      h = await startHarness({ backend, start: false, procedures: {} });
      const app = h.app;
      const now = { value: Date.now() + 1_000 };
      let failures = 0;
      const flakyIncidents = {
        ...app.incidents,
        ack: async (...args: Parameters<typeof app.incidents.ack>) => {
          if (args[1] === 'INC-1' && failures < 2) {
            failures += 1;
            throw new Error('database is locked');
          }
          return await app.incidents.ack(...args);
        },
      };
      const processor = createPagerdutyProcessor({
        uow: h.app.store,
        audit: h.app.store.audit,
        events: h.app.store.pagerdutyEvents,
        incidents: flakyIncidents,
        findByPagerdutyId: async (id) => await h!.app.store.incidents.byPagerdutyId(id),
        runs: h.app.runs,
        catalog: h.app.catalog,
        clock: { now: () => now.value },
        retryDelayMs: () => 1_000,
      });
      for (const body of [
        triggeredBody('PA'),
        triggeredBody('PB', { service: SEARCH }),
        eventBody('incident.acknowledged', incidentData('PA')),
        eventBody('incident.resolved', incidentData('PA')),
        eventBody('incident.acknowledged', incidentData('PB', { service: SEARCH })),
      ]) {
        expect((await h.deliver(body)).status).toBe(202);
      }
      await processor.processDue();
      // PA's ack failed: its resolve waits behind it; PB went on.
      expect(await h.app.incidents.get('INC-1')).toMatchObject({ acknowledgedAt: null, status: 'investigating' });
      expect((await h.app.incidents.get('INC-2')).acknowledgedAt).not.toBeNull();
      expect(await processor.processDue()).toMatchObject({ processed: 0, nextAttemptAt: now.value + 1_000 });
      now.value += 1_000;
      await processor.processDue();
      expect(failures).toBe(2);
      now.value += 1_000;
      await processor.processDue();
      expect((await timeline(h, 'INC-1')).map((l) => l.kind)).toEqual(['incident.declared', 'incident.acknowledged', 'incident.resolved']);
      expect(await h.query("SELECT attempts, state FROM pagerduty_events WHERE event_type = 'incident.acknowledged' AND pd_incident_id = 'PA'")).toEqual([
        { attempts: 2, state: 'processed' },
      ]);

      // An event that keeps failing is given up after its last attempt, on the audit log, and unblocks the rest.
      failures = -100;
      await h.deliver(eventBody('incident.reopened', incidentData('PA')));
      const broken = {
        ...flakyIncidents,
        recordExternal: () => {
          throw new Error('disk I/O error');
        },
      };
      const strict = createPagerdutyProcessor({
        uow: h.app.store,
        audit: h.app.store.audit,
        events: h.app.store.pagerdutyEvents,
        incidents: broken,
        findByPagerdutyId: async (id) => await h!.app.store.incidents.byPagerdutyId(id),
        runs: h.app.runs,
        catalog: h.app.catalog,
        clock: { now: () => now.value },
        maxAttempts: 2,
        retryDelayMs: () => 0,
      });
      await strict.processDue();
      await strict.processDue();
      // Given up, the event is still linked to the incident it concerns.
      expect(await h.query("SELECT state, attempts, incident_id FROM pagerduty_events WHERE event_type = 'incident.reopened'")).toEqual([
        { state: 'failed', attempts: 2, incident_id: 'INC-1' },
      ]);
      const failed = await h.query<{ incident_id: string; payload: string }>(
        "SELECT incident_id, payload FROM audit_log WHERE kind = 'pagerduty.processing_failed'",
      );
      expect(failed).toHaveLength(1);
      expect(failed[0]!.incident_id).toBe('INC-1');
      expect(JSON.parse(failed[0]!.payload)).toMatchObject({ event_type: 'incident.reopened', attempts: 2, error: 'Error: disk I/O error' });
    });

    it('records a trigger that cannot start (its concurrency key busy) on the incident timeline, and moves on', async () => {
      h = await startHarness({ backend, start: false, procedures: { 'diag-slow': DIAG_SLOW } });
      await h.deliver(triggeredBody('PINC400'));
      await h.deliver(eventBody('incident.acknowledged', incidentData('PINC400')));
      // One pass: the first run still holds diag-slow-PINC400 when the acknowledgement's trigger asks for it.
      await h.pd.processDue();
      await h.settle();
      const failed = (await timeline(h, 'INC-1')).filter((l) => l.kind === 'pagerduty.trigger_failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]!.text).toMatch(/^could not start diag-slow for PagerDuty incident\.acknowledged: diag-slow-PINC400 is busy/);
      expect(await h.query('SELECT trigger_key, outcome FROM pagerduty_trigger_runs ORDER BY trigger_key')).toEqual([
        { trigger_key: 'diag-slow#0', outcome: 'started' },
        { trigger_key: 'diag-slow#1', outcome: 'failed' },
      ]);
    });
  });
});
