// The incident-store port: the current state of each incident, projected from its audit events.
import type { Incident } from './incident.js';

export interface IncidentStore {
  nextNumber(): number;
  insert(incident: Incident): void;
  save(incident: Incident): void;
  get(id: string): Incident | undefined;
  byChannelId(channelId: string): Incident | undefined;
  byPagerdutyId(pagerdutyId: string): Incident | undefined;
  listOpen(): Incident[];
}
