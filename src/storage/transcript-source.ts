// Feeds the transcript renderers from the store: lazy iterators, so a 100k-event incident streams.
import type { TranscriptRun, TranscriptSource } from '../core/export/transcript.js';
import { outputTail } from '../core/runs/run-messages.js';
import type { RunStore } from '../core/runs/run-store.js';
import { NotFoundError } from '../errors.js';
import type { Store } from './store.js';

export const DENIAL_KINDS = ['policy.denied'];

export function transcriptSource(
  store: Pick<Store, 'incidents' | 'audit'>,
  incidentId: string,
  runs: (incidentId: string) => Iterable<TranscriptRun> = () => [],
): TranscriptSource {
  const incident = store.incidents.get(incidentId);
  if (!incident) throw new NotFoundError(`${incidentId} does not exist`);
  return {
    incident,
    events: () => store.audit.transcriptRows(incidentId),
    runs: () => runs(incidentId),
    denied: () => store.audit.transcriptRows(incidentId, { kinds: DENIAL_KINDS }),
  };
}

/** An incident's runs as the transcript shows them: who, approvers, params (no secrets), steps. */
export function transcriptRuns(runs: RunStore, incidentId: string): TranscriptRun[] {
  return runs.forIncident(incidentId).map((run) => ({
    id: run.id,
    procedure: run.procedure,
    environment: run.environment,
    state: run.state,
    requestedBy: run.requestedBy,
    approvers: runs
      .approvals(run.id)
      .filter((a) => a.decision === 'approve')
      .map((a) => a.approver),
    params: run.params,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    steps: runs.steps(run.id).map((s) => ({
      name: s.name,
      outcome: s.outcome,
      // An HTTP step has a status, not an exit code: it says so, and its status stays a status.
      ...(s.kind === 'http' ? { kind: 'http' as const, exitCode: null, httpStatus: s.httpStatus } : { exitCode: s.exitCode }),
      durationMs: s.finishedAt - s.startedAt,
      outputExcerpt: outputTail(s.output, 4000),
    })),
  }));
}
