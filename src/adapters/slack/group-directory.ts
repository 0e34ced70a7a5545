// Which Slack user groups a user is in, for the groups the policy names: cached, refreshed, failing closed.
import type { WebClient } from '@slack/web-api';
import type { Policy } from '../../core/policy/policy.js';
import type { Clock } from '../../core/ports.js';
import type { Logger } from '../../log.js';

/** Membership younger than this is used as is. */
export const GROUPS_FRESH_MS = 5 * 60_000;
/** Older membership is still used (and refreshed in the background) up to this age; past it, it is not trusted. */
export const GROUPS_USABLE_MS = 15 * 60_000;
/** After Slack failed to answer for a group, it is not asked again for that group before this long. */
export const GROUPS_RETRY_MS = 30_000;

export interface GroupDirectoryOptions {
  /** The members of one user group (`usergroups.users.list`). */
  listMembers: (groupId: string) => Promise<string[]>;
  /** The user-group IDs the policy names, read on every lookup since the policy reloads. */
  policyGroups: () => readonly string[];
  clock: Clock;
  logger: Logger;
  freshMs?: number;
  usableMs?: number;
  retryMs?: number;
}

export interface GroupDirectory {
  /**
   * The user's groups when they can be told without waiting for Slack (stale-but-usable data is
   * refreshed in the background); undefined when Slack must be asked first.
   */
  cached(userId: string): string[] | undefined;
  /** The user's groups, asking Slack for what is missing. Groups Slack cannot confirm are left out. */
  groupsOf(userId: string): Promise<string[]>;
  /** Asks Slack for every policy group now (at start-up, so the first commands answer at once). */
  warm(): Promise<void>;
}

interface Entry {
  members: ReadonlySet<string>;
  fetchedAt: number;
}

type GroupState = { kind: 'known'; members: ReadonlySet<string> } | { kind: 'unknown' } | { kind: 'ask' };

/** Every user-group ID named by a role of the policy, in a stable order. */
export function policyGroupIds(policy: Pick<Policy, 'roles'>): string[] {
  return [...new Set(Object.values(policy.roles).flatMap((role) => role.groups ?? []))].sort();
}

/** `listMembers` over the Web API. */
export function slackGroupMembers(client: WebClient): (groupId: string) => Promise<string[]> {
  return async (groupId) => {
    const result = await client.usergroups.users.list({ usergroup: groupId });
    return result.users ?? [];
  };
}

export function createGroupDirectory(options: GroupDirectoryOptions): GroupDirectory {
  const { clock, logger } = options;
  const freshMs = options.freshMs ?? GROUPS_FRESH_MS;
  const usableMs = options.usableMs ?? GROUPS_USABLE_MS;
  const retryMs = options.retryMs ?? GROUPS_RETRY_MS;
  const entries = new Map<string, Entry>();
  const failedAt = new Map<string, number>();
  const inflight = new Map<string, Promise<void>>();

  function fetchGroup(groupId: string): Promise<void> {
    const running = inflight.get(groupId);
    if (running) return running;
    const started = clock.now();
    const job = options
      .listMembers(groupId)
      .then(
        (members) => {
          entries.set(groupId, { members: new Set(members), fetchedAt: started });
          failedAt.delete(groupId);
        },
        (err: unknown) => {
          failedAt.set(groupId, clock.now());
          logger.warn({ err, group: groupId }, 'could not read user-group members from Slack');
        },
      )
      .finally(() => inflight.delete(groupId));
    inflight.set(groupId, job);
    return job;
  }

  function recentlyFailed(groupId: string, now: number): boolean {
    const at = failedAt.get(groupId);
    return at !== undefined && now - at < retryMs;
  }

  function stateOf(groupId: string, now: number, refresh: boolean): GroupState {
    const entry = entries.get(groupId);
    const age = entry ? now - entry.fetchedAt : Infinity;
    if (entry && age <= usableMs) {
      if (refresh && age > freshMs && !inflight.has(groupId) && !recentlyFailed(groupId, now)) void fetchGroup(groupId);
      return { kind: 'known', members: entry.members };
    }
    // Too old or never read: a role granted through this group is not granted until Slack confirms it.
    if (inflight.has(groupId) || !recentlyFailed(groupId, now)) return { kind: 'ask' };
    return { kind: 'unknown' };
  }

  function memberOf(userId: string, states: Array<[string, GroupState]>): string[] {
    return states.filter(([, s]) => s.kind === 'known' && s.members.has(userId)).map(([g]) => g);
  }

  return {
    cached(userId) {
      const now = clock.now();
      const states = options.policyGroups().map((g): [string, GroupState] => [g, stateOf(g, now, true)]);
      if (states.some(([, s]) => s.kind === 'ask')) return undefined;
      return memberOf(userId, states);
    },

    async groupsOf(userId) {
      const groups = options.policyGroups();
      const now = clock.now();
      await Promise.all(groups.filter((g) => stateOf(g, now, true).kind === 'ask').map((g) => fetchGroup(g)));
      const after = clock.now();
      return memberOf(userId, groups.map((g): [string, GroupState] => [g, stateOf(g, after, false)]));
    },

    async warm() {
      await Promise.all(options.policyGroups().map((g) => fetchGroup(g)));
    },
  };
}
