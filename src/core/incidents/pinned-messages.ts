// Which chat messages are already on an incident's timeline from a pin (a pin is recorded once per message).
import type { AuditLog } from '../audit/audit-log.js';

export interface PinnedMessages {
  /** Whether the message at `messageTs` was already copied onto the incident's timeline by an earlier pin. */
  isPinned(incidentId: string, messageTs: string): Promise<boolean>;
}

export function createPinnedMessages(deps: { audit: Pick<AuditLog, 'transcriptRows'> }): PinnedMessages {
  return {
    async isPinned(incidentId, messageTs) {
      for await (const event of deps.audit.transcriptRows(incidentId, { kinds: ['incident.note'] })) {
        if (event.payload.pinned === true && event.payload.message_ts === messageTs) return true;
      }
      return false;
    },
  };
}
