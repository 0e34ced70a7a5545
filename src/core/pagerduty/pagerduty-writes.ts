// What edgeops writes to PagerDuty through the outbox: notes, acknowledgements, resolutions, one channel per incident.
import { z } from 'zod';

/** PagerDuty caps a note at 25 000 characters; edgeops' notes stay far below, this is the hard stop. */
export const NOTE_MAX = 25_000;

export const PagerdutyWriteSchema = z.discriminatedUnion('action', [
  z.object({ kind: z.string().optional(), action: z.literal('note'), incident: z.string().min(1), content: z.string().min(1).max(NOTE_MAX) }),
  z.object({ kind: z.string().optional(), action: z.literal('acknowledge'), incident: z.string().min(1) }),
  z.object({ kind: z.string().optional(), action: z.literal('resolve'), incident: z.string().min(1), resolution: z.string().nullish() }),
]);
export type PagerdutyWrite = z.infer<typeof PagerdutyWriteSchema>;

/** Writes about one PagerDuty incident share a channel, so they reach PagerDuty in the order they were made. */
export const pagerdutyChannelKey = (pdIncidentId: string): string => `pagerduty:${pdIncidentId}`;

export const noteWrite = (pdIncidentId: string, content: string): PagerdutyWrite => ({
  kind: 'pagerduty.note',
  action: 'note',
  incident: pdIncidentId,
  content: content.length <= NOTE_MAX ? content : `${content.slice(0, NOTE_MAX - 1)}…`,
});

export const acknowledgeWrite = (pdIncidentId: string): PagerdutyWrite => ({
  kind: 'pagerduty.acknowledge',
  action: 'acknowledge',
  incident: pdIncidentId,
});

export const resolveWrite = (pdIncidentId: string, resolution: string | null): PagerdutyWrite => ({
  kind: 'pagerduty.resolve',
  action: 'resolve',
  incident: pdIncidentId,
  resolution,
});
