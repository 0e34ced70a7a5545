// Pure rules from PagerDuty to edgeops: severity, titles, the PagerDuty principal, and which triggers an event fires.
import { TITLE_MAX } from '../incidents/incident.js';
import { globMatch } from '../policy/glob.js';
import type { Actor, By } from '../ports.js';
import type { Procedure, Trigger } from '../procedures/procedure-schema.js';
import type { IncidentData, PagerdutyAgent, PagerdutyService } from './pagerduty-event.js';

/**
 * Severity from PagerDuty: a priority named `P1`…`P5` (PagerDuty's default scheme) maps to SEV1,
 * SEV2, SEV3, SEV4, SEV4; without a priority (or with a custom name), urgency decides: high → SEV2,
 * low → SEV4. SEV1 is kept for an explicit P1, since urgency alone says "page now", not "outage".
 * Nothing at all → SEV3, edgeops' default.
 */
export function severityOf(incident: Pick<IncidentData, 'priority' | 'urgency'>): number {
  const priority = /^P([1-5])$/i.exec(incident.priority?.summary?.trim() ?? '');
  if (priority) return Math.min(Number(priority[1]), 4);
  if (incident.urgency === 'high') return 2;
  if (incident.urgency === 'low') return 4;
  return 3;
}

/** The incident title edgeops records: PagerDuty's title, cut to fit, or its number when it has none. */
export function titleOf(incident: Pick<IncidentData, 'title' | 'number' | 'id'>): string {
  const title = incident.title?.replace(/\s+/g, ' ').trim();
  const text = title || `PagerDuty incident ${incident.number ? `#${incident.number}` : incident.id}`;
  return text.length <= TITLE_MAX ? text : `${text.slice(0, TITLE_MAX - 1)}…`;
}

/** How a service is named to people and policies: its name when PagerDuty sent one, else its id. */
export const serviceLabel = (service: PagerdutyService | null): string | null => (service ? service.name || service.id : null);

/** `pagerduty:<service>`: the principal PagerDuty-caused changes and runs act as. */
export function pagerdutyActor(serviceName: string | null): Actor {
  if (serviceName === null) return { id: 'pagerduty', groups: [] };
  return { id: `pagerduty:${serviceName}`, groups: [], pagerdutyService: serviceName };
}

export const pagerdutyBy = (serviceName: string | null): By => ({ actor: pagerdutyActor(serviceName), source: 'pagerduty' });

/** The person or integration behind an event, for "on behalf of". */
export function agentName(agent: PagerdutyAgent | null): string | null {
  if (!agent) return null;
  return agent.name || agent.id || null;
}

export interface MatchedTrigger {
  procedure: Procedure;
  index: number;
  trigger: Trigger;
  /** Stable per procedure and trigger position: what "ran once per event" is counted by. */
  key: string;
}

/**
 * The triggers an event fires: same event type, and a service pattern (`*` glob over the whole
 * value) matching the service's name or its id. Ordered by procedure name, then trigger position.
 */
export function matchingTriggers(procedures: Iterable<Procedure>, eventType: string, service: PagerdutyService | null): MatchedTrigger[] {
  const out: MatchedTrigger[] = [];
  const names = service ? [service.id, ...(service.name ? [service.name] : [])] : [];
  for (const procedure of procedures) {
    procedure.triggers.forEach((trigger, index) => {
      if (trigger.pagerduty.event !== eventType) return;
      const pattern = trigger.pagerduty.service;
      // Without a service (an event PagerDuty sent none for) only a catch-all pattern can match.
      const matches = names.length === 0 ? pattern === '*' : names.some((n) => globMatch(pattern, n));
      if (matches) out.push({ procedure, index, trigger, key: `${procedure.name}#${index}` });
    });
  }
  return out.sort((a, b) => (a.procedure.name < b.procedure.name ? -1 : a.procedure.name > b.procedure.name ? 1 : a.index - b.index));
}
