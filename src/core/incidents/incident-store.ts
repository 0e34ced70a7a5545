// The incident-store port: the current state of each incident, projected from its audit events.
import type { Incident } from './incident.js';

export interface IncidentStore {
  nextNumber(): Promise<number>;
  insert(incident: Incident): Promise<void>;
  save(incident: Incident): Promise<void>;
  get(id: string): Promise<Incident | undefined>;
  byChannelId(channelId: string): Promise<Incident | undefined>;
  byPagerdutyId(pagerdutyId: string): Promise<Incident | undefined>;
  listOpen(): Promise<Incident[]>;
}
