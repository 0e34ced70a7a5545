// Feeds the transcript renderers from the store: lazy iterators, so a 100k-event incident streams.
import type { TranscriptRun, TranscriptSource } from '../core/export/transcript.js';
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
    events: () => store.audit.forIncident(incidentId),
    runs: () => runs(incidentId),
    denied: () => store.audit.forIncident(incidentId, { kinds: DENIAL_KINDS }),
  };
}
