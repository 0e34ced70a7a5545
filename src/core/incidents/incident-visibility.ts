// Who sees which incident: a private one only its members and roles allowed incident.view_private; to anyone else it is missing.
import { NotFoundError } from '../../errors.js';
import type { AccessControl } from '../access.js';
import type { Actor } from '../ports.js';
import { noSuchIncident, type Incident } from './incident.js';

/** Who is looking, and from which channel (a policy rule may narrow `incident.view_private` by channel). */
export interface Viewer {
  actor: Actor;
  channelId: string | null;
}

/**
 * Members of an incident: whoever declared it, whoever holds one of its roles now, and whoever was
 * invited to it. Being in its Slack channel is not membership: a channel's members are Slack's to
 * change, this list is edgeops'.
 */
export function isMember(incident: Pick<Incident, 'declaredBy' | 'roles'>, userId: string, invited: readonly string[]): boolean {
  return declaredOrHoldsRole(incident, userId) || invited.includes(userId);
}

const declaredOrHoldsRole = (incident: Pick<Incident, 'declaredBy' | 'roles'>, userId: string): boolean =>
  incident.declaredBy === userId || Object.values(incident.roles).includes(userId);

/**
 * Whether `userId` may see the incident. `viewPrivate` says whether the policy lets them see private
 * incidents they are not a member of; `invited` is read only when the answer depends on it.
 */
export async function maySee(
  incident: Pick<Incident, 'private' | 'declaredBy' | 'roles'>,
  userId: string,
  viewPrivate: () => boolean,
  invited: () => Promise<readonly string[]>,
): Promise<boolean> {
  if (!incident.private) return true;
  if (declaredOrHoldsRole(incident, userId)) return true;
  return viewPrivate() || (await invited()).includes(userId);
}

/**
 * The answer for a run that is not there, word for word the run service's: a run in an incident the
 * caller may not see is answered with it, so the run does not give the incident away.
 */
export const noSuchRun = (id: string): NotFoundError => new NotFoundError(`${id} does not exist; run ids look like R-12`);

export interface IncidentLookup {
  find(id: string): Promise<Incident | undefined>;
  byChannel(channelId: string): Promise<Incident | undefined>;
  listOpen(): Promise<Incident[]>;
  invited(id: string): Promise<string[]>;
}

export type IncidentVisibility = ReturnType<typeof createIncidentVisibility>;

export function createIncidentVisibility(deps: { incidents: IncidentLookup; access: Pick<AccessControl, 'allows'> }) {
  const { incidents, access } = deps;

  const canSee = (viewer: Viewer, incident: Incident): Promise<boolean> =>
    maySee(
      incident,
      viewer.actor.id,
      () => access.allows(viewer.actor, { action: 'incident.view_private', channel: viewer.channelId }),
      () => incidents.invited(incident.id),
    );

  return {
    canSee,

    /** The incident, or the missing-incident answer when it is not there or not the viewer's to see. */
    async get(viewer: Viewer, id: string): Promise<Incident> {
      const incident = await incidents.find(id);
      if (!incident || !(await canSee(viewer, incident))) throw noSuchIncident(id);
      return incident;
    },

    /** The incident of a channel, as far as the viewer may know of it. */
    async byChannel(viewer: Viewer, channelId: string): Promise<Incident | undefined> {
      const incident = await incidents.byChannel(channelId);
      return incident && (await canSee(viewer, incident)) ? incident : undefined;
    },

    async listOpen(viewer: Viewer): Promise<Incident[]> {
      const visible: Incident[] = [];
      for (const incident of await incidents.listOpen()) if (await canSee(viewer, incident)) visible.push(incident);
      return visible;
    },

    /** The run itself; one in an incident the viewer may not see is answered as missing. */
    async run<R extends { id: string; incidentId: string | null }>(viewer: Viewer, run: R): Promise<R> {
      if (run.incidentId === null) return run;
      const incident = await incidents.find(run.incidentId);
      if (!incident || !(await canSee(viewer, incident))) throw noSuchRun(run.id);
      return run;
    },
  };
}
