// The projection check: audit rows replayed, each table row exports read held to them, every difference named with its seq.
import { describe, expect, it } from 'vitest';
import { ProjectionCheck, type AuditFact } from '../../../src/core/audit/projection-check.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { sha256, type Run, type RunStepRecord } from '../../../src/core/runs/run.js';

const T0 = Date.parse('2026-03-04T10:00:00.000Z');

/** Audit rows in seq order, as the chain check hands them on. */
function log() {
  const rows: AuditFact[] = [];
  return {
    rows,
    add(kind: string, payload: Record<string, unknown>, more: Partial<AuditFact> = {}): number {
      const seq = rows.length + 1;
      rows.push({ seq, time: T0 + seq * 1000, actor: 'U0SRE0001', source: 'slack', kind, incidentId: 'INC-1', payload, ...more });
      return seq;
    },
  };
}

function check(rows: AuditFact[], tables: { incidents?: Incident[]; runs?: Run[]; steps?: RunStepRecord[] } = {}): string[] {
  const c = new ProjectionCheck();
  for (const row of rows) c.observe(row);
  for (const i of tables.incidents ?? []) c.checkIncident(i);
  for (const r of tables.runs ?? []) c.checkRun(r);
  for (const s of tables.steps ?? []) c.checkStep(s);
  return c.finish().map((m) => m.message);
}

const incident = (over: Partial<Incident> = {}): Incident => ({
  id: 'INC-1',
  number: 1,
  title: 'Checkout down',
  severity: 2,
  status: 'investigating',
  service: 'checkout',
  private: false,
  channelName: 'inc-1-checkout-down',
  channelId: 'C0INC0001',
  roles: { commander: null, comms: null, scribe: null },
  declaredBy: 'pagerduty:checkout',
  declaredAt: T0 + 1000,
  acknowledgedAt: null,
  resolvedAt: null,
  summary: null,
  pagerdutyId: 'PABC123',
  pagerdutyUrl: 'https://example.pagerduty.com/incidents/PABC123',
  lastUpdateAt: T0,
  ...over,
});

const declared = {
  title: 'Checkout down',
  severity: 2,
  service: 'checkout',
  private: false,
  channel: 'inc-1-checkout-down',
  commander: null,
  pagerduty_id: 'PABC123',
  pagerduty_url: 'https://example.pagerduty.com/incidents/PABC123',
};

describe('incidents against their audit rows', () => {
  it('follow a PagerDuty lifecycle: ack, resolve, reopen, priority change, unack, roles', () => {
    const l = log();
    l.add('incident.declared', declared, { actor: 'pagerduty:checkout' });
    l.add('incident.acknowledged', {});
    l.add('incident.resolved', { summary: 'cache flushed' });
    l.add('incident.reopened', {}); // resolved → open again, no ack, no summary
    const ack = l.add('incident.acknowledged', {});
    l.add('incident.priority_updated', { from: 2, to: 1 });
    l.add('incident.reopened', {}); // open: only the ack goes
    l.add('incident.acknowledged', {});
    l.add('incident.unacknowledged', {});
    l.add('incident.role_assigned', { role: 'comms', user: 'U0COMMS01', previous: null });
    l.add('incident.updated', { text: 'found it', status: 'identified', previous_status: 'investigating' });
    l.add('incident.note', { text: 'a note changes nothing exported' });
    expect(ack).toBe(5);
    const replayed = incident({ severity: 1, status: 'identified', roles: { commander: null, comms: 'U0COMMS01', scribe: null } });
    expect(check(l.rows, { incidents: [replayed] })).toEqual([]);
  });

  it('name each field that differs, with the seq of the row that set it last', () => {
    const l = log();
    l.add('incident.declared', declared, { actor: 'pagerduty:checkout' });
    const sev = l.add('incident.severity_changed', { from: 2, to: 1 });
    const resolved = l.add('incident.resolved', { summary: 'rolled back' });
    const tampered = incident({
      title: 'Nothing',
      severity: 3,
      status: 'resolved',
      summary: 'rolled back',
      resolvedAt: T0 + resolved * 1000 + 60_000,
      declaredBy: 'U0OTHER01',
    });
    expect(check(l.rows, { incidents: [tampered] })).toEqual([
      'incidents row INC-1: title differs from seq 1 (recorded "Checkout down", stored "Nothing")',
      `incidents row INC-1: severity differs from seq ${sev} (recorded 1, stored 3)`,
      'incidents row INC-1: declared_by differs from seq 1 (recorded "pagerduty:checkout", stored "U0OTHER01")',
      `incidents row INC-1: resolved_at differs from seq ${resolved} (recorded 2026-03-04T10:00:03.000Z, stored 2026-03-04T10:01:03.000Z)`,
    ]);
  });

  it('report an incident no row declared, and one declared whose row is gone', () => {
    const l = log();
    l.add('incident.declared', declared);
    expect(check(l.rows, { incidents: [incident({ id: 'INC-2', number: 2 })] })).toEqual([
      'incidents row INC-2: no audit row records it',
      'incidents row INC-1: missing, though declared at seq 1',
    ]);
  });

  it('quote stored text safely: control characters escaped, long values cut', () => {
    const l = log();
    l.add('incident.declared', declared);
    const [line] = check(l.rows, { incidents: [incident({ title: `\u001b[2J\u009bevil${'x'.repeat(200)}` })] });
    expect(line).toContain('stored "\\u001b[2J\\u009bevil');
    // Control characters are exactly what must not reach the line.
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(line!.endsWith('…)')).toBe(true);
  });
});

const run = (over: Partial<Run> = {}): Run => ({
  id: 'R-1',
  number: 1,
  procedure: 'restart-service',
  environment: 'prod',
  incidentId: 'INC-1',
  channel: null,
  requestedBy: 'U0DEV0001',
  requestedGroups: [],
  source: 'slack',
  params: { service: 'checkout', reason: 'token abcd1234efgh leaked' },
  binding: 'b1',
  state: 'succeeded',
  approval: null,
  approvalExpiresAt: null,
  concurrencyKey: 'checkout-prod',
  createdAt: T0,
  startedAt: T0 + 5000,
  finishedAt: T0 + 9000,
  pgid: null,
  ownerPid: 1,
  error: null,
  ...over,
});

const base = { run: 'R-1', procedure: 'restart-service', environment: 'prod' };
const requested = {
  ...base,
  params: { service: 'checkout', reason: 'token [secret] leaked' },
  binding: 'b1',
  concurrency_key: 'checkout-prod',
  channel: null,
};

describe('runs against their audit rows', () => {
  it('accept params whose secret part the audit row masked, and refuse any other change to them', () => {
    const l = log();
    l.add('run.requested', requested, { actor: 'U0DEV0001' });
    l.add('run.started', { ...base, owner_pid: 1, started_at: T0 + 5000 }, { actor: 'U0DEV0001' });
    l.add('run.finished', { ...base, state: 'succeeded', error: null, duration_ms: 4000, started_at: T0 + 5000, finished_at: T0 + 9000 });
    expect(check(l.rows, { runs: [run()] })).toEqual([]);
    expect(check(l.rows, { runs: [run({ params: { service: 'payments', reason: 'token abcd1234efgh leaked' } })] })).toEqual([
      'runs row R-1: params differs from seq 1 (recorded {"reason":"token [secret] leaked","service":"checkout"}, stored {"reason":"token abcd1234efgh leaked","service":"payments"})',
    ]);
  });

  it('on older rows without exact times, hold the stored times to the recorded duration instead', () => {
    const l = log();
    l.add('run.requested', requested, { actor: 'U0DEV0001' });
    l.add('run.started', { ...base, owner_pid: 1 }, { actor: 'U0DEV0001' });
    const finished = l.add('run.finished', { ...base, state: 'succeeded', error: null, duration_ms: 4000 });
    expect(check(l.rows, { runs: [run()] })).toEqual([]);
    expect(check(l.rows, { runs: [run({ finishedAt: T0 + 65_000 })] })).toEqual([
      `runs row R-1: duration (finished_at - started_at) differs from seq ${finished} (recorded 4000 ms, stored 60000 ms)`,
    ]);
  });

  it('follow approval to state: held, approved, then interrupted (an older row without its error is not held to one)', () => {
    const l = log();
    l.add('run.requested', { ...requested, approval: { roles: ['sre'], count: 1 }, approval_expires_at: T0 + 900_000 }, { actor: 'U0DEV0001' });
    const held = check(l.rows, { runs: [run({ state: 'pending_approval', startedAt: null, finishedAt: null })] });
    expect(held).toEqual([]);
    l.add('run.approved', { ...base, binding: 'b1', approvals: 1, needed: 1, complete: true });
    l.add('run.interrupted', { ...base, killed_process_group: null, previous_owner_pid: 1 });
    expect(check(l.rows, { runs: [run({ state: 'interrupted', error: 'edgeops stopped while this run was in progress' })] })).toEqual([
      'run_approvals row R-1 approver U0SRE0001: missing, though approved at seq 2',
    ]);
  });

  it("hold each step's outcome, exit code, duration and output (by size and sha256) to its step_finished row", () => {
    const l = log();
    l.add('run.requested', requested, { actor: 'U0DEV0001' });
    l.add('run.step_started', { ...base, step: 'restart', index: 0, argv: ['./restart.sh'] });
    const fin = l.add('run.step_finished', {
      ...base,
      step: 'restart',
      index: 0,
      outcome: 'succeeded',
      exit_code: 0,
      http_status: null,
      duration_ms: 1500,
      output_bytes: 9,
      output_sha256: sha256('restarted'),
      truncated_bytes: 0,
      error: null,
    });
    const step = (over: Partial<RunStepRecord> = {}): RunStepRecord => ({
      runId: 'R-1',
      index: 0,
      name: 'restart',
      kind: 'run',
      outcome: 'succeeded',
      exitCode: 0,
      httpStatus: null,
      startedAt: T0,
      finishedAt: T0 + 1500,
      output: 'restarted',
      truncatedBytes: 0,
      error: null,
      ...over,
    });
    expect(check(l.rows, { runs: [run({ state: 'queued', startedAt: null, finishedAt: null })], steps: [step()] })).toEqual([]);
    expect(
      check(l.rows, {
        runs: [run({ state: 'queued', startedAt: null, finishedAt: null })],
        steps: [step({ exitCode: 1, kind: 'http', output: 'restarteD' }), step({ index: 1 })],
      }),
    ).toEqual([
      `run_steps row R-1 step 0: exit_code differs from seq ${fin} (recorded 0, stored 1)`,
      'run_steps row R-1 step 0: kind differs from seq 2 (recorded "run", stored "http")',
      `run_steps row R-1 step 0: output differs from seq ${fin} (recorded 9 bytes, sha256 ${sha256('restarted')}; stored 9 bytes, sha256 ${sha256('restarteD')})`,
      'run_steps row R-1 step 1: no audit row records it',
    ]);
  });
});
