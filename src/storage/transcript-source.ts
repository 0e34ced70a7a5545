// Feeds the transcript renderers from the store: lazy iterators, so a 100k-event incident streams.
import type { TranscriptRun, TranscriptSource } from '../core/export/transcript.js';
import { outputTail } from '../core/runs/run-messages.js';
import type { RunStore } from '../core/runs/run-store.js';
import { NotFoundError } from '../errors.js';
import type { Store } from './store.js';

export const DENIAL_KINDS = ['policy.denied'];

/**
 * The rows are read lazily as the renderers ask for them, a page at a time, so a source made but not
 * rendered costs one look-up of the incident and its runs.
 */
export async function transcriptSource(
  store: Pick<Store, 'incidents' | 'audit'>,
  incidentId: string,
  runs: (incidentId: string) => Promise<Iterable<TranscriptRun>> = async () => [],
): Promise<TranscriptSource> {
  const incident = await store.incidents.get(incidentId);
  if (!incident) throw new NotFoundError(`${incidentId} does not exist`);
  const runList = await runs(incidentId);
  return {
    incident,
    events: () => store.audit.transcriptRows(incidentId),
    runs: () => runList,
    denied: () => store.audit.transcriptRows(incidentId, { kinds: DENIAL_KINDS }),
  };
}

/** An incident's runs as the transcript shows them: who, approvers, params (no secrets), steps. */
export async function transcriptRuns(runs: RunStore, incidentId: string): Promise<TranscriptRun[]> {
  const out: TranscriptRun[] = [];
  for (const run of await runs.forIncident(incidentId)) {
    const approvals = await runs.approvals(run.id);
    const steps = await runs.steps(run.id);
    out.push({
      id: run.id,
      procedure: run.procedure,
      environment: run.environment,
      state: run.state,
      requestedBy: run.requestedBy,
      approvers: approvals.filter((a) => a.decision === 'approve').map((a) => a.approver),
      params: run.params,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      steps: steps.map((s) => ({
        name: s.name,
        outcome: s.outcome,
        // An HTTP step has a status, not an exit code: it says so, and its status stays a status.
        ...(s.kind === 'http' ? { kind: 'http' as const, exitCode: null, httpStatus: s.httpStatus } : { exitCode: s.exitCode }),
        durationMs: s.finishedAt - s.startedAt,
        outputExcerpt: outputTail(s.output, 4000),
      })),
    });
  }
  return out;
}
