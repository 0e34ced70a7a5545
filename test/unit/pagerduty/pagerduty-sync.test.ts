// Writes back to PagerDuty: which changes are mirrored, and what a triggered run's note says.
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/core/audit/audit-chain.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import type { Outbox } from '../../../src/core/outbox/outbox.js';
import { createPagerdutySync, EDGEOPS_NOTE_MARK, runNote } from '../../../src/core/pagerduty/pagerduty-sync.js';
import { PagerdutyWriteSchema } from '../../../src/core/pagerduty/pagerduty-writes.js';
import type { By } from '../../../src/core/ports.js';
import type { Run, RunStepRecord } from '../../../src/core/runs/run.js';

const incident = (over: Partial<Incident> = {}): Incident => ({
  id: 'INC-3',
  number: 3,
  title: 't',
  severity: 2,
  status: 'investigating',
  service: 'Checkout',
  private: false,
  channelName: 'inc-3-t',
  channelId: null,
  roles: { commander: null, comms: null, scribe: null },
  declaredBy: 'pagerduty:Checkout',
  declaredAt: 0,
  acknowledgedAt: null,
  resolvedAt: null,
  summary: null,
  pagerdutyId: 'PINC1',
  pagerdutyUrl: 'https://acme.pagerduty.com/incidents/PINC1',
  lastUpdateAt: 0,
  ...over,
});

const run = (over: Partial<Run> = {}): Run => ({
  id: 'R-7',
  number: 7,
  procedure: 'diag-http',
  environment: 'prod',
  incidentId: 'INC-3',
  channel: null,
  requestedBy: 'pagerduty:Checkout',
  requestedGroups: [],
  source: 'pagerduty',
  params: {},
  binding: 'b',
  state: 'succeeded',
  approval: null,
  approvalExpiresAt: null,
  concurrencyKey: 'k',
  createdAt: 1_000,
  startedAt: 1_000,
  finishedAt: 4_000,
  pgid: null,
  ownerPid: 1,
  error: null,
  ...over,
});

const step = (over: Partial<RunStepRecord> = {}): RunStepRecord => ({
  runId: 'R-7',
  index: 0,
  name: 'request',
  kind: 'http',
  outcome: 'succeeded',
  exitCode: null,
  httpStatus: 200,
  startedAt: 1_000,
  finishedAt: 2_000,
  output: 'ok',
  truncatedBytes: 0,
  error: null,
  ...over,
});

function recorder() {
  const queued: Array<{ causeSeq: number; target: string; channel: string; body: unknown }> = [];
  const outbox = { enqueue: (item: (typeof queued)[number]) => queued.push(item) } as unknown as Outbox;
  return { queued, outbox };
}

const event = (kind: string, payload: Record<string, unknown> = {}): AuditEvent => ({
  seq: 42,
  time: 0,
  actor: 'U1',
  source: 'slack',
  kind,
  incidentId: 'INC-3',
  payload,
  prevHash: '',
  hash: '',
});

const human: By = { actor: { id: 'U0SRE0001', groups: [] }, source: 'slack' };
const pd: By = { actor: { id: 'pagerduty:Checkout', groups: [], pagerdutyService: 'Checkout' }, source: 'pagerduty' };

describe('mirroring acks and resolves to PagerDuty', () => {
  it('queues an acknowledge and a resolve (with its summary) for a PagerDuty incident, keyed by that incident', async () => {
    const { queued, outbox } = recorder();
    const sync = createPagerdutySync({ outbox, findIncident: async () => incident() });
    await sync.onIncidentRecorded(event('incident.acknowledged'), incident(), human);
    await sync.onIncidentRecorded(event('incident.resolved', { summary: 'rolled back' }), incident(), human);
    expect(queued).toEqual([
      { causeSeq: 42, target: 'pagerduty', channel: 'pagerduty:PINC1', body: { kind: 'pagerduty.acknowledge', action: 'acknowledge', incident: 'PINC1' } },
      {
        causeSeq: 42,
        target: 'pagerduty',
        channel: 'pagerduty:PINC1',
        body: { kind: 'pagerduty.resolve', action: 'resolve', incident: 'PINC1', resolution: 'rolled back' },
      },
    ]);
    for (const q of queued) expect(PagerdutyWriteSchema.safeParse(q.body).success).toBe(true);
  });

  it('sends nothing back for changes that came from PagerDuty, for incidents not from PagerDuty, or for other kinds', async () => {
    const { queued, outbox } = recorder();
    const sync = createPagerdutySync({ outbox, findIncident: async () => incident() });
    await sync.onIncidentRecorded(event('incident.acknowledged'), incident(), pd);
    await sync.onIncidentRecorded(event('incident.acknowledged'), incident({ pagerdutyId: null }), human);
    await sync.onIncidentRecorded(event('incident.note', { text: 'x' }), incident(), human);
    expect(queued).toEqual([]);
  });
});

describe('notes for runs PagerDuty triggered', () => {
  it('say state, duration and an output excerpt, starting with the edgeops mark', () => {
    const text = runNote(run(), [step({ output: `${'noise\n'.repeat(400)}final line: 200 OK` })], incident());
    expect(text.startsWith(`${EDGEOPS_NOTE_MARK} R-7 diag-http (prod) succeeded in 3s — edgeops INC-3`)).toBe(true);
    expect(text).toContain('• request: succeeded (HTTP 200, 1s)');
    expect(text).toContain('final line: 200 OK');
    expect(text.length).toBeLessThan(1_000);
  });

  it('name a failure and its reason', () => {
    const text = runNote(
      run({ state: 'timed_out', error: 'step tail timed out' }),
      [step({ kind: 'run', outcome: 'timed_out', exitCode: null, httpStatus: null })],
      incident(),
    );
    expect(text).toContain('timed out in 3s');
    expect(text).toContain('step tail timed out');
    expect(text).toContain('• request: timed out (exit —, 1s)');
  });

  it('are queued only for PagerDuty-triggered runs in incidents that came from PagerDuty', async () => {
    const { queued, outbox } = recorder();
    let found: Incident | undefined = incident();
    const sync = createPagerdutySync({ outbox, findIncident: async () => found });
    await sync.onRunFinished(run(), [step()], 9);
    await sync.onRunFinished(run({ source: 'slack', requestedBy: 'U1' }), [step()], 10);
    await sync.onRunFinished(run({ incidentId: null }), [step()], 11);
    found = incident({ pagerdutyId: null });
    await sync.onRunFinished(run(), [step()], 12);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ causeSeq: 9, target: 'pagerduty', channel: 'pagerduty:PINC1', body: { action: 'note', incident: 'PINC1' } });
  });
});
