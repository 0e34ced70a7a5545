// Incident number n as the storage parity tests seed them: the same row on SQLite and on PostgreSQL.
import type { Incident } from '../../src/core/incidents/incident.js';

/** INC-n: open, SEV2, service `checkout`, no roles, declared by U0DECL at `declaredAt` and not updated since; then `over`. */
export function numberedIncident(n: number, declaredAt: number, over: Partial<Incident> = {}): Incident {
  return {
    id: `INC-${n}`,
    number: n,
    title: `Incident ${n}`,
    severity: 2,
    status: 'investigating',
    service: 'checkout',
    private: false,
    channelName: `inc-${n}`,
    channelId: `C${n}`,
    roles: { commander: null, comms: null, scribe: null },
    declaredBy: 'U0DECL',
    declaredAt,
    acknowledgedAt: null,
    resolvedAt: null,
    summary: null,
    pagerdutyId: null,
    pagerdutyUrl: null,
    lastUpdateAt: declaredAt,
    ...over,
  };
}
