// The PagerDuty Webhooks V3 envelope and the event data edgeops reads from it, checked with zod.
import { z } from 'zod';

/** Event types edgeops acts on; any other type is accepted, recorded and ignored. */
export const HANDLED_EVENT_TYPES = [
  'pagey.ping',
  'incident.triggered',
  'incident.acknowledged',
  'incident.unacknowledged',
  'incident.resolved',
  'incident.reopened',
  'incident.escalated',
  'incident.reassigned',
  'incident.delegated',
  'incident.priority_updated',
  'incident.annotated',
] as const;
export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

export const isHandledEventType = (type: string): type is HandledEventType => (HANDLED_EVENT_TYPES as readonly string[]).includes(type);

/** A `*_reference` object: PagerDuty names things by id, with a human `summary`. */
const ReferenceSchema = z.object({
  id: z.string().min(1),
  summary: z.string().nullish(),
  type: z.string().nullish(),
  html_url: z.string().nullish(),
});

/** Who or what caused the event; PagerDuty sends `null` for system-made changes. */
const AgentSchema = z.object({
  id: z.string().nullish(),
  summary: z.string().nullish(),
  type: z.string().nullish(),
});

export const PagerdutyEnvelopeSchema = z.object({
  event: z.object({
    id: z.string().min(1).max(200),
    event_type: z
      .string()
      .max(100)
      .regex(/^[a-z0-9_]+(?:\.[a-z0-9_]+)+$/, 'an event type such as incident.triggered'),
    resource_type: z.string().nullish(),
    occurred_at: z.string().nullish(),
    agent: AgentSchema.nullish(),
    data: z.record(z.string(), z.unknown()).nullish(),
  }),
});

/** `event.data` of the incident.* events whose data type is `incident`. */
export const IncidentDataSchema = z.object({
  id: z.string().min(1),
  html_url: z.string().nullish(),
  number: z.number().nullish(),
  status: z.string().nullish(),
  title: z.string().nullish(),
  service: ReferenceSchema.nullish(),
  assignees: z.array(ReferenceSchema).nullish(),
  escalation_policy: ReferenceSchema.nullish(),
  priority: ReferenceSchema.nullish(),
  urgency: z.string().nullish(),
  resolve_reason: z.unknown().optional(),
});
export type IncidentData = z.infer<typeof IncidentDataSchema>;

/** `event.data` of incident.annotated (an `incident_note`). */
export const IncidentNoteDataSchema = z.object({
  id: z.string().nullish(),
  content: z.string(),
  incident: ReferenceSchema,
});

export interface PagerdutyAgent {
  id: string | null;
  /** The person or integration, as PagerDuty names it. */
  name: string | null;
  type: string | null;
}

export interface PagerdutyService {
  id: string;
  name: string | null;
}

/** One webhook event, as much of it as edgeops uses. */
export interface PagerdutyEvent {
  id: string;
  type: string;
  handled: boolean;
  occurredAt: string | null;
  agent: PagerdutyAgent | null;
  /** The PagerDuty incident the event is about, if any. */
  pdIncidentId: string | null;
  service: PagerdutyService | null;
  /** Present for events whose data is an incident. */
  incident: IncidentData | null;
  /** Present for incident.annotated. */
  note: { content: string } | null;
}

export type ParsedEvent = { ok: true; event: PagerdutyEvent } | { ok: false; problem: string };

const problemOf = (error: z.ZodError): string =>
  error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
    .join('; ');

/** Event types whose `data` is an incident (all handled incident.* types but annotated). */
const INCIDENT_DATA_TYPES = new Set<string>(HANDLED_EVENT_TYPES.filter((t) => t.startsWith('incident.') && t !== 'incident.annotated'));

/**
 * Checks a decoded webhook body. The envelope must hold; the data of a handled incident event must
 * name its incident, or processing could not place it. Data of other types is left unread.
 */
export function parsePagerdutyEvent(json: unknown): ParsedEvent {
  const envelope = PagerdutyEnvelopeSchema.safeParse(json);
  if (!envelope.success) return { ok: false, problem: problemOf(envelope.error) };
  const e = envelope.data.event;
  const agent: PagerdutyAgent | null = e.agent ? { id: e.agent.id ?? null, name: e.agent.summary ?? null, type: e.agent.type ?? null } : null;
  const base = {
    id: e.id,
    type: e.event_type,
    handled: isHandledEventType(e.event_type),
    occurredAt: e.occurred_at ?? null,
    agent,
    pdIncidentId: null,
    service: null,
    incident: null,
    note: null,
  } satisfies PagerdutyEvent;

  if (INCIDENT_DATA_TYPES.has(e.event_type)) {
    const data = IncidentDataSchema.safeParse(e.data ?? undefined);
    if (!data.success) return { ok: false, problem: `event.data: ${problemOf(data.error)}` };
    const service = data.data.service ? { id: data.data.service.id, name: data.data.service.summary ?? null } : null;
    return { ok: true, event: { ...base, pdIncidentId: data.data.id, service, incident: data.data } };
  }
  if (e.event_type === 'incident.annotated') {
    const data = IncidentNoteDataSchema.safeParse(e.data ?? undefined);
    if (!data.success) return { ok: false, problem: `event.data: ${problemOf(data.error)}` };
    return { ok: true, event: { ...base, pdIncidentId: data.data.incident.id, note: { content: data.data.content } } };
  }
  // Unhandled types are kept as they came; the incident they concern, if any, is noted for ordering.
  const data = e.data ?? {};
  const incidentRef = ReferenceSchema.safeParse(data.incident);
  const pdIncidentId = data.type === 'incident' && typeof data.id === 'string' ? data.id : incidentRef.success ? incidentRef.data.id : null;
  return { ok: true, event: { ...base, pdIncidentId } };
}
