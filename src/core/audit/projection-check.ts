// Replays the audit rows and checks the tables exports read (incidents, runs, steps, approvals) against them.
import type { Incident } from '../incidents/incident.js';
import { SECRET_MASK } from '../procedures/mask.js';
import { sha256, type ApprovalRecord, type Run, type RunStepRecord } from '../runs/run.js';
import { canonicalJson, type AuditEvent } from './audit-chain.js';

/** What the replay needs of an audit row that the chain check has already accepted. */
export type AuditFact = Omit<AuditEvent, 'prevHash' | 'hash'>;

export type ProjectionTable = 'incidents' | 'runs' | 'run_steps' | 'run_approvals';

export interface ProjectionMismatch {
  table: ProjectionTable;
  /** The row's key as a person reads it: `INC-3`, `R-7`, `R-7 step 1`, `R-7 approver U0…`. */
  row: string;
  /** The audit row the stored value should follow from; null when no audit row names the row at all. */
  seq: number | null;
  /** `incidents row INC-3: title differs from seq 12 (recorded "…", stored "…")` */
  message: string;
}

/** A value as recorded, with the seq of the audit row that set it last. */
interface Fact {
  value: unknown;
  seq: number;
}

class Facts {
  readonly byField = new Map<string, Fact>();
  constructor(readonly seq: number) {}
  set(field: string, value: unknown, seq: number): void {
    this.byField.set(field, { value, seq });
  }
  get(field: string): unknown {
    return this.byField.get(field)?.value;
  }
}

interface RunFacts extends Facts {
  /** Approval decisions as recorded, in seq order. */
  decisions: Array<{ approver: string; decision: 'approve' | 'deny'; binding: unknown; seq: number }>;
  /** duration_ms of run.finished, checked when the row records no exact times (older logs). */
  duration?: Fact;
}

interface StepFacts extends Facts {
  kind?: Fact;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Fields of a run set by the row that ends it without running it (approval denied, expired, voided, cancelled). */
const ENDED_PENDING: Record<string, Run['state']> = {
  'run.denied': 'denied',
  'run.approval_expired': 'denied',
  'run.approval_voided': 'denied',
  'run.cancelled': 'cancelled',
};

export class ProjectionCheck {
  private readonly incidents = new Map<string, Facts>();
  private readonly runs = new Map<string, RunFacts>();
  private readonly steps = new Map<string, StepFacts>();
  private readonly seenIncidents = new Set<string>();
  private readonly seenRuns = new Set<string>();
  private readonly seenSteps = new Set<string>();
  private readonly storedApprovals = new Map<string, ApprovalRecord[]>();
  private readonly found: ProjectionMismatch[] = [];

  /** Feeds one audit row, in seq order. Rows of kinds that change no projection are passed over. */
  observe(row: AuditFact): void {
    const kind = row.kind;
    if (kind.startsWith('incident.')) this.observeIncident(row);
    else if (kind.startsWith('run.')) this.observeRun(row);
  }

  private observeIncident(row: AuditFact): void {
    const id = row.incidentId;
    if (id === null) return;
    const p = row.payload;
    const { seq } = row;
    if (row.kind === 'incident.declared') {
      const f = new Facts(seq);
      f.set('title', p.title, seq);
      f.set('severity', p.severity, seq);
      f.set('status', 'investigating', seq);
      f.set('service', p.service ?? null, seq);
      f.set('private', p.private === true, seq);
      f.set('channel_name', p.channel, seq);
      f.set('commander', p.commander ?? null, seq);
      f.set('comms', null, seq);
      f.set('scribe', null, seq);
      f.set('declared_by', row.actor, seq);
      f.set('declared_at', row.time, seq);
      f.set('acknowledged_at', null, seq);
      f.set('resolved_at', null, seq);
      f.set('summary', null, seq);
      f.set('pagerduty_id', p.pagerduty_id ?? null, seq);
      f.set('pagerduty_url', p.pagerduty_url ?? null, seq);
      this.incidents.set(id, f);
      return;
    }
    const f = this.incidents.get(id);
    if (!f) return;
    switch (row.kind) {
      case 'incident.updated':
        if (p.status !== undefined) f.set('status', p.status, seq);
        break;
      case 'incident.severity_changed':
      case 'incident.priority_updated':
        f.set('severity', p.to, seq);
        break;
      case 'incident.role_assigned':
        if (p.role === 'commander' || p.role === 'comms' || p.role === 'scribe') f.set(p.role, p.user, seq);
        break;
      case 'incident.acknowledged':
        f.set('acknowledged_at', row.time, seq);
        break;
      case 'incident.unacknowledged':
        f.set('acknowledged_at', null, seq);
        break;
      case 'incident.resolved':
        f.set('status', 'resolved', seq);
        f.set('summary', p.summary ?? null, seq);
        f.set('resolved_at', row.time, seq);
        break;
      case 'incident.reopened':
        // PagerDuty reopening a resolved incident opens it again here; reopening an open one only clears the ack.
        if (f.get('status') === 'resolved') {
          f.set('status', 'investigating', seq);
          f.set('summary', null, seq);
          f.set('resolved_at', null, seq);
        }
        f.set('acknowledged_at', null, seq);
        break;
      default:
        break;
    }
  }

  private observeRun(row: AuditFact): void {
    const p = row.payload;
    const id = str(p.run);
    if (id === null) return;
    const { seq } = row;
    if (row.kind === 'run.requested') {
      const f = Object.assign(new Facts(seq), { decisions: [] }) as RunFacts;
      f.set('procedure', p.procedure, seq);
      f.set('environment', p.environment, seq);
      f.set('incident_id', row.incidentId, seq);
      f.set('requested_by', row.actor, seq);
      f.set('source', row.source, seq);
      f.set('params', p.params ?? {}, seq);
      f.set('binding', p.binding, seq);
      f.set('channel', p.channel ?? null, seq);
      f.set('concurrency_key', p.concurrency_key, seq);
      // Only a run held for approval records when the approval window closes.
      f.set('state', Object.hasOwn(p, 'approval_expires_at') ? 'pending_approval' : 'queued', seq);
      f.set('error', null, seq);
      this.runs.set(id, f);
      return;
    }
    const f = this.runs.get(id);
    if (!f) return;
    // Exact times are on rows written since they were recorded; older rows are checked by duration only.
    if (Object.hasOwn(p, 'started_at')) f.set('started_at', p.started_at, seq);
    if (Object.hasOwn(p, 'finished_at')) f.set('finished_at', p.finished_at, seq);
    const ended = ENDED_PENDING[row.kind];
    if (ended) {
      f.set('state', ended, seq);
      f.set('error', p.reason ?? null, seq);
      if (row.kind === 'run.denied') f.decisions.push({ approver: row.actor, decision: 'deny', binding: f.get('binding'), seq });
      return;
    }
    switch (row.kind) {
      case 'run.approved':
        f.decisions.push({ approver: row.actor, decision: 'approve', binding: p.binding, seq });
        if (p.complete === true) f.set('state', 'queued', seq);
        break;
      case 'run.started':
        f.set('state', 'running', seq);
        break;
      case 'run.finished':
        f.set('state', p.state, seq);
        f.set('error', p.error ?? null, seq);
        if (typeof p.duration_ms === 'number') f.duration = { value: p.duration_ms, seq };
        break;
      case 'run.interrupted':
        f.set('state', 'interrupted', seq);
        // Older rows do not record the error an interruption leaves; then it is not checked.
        if (Object.hasOwn(p, 'error')) f.set('error', p.error, seq);
        else f.byField.delete('error');
        break;
      case 'run.step_started': {
        const s = this.step(id, p.index, seq);
        if (s) s.kind = { value: Array.isArray(p.argv) ? 'run' : 'http', seq };
        break;
      }
      case 'run.step_finished': {
        const s = this.step(id, p.index, seq);
        if (!s) break;
        s.set('name', p.step, seq);
        s.set('outcome', p.outcome, seq);
        s.set('exit_code', p.exit_code ?? null, seq);
        s.set('http_status', p.http_status ?? null, seq);
        s.set('duration', p.duration_ms, seq);
        s.set('output', { sha256: p.output_sha256, bytes: p.output_bytes }, seq);
        s.set('truncated_bytes', p.truncated_bytes ?? 0, seq);
        s.set('error', p.error ?? null, seq);
        break;
      }
      default:
        break;
    }
  }

  private step(runId: string, index: unknown, seq: number): StepFacts | undefined {
    const i = num(index);
    if (i === null) return undefined;
    const key = stepKey(runId, i);
    let s = this.steps.get(key);
    if (!s) {
      s = new Facts(seq);
      this.steps.set(key, s);
    }
    return s;
  }

  checkIncident(i: Incident): void {
    const row = i.id;
    this.seenIncidents.add(row);
    const f = this.incidents.get(row);
    if (!f) {
      this.unrecorded('incidents', row);
      return;
    }
    const stored: Record<string, unknown> = {
      title: i.title,
      severity: i.severity,
      status: i.status,
      service: i.service,
      private: i.private,
      channel_name: i.channelName,
      commander: i.roles.commander,
      comms: i.roles.comms,
      scribe: i.roles.scribe,
      declared_by: i.declaredBy,
      declared_at: i.declaredAt,
      acknowledged_at: i.acknowledgedAt,
      resolved_at: i.resolvedAt,
      summary: i.summary,
      pagerduty_id: i.pagerdutyId,
      pagerduty_url: i.pagerdutyUrl,
    };
    this.compare('incidents', row, f, stored);
  }

  checkRun(r: Run): void {
    const row = r.id;
    this.seenRuns.add(row);
    const f = this.runs.get(row);
    if (!f) {
      this.unrecorded('runs', row);
      return;
    }
    const { params, ...rest } = {
      procedure: r.procedure,
      environment: r.environment,
      incident_id: r.incidentId,
      requested_by: r.requestedBy,
      source: r.source,
      params: r.params,
      binding: r.binding,
      channel: r.channel,
      concurrency_key: r.concurrencyKey,
      state: r.state,
      error: r.error,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
    };
    this.compare('runs', row, f, rest);
    const recorded = f.byField.get('params')!;
    if (!paramsMatch(recorded.value, params)) this.differs('runs', row, 'params', recorded, params);
    if (f.duration && !f.byField.has('started_at') && !f.byField.has('finished_at')) {
      const stored = r.startedAt === null || r.finishedAt === null ? null : r.finishedAt - r.startedAt;
      if (stored !== f.duration.value) this.differs('runs', row, 'duration (finished_at - started_at)', f.duration, stored, ' ms');
    }
  }

  checkStep(s: RunStepRecord): void {
    const key = stepKey(s.runId, s.index);
    const row = `${s.runId} step ${s.index}`;
    this.seenSteps.add(key);
    const f = this.steps.get(key);
    if (!f || !f.byField.has('name')) {
      this.unrecorded('run_steps', row);
      return;
    }
    this.compare('run_steps', row, f, {
      name: s.name,
      outcome: s.outcome,
      exit_code: s.exitCode,
      http_status: s.httpStatus,
      duration: s.finishedAt - s.startedAt,
      truncated_bytes: s.truncatedBytes,
      error: s.error,
    });
    if (f.kind && f.kind.value !== s.kind) this.differs('run_steps', row, 'kind', f.kind, s.kind);
    const recorded = f.byField.get('output')!;
    const want = recorded.value as { sha256: unknown; bytes: unknown };
    const bytes = Buffer.byteLength(s.output);
    // The byte count is compared first: most edits change it, and it costs no hashing.
    if (want.bytes !== bytes || want.sha256 !== sha256(s.output)) {
      this.found.push({
        table: 'run_steps',
        row,
        seq: recorded.seq,
        message: `run_steps row ${row}: output differs from seq ${recorded.seq} (recorded ${String(want.bytes)} bytes, sha256 ${String(want.sha256)}; stored ${bytes} bytes, sha256 ${sha256(s.output)})`,
      });
    }
  }

  checkApproval(a: ApprovalRecord): void {
    const list = this.storedApprovals.get(a.runId) ?? [];
    list.push(a);
    this.storedApprovals.set(a.runId, list);
  }

  /** A stored row that could not even be read back (a column no longer holds what it must). */
  unreadable(table: ProjectionTable, row: string, reason: string): void {
    this.found.push({ table, row, seq: null, message: `${table} row ${row}: cannot be read (${reason})` });
  }

  /** Every mismatch found, including rows the audit log records that the tables no longer hold. */
  finish(): ProjectionMismatch[] {
    for (const [id, f] of this.incidents) if (!this.seenIncidents.has(id)) this.missing('incidents', id, f.seq, 'declared');
    for (const [id, f] of this.runs) if (!this.seenRuns.has(id)) this.missing('runs', id, f.seq, 'requested');
    for (const [key, f] of this.steps) {
      if (!this.seenSteps.has(key) && f.byField.has('name'))
        this.missing('run_steps', key.replace('\u0000', ' step '), f.byField.get('name')!.seq, 'finished');
    }
    for (const [runId, f] of this.runs) this.compareApprovals(runId, f.decisions, this.storedApprovals.get(runId) ?? []);
    for (const [runId, stored] of this.storedApprovals) {
      if (this.runs.has(runId)) continue;
      for (const a of stored) this.unrecorded('run_approvals', approvalRow(a.runId, a.approver));
    }
    return this.found;
  }

  private compareApprovals(runId: string, recorded: RunFacts['decisions'], stored: ApprovalRecord[]): void {
    const left = [...stored];
    const unmatched: RunFacts['decisions'] = [];
    for (const d of recorded) {
      const at = left.findIndex((a) => a.approver === d.approver);
      if (at === -1) {
        unmatched.push(d);
        continue;
      }
      const [a] = left.splice(at, 1);
      const row = approvalRow(runId, a!.approver);
      if (a!.decision !== d.decision) this.differs('run_approvals', row, 'decision', { value: d.decision, seq: d.seq }, a!.decision);
      if (a!.binding !== d.binding) this.differs('run_approvals', row, 'binding', { value: d.binding, seq: d.seq }, a!.binding);
    }
    // A stored approval by someone the log never saw decide: most likely the approver was rewritten.
    for (const a of left) {
      const d = unmatched.shift();
      const row = approvalRow(runId, a.approver);
      if (d) this.differs('run_approvals', row, 'approver', { value: d.approver, seq: d.seq }, a.approver);
      else this.unrecorded('run_approvals', row);
    }
    for (const d of unmatched) this.missing('run_approvals', approvalRow(runId, d.approver), d.seq, d.decision === 'approve' ? 'approved' : 'denied');
  }

  private compare(table: ProjectionTable, row: string, f: Facts, stored: Record<string, unknown>): void {
    for (const [field, value] of Object.entries(stored)) {
      const recorded = f.byField.get(field);
      if (recorded && !same(recorded.value, value)) this.differs(table, row, field, recorded, value);
    }
  }

  private differs(table: ProjectionTable, row: string, field: string, recorded: Fact, stored: unknown, unit = ''): void {
    this.found.push({
      table,
      row,
      seq: recorded.seq,
      message: `${table} row ${row}: ${field} differs from seq ${recorded.seq} (recorded ${show(field, recorded.value)}${unit}, stored ${show(field, stored)}${unit})`,
    });
  }

  private unrecorded(table: ProjectionTable, row: string): void {
    this.found.push({ table, row, seq: null, message: `${table} row ${row}: no audit row records it` });
  }

  private missing(table: ProjectionTable, row: string, seq: number, what: string): void {
    this.found.push({ table, row, seq, message: `${table} row ${row}: missing, though ${what} at seq ${seq}` });
  }
}

const stepKey = (runId: string, index: number): string => `${runId}\u0000${index}`;
const approvalRow = (runId: string, approver: string): string => `${runId} approver ${approver}`;

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * The run's stored params against those recorded. The audit row masks any secret value found
 * inside a non-secret param, so a recorded `[secret]` stands for the (non-empty) text it hid.
 */
function paramsMatch(recorded: unknown, stored: Record<string, unknown>): boolean {
  if (same(recorded, stored)) return true;
  if (recorded === null || typeof recorded !== 'object' || Array.isArray(recorded)) return false;
  const r = recorded as Record<string, unknown>;
  const keys = Object.keys(r).sort();
  if (canonicalJson(keys) !== canonicalJson(Object.keys(stored).sort())) return false;
  return keys.every((k) => {
    const want = r[k];
    const have = stored[k];
    if (same(want, have)) return true;
    if (typeof want !== 'string' || typeof have !== 'string' || !want.includes(SECRET_MASK)) return false;
    const pattern = want
      .split(SECRET_MASK)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[\\s\\S]+');
    return new RegExp(`^${pattern}$`).test(have);
  });
}

const SHOW_MAX = 80;

/** A value for a one-line report: times as ISO, text quoted with control characters escaped, long text cut. */
function show(field: string, value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && field.endsWith('_at')) return Number.isFinite(value) ? new Date(value).toISOString() : String(value);
  const text = canonicalJson(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > SHOW_MAX ? `${text.slice(0, SHOW_MAX)}…` : text;
}
