// Keeps PagerDuty in step with edgeops: mirrors acks and resolves made here, reports triggered runs as notes.
import type { AuditEvent } from '../audit/audit-chain.js';
import { formatDuration } from '../duration.js';
import type { Incident } from '../incidents/incident.js';
import type { Outbox } from '../outbox/outbox.js';
import type { By } from '../ports.js';
import type { Run, RunStepRecord } from '../runs/run.js';
import { outputTail } from '../runs/run-messages.js';
import { stepSummary } from '../runs/step-summary.js';
import { acknowledgeWrite, noteWrite, pagerdutyChannelKey, resolveWrite, type PagerdutyWrite } from './pagerduty-writes.js';

/**
 * Starts every note edgeops writes. The incident.annotated webhook PagerDuty sends back for such a
 * note is recognised by it and not put on the timeline a second time (nor does it fire triggers,
 * which could otherwise loop: note → annotated → run → note).
 */
export const EDGEOPS_NOTE_MARK = '[edgeops]';

/** Output kept per step in a note: PagerDuty shows notes in a narrow column; the full output stays in edgeops. */
const NOTE_TAIL_CHARS = 400;
const NOTE_BUDGET_CHARS = 3_000;

/**
 * The note for a finished run: state, duration and a short excerpt of each step's output. Output is
 * stored with secret values already masked, so nothing here can reveal one.
 */
export function runNote(run: Run, steps: readonly RunStepRecord[], incident: Pick<Incident, 'id'>): string {
  const took = run.startedAt !== null && run.finishedAt !== null ? ` in ${formatDuration(run.finishedAt - run.startedAt, 'elapsed')}` : '';
  const lines = [`${EDGEOPS_NOTE_MARK} ${run.id} ${run.procedure} (${run.environment}) ${run.state.replace('_', ' ')}${took} — edgeops ${incident.id}`];
  if (run.error) lines.push(run.error);
  let budget = NOTE_BUDGET_CHARS;
  for (const step of steps) {
    lines.push(`• ${stepSummary(step, { error: false, spacedOutcome: true })}`);
    const tail = outputTail(step.output, Math.min(NOTE_TAIL_CHARS, Math.max(0, budget)));
    if (tail) {
      lines.push(tail);
      budget -= tail.length;
    }
  }
  return lines.join('\n');
}

export interface PagerdutySyncDeps {
  outbox: Outbox;
  findIncident: (id: string) => Promise<Incident | undefined>;
}

export type PagerdutySync = ReturnType<typeof createPagerdutySync>;

export function createPagerdutySync(deps: PagerdutySyncDeps) {
  const { outbox } = deps;
  const queue = async (causeSeq: number, write: PagerdutyWrite): Promise<void> => {
    await outbox.enqueue({ causeSeq, target: 'pagerduty', channel: pagerdutyChannelKey(write.incident), body: write });
  };

  return {
    /**
     * An ack or resolve made here on an incident that came from PagerDuty is queued for PagerDuty in
     * the same transaction. Changes that came from PagerDuty itself are not sent back.
     */
    // An arrow, not a method: the composition root hands it on detached as the incident service's onRecorded.
    onIncidentRecorded: async (event: AuditEvent, incident: Incident, by: By): Promise<void> => {
      if (incident.pagerdutyId === null || by.source === 'pagerduty') return;
      if (event.kind === 'incident.acknowledged') await queue(event.seq, acknowledgeWrite(incident.pagerdutyId));
      if (event.kind === 'incident.resolved') {
        const summary = typeof event.payload.summary === 'string' ? event.payload.summary : null;
        await queue(event.seq, resolveWrite(incident.pagerdutyId, summary));
      }
    },

    /** A run a PagerDuty trigger started, in an incident from PagerDuty, reports back as a note there. */
    async onRunFinished(run: Run, steps: RunStepRecord[], causeSeq: number): Promise<void> {
      if (run.source !== 'pagerduty' || run.incidentId === null) return;
      const incident = await deps.findIncident(run.incidentId);
      if (!incident?.pagerdutyId) return;
      await queue(causeSeq, noteWrite(incident.pagerdutyId, runNote(run, steps, incident)));
    },
  };
}
