// The outbox channel key of an incident (`incident:INC-7`): written by the core, read back by every deliverer.

const PREFIX = 'incident:';

/** The key under which an incident's messages queue; resolved to the real channel when delivered. */
export const incidentChannelKey = (incidentId: string): string => `${PREFIX}${incidentId}`;

/** The incident a channel key names, or null for a key that is a Slack channel ID. */
export function incidentOfChannelKey(key: string): string | null {
  return key.startsWith(PREFIX) && key.length > PREFIX.length ? key.slice(PREFIX.length) : null;
}
