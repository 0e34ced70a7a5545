// Membership and visibility rules of private incidents, pure: who is a member, who sees, and how the rest are answered.
import { describe, expect, it } from 'vitest';
import { noSuchIncident, type Incident } from '../../../src/core/incidents/incident.js';
import { createIncidentVisibility, isMember, maySee, noSuchRun, type Viewer } from '../../../src/core/incidents/incident-visibility.js';
import { decide } from '../../../src/core/policy/policy-engine.js';
import { NotFoundError } from '../../../src/errors.js';
import { policyFromYaml } from '../policy/build-policy.js';

const DECLARER = 'U0DEC0001';
const COMMS = 'U0COM0001';
const GUEST = 'U0GST0001';
const OUTSIDER = 'U0OUT0001';
const SRE = 'U0SRE0001';
const AUDITOR = 'U0AUD0001';

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: 'INC-1',
    number: 1,
    title: 'Payroll export leaks',
    severity: 2,
    status: 'investigating',
    service: null,
    private: true,
    channelName: 'inc-1-payroll-export-leaks',
    channelId: 'C0INC0001',
    roles: { commander: DECLARER, comms: COMMS, scribe: null },
    declaredBy: DECLARER,
    declaredAt: 0,
    acknowledgedAt: null,
    resolvedAt: null,
    summary: null,
    pagerdutyId: null,
    pagerdutyUrl: null,
    lastUpdateAt: 0,
    ...overrides,
  };
}

const POLICY = policyFromYaml(`version: 1
roles:
  sre-oncall: { users: [${SRE}] }
  developer: { users: [${OUTSIDER}, ${COMMS}, ${GUEST}] }
  auditors: { users: [${AUDITOR}] }
rules:
  - roles: ["*"]
    allow: [incident.view]
  - roles: [sre-oncall]
    allow: ["*"]
  - roles: [auditors]
    allow: [incident.view_private]
    channels: [C0AUDIT01]
`);

/** The visibility service over a fixed set of incidents, counting how often invitations are read. */
function visibilityOver(incidents: Incident[], invited: Record<string, string[]> = {}) {
  const reads: string[] = [];
  const visibility = createIncidentVisibility({
    incidents: {
      find: async (id) => incidents.find((i) => i.id === id),
      byChannel: async (channelId) => incidents.find((i) => i.channelId === channelId),
      listOpen: async () => incidents.filter((i) => i.status !== 'resolved'),
      invited: async (id) => {
        reads.push(id);
        return invited[id] ?? [];
      },
    },
    access: {
      allows: (actor, request) =>
        decide(POLICY, {
          subject: { userId: actor.id, groups: actor.groups },
          action: request.action,
          ...(request.channel ? { channel: request.channel } : {}),
        }).effect === 'allow',
    },
  });
  return { visibility, reads };
}

const viewer = (id: string, channelId: string | null = 'C0GENERAL1'): Viewer => ({ actor: { id, groups: [] }, channelId });

/** The error a call throws, so its class and message can both be compared. */
async function thrown(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw, but the call returned');
}

describe('isMember', () => {
  it('counts the declarer, every current role holder and the invited, and nobody else', () => {
    const i = incident({ roles: { commander: 'U0NEWCMD1', comms: COMMS, scribe: 'U0SCR0001' } });
    expect(isMember(i, DECLARER, [])).toBe(true);
    expect(isMember(i, 'U0NEWCMD1', [])).toBe(true);
    expect(isMember(i, COMMS, [])).toBe(true);
    expect(isMember(i, 'U0SCR0001', [])).toBe(true);
    expect(isMember(i, GUEST, [GUEST])).toBe(true);
    expect(isMember(i, OUTSIDER, [GUEST])).toBe(false);
  });

  it('drops a previous role holder who neither declared nor was invited', () => {
    const handedOver = incident({ roles: { commander: DECLARER, comms: 'U0NEWCOM1', scribe: null } });
    expect(isMember(handedOver, COMMS, [])).toBe(false);
    expect(isMember(handedOver, COMMS, [COMMS])).toBe(true);
  });
});

describe('maySee', () => {
  const never = (): never => {
    throw new Error('read when the answer did not depend on it');
  };

  it('shows a public incident to anyone without asking the policy or reading invitations', async () => {
    expect(await maySee(incident({ private: false }), OUTSIDER, never, never)).toBe(true);
  });

  it('shows a private incident to its declarer and role holders without asking the policy or reading invitations', async () => {
    expect(await maySee(incident(), DECLARER, never, never)).toBe(true);
    expect(await maySee(incident(), COMMS, never, never)).toBe(true);
  });

  it('shows a private incident to the invited and to viewers allowed incident.view_private, and hides it from everyone else', async () => {
    expect(
      await maySee(
        incident(),
        GUEST,
        () => false,
        async () => [GUEST],
      ),
    ).toBe(true);
    expect(
      await maySee(
        incident(),
        SRE,
        () => true,
        async () => [],
      ),
    ).toBe(true);
    expect(
      await maySee(
        incident(),
        OUTSIDER,
        () => false,
        async () => [GUEST],
      ),
    ).toBe(false);
  });
});

describe('createIncidentVisibility', () => {
  const hidden = incident();
  const open = incident({
    id: 'INC-2',
    number: 2,
    private: false,
    channelId: 'C0INC0002',
    declaredBy: OUTSIDER,
    roles: { commander: OUTSIDER, comms: null, scribe: null },
  });

  it('answers a hidden incident with exactly the missing-incident error', async () => {
    const { visibility } = visibilityOver([hidden, open]);
    const hiddenErr = await thrown(() => visibility.get(viewer(OUTSIDER), 'INC-1'));
    const missingErr = await thrown(() => visibility.get(viewer(OUTSIDER), 'INC-9'));
    expect(hiddenErr).toBeInstanceOf(NotFoundError);
    expect(missingErr).toBeInstanceOf(NotFoundError);
    expect(hiddenErr.message).toBe('INC-1 does not exist; /incident list shows the open incidents');
    expect(missingErr.message).toBe(noSuchIncident('INC-9').message);
    expect(hiddenErr.message.replace('INC-1', 'INC-9')).toBe(missingErr.message);
    expect(await visibility.get(viewer(OUTSIDER), 'INC-2')).toBe(open);
  });

  it('lists and resolves channels only for incidents the viewer may see', async () => {
    const { visibility } = visibilityOver([hidden, open], { 'INC-1': [GUEST] });
    expect((await visibility.listOpen(viewer(OUTSIDER))).map((i) => i.id)).toEqual(['INC-2']);
    expect((await visibility.listOpen(viewer(GUEST))).map((i) => i.id)).toEqual(['INC-1', 'INC-2']);
    expect((await visibility.listOpen(viewer(SRE))).map((i) => i.id)).toEqual(['INC-1', 'INC-2']);
    // Being in the channel is not membership.
    expect(await visibility.byChannel(viewer(OUTSIDER, 'C0INC0001'), 'C0INC0001')).toBeUndefined();
    expect(await visibility.byChannel(viewer(GUEST, 'C0INC0001'), 'C0INC0001')).toBe(hidden);
  });

  it('lets incident.view_private work only where the policy grants it (a channel-narrowed rule)', async () => {
    const { visibility } = visibilityOver([hidden]);
    expect(await visibility.canSee(viewer(AUDITOR, 'C0AUDIT01'), hidden)).toBe(true);
    expect(await visibility.canSee(viewer(AUDITOR, 'C0GENERAL1'), hidden)).toBe(false);
  });

  it('reads invitations only for a private incident the viewer neither declared nor holds a role in', async () => {
    const { visibility, reads } = visibilityOver([hidden, open]);
    await visibility.get(viewer(OUTSIDER), 'INC-2');
    await visibility.get(viewer(DECLARER), 'INC-1');
    await visibility.get(viewer(COMMS), 'INC-1');
    expect(reads).toEqual([]);
    await thrown(() => visibility.get(viewer(OUTSIDER), 'INC-1'));
    expect(reads).toEqual(['INC-1']);
  });

  it('answers a run in a hidden incident as a missing run, and leaves runs outside incidents alone', async () => {
    const { visibility } = visibilityOver([hidden, open]);
    const err = await thrown(() => visibility.run(viewer(OUTSIDER), { id: 'R-4', incidentId: 'INC-1' }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe(noSuchRun('R-4').message);
    expect(err.message).toBe('R-4 does not exist; run ids look like R-12');
    const inPublic = { id: 'R-5', incidentId: 'INC-2' };
    const outside = { id: 'R-6', incidentId: null };
    expect(await visibility.run(viewer(OUTSIDER), inPublic)).toBe(inPublic);
    expect(await visibility.run(viewer(OUTSIDER), outside)).toBe(outside);
    expect(await visibility.run(viewer(DECLARER), { id: 'R-4', incidentId: 'INC-1' })).toEqual({ id: 'R-4', incidentId: 'INC-1' });
  });
});
