// User-group membership: cached five minutes, refreshed in the background, failing closed after fifteen.
import { describe, expect, it } from 'vitest';
import { createGroupDirectory, policyGroupIds, type GroupDirectoryOptions } from '../../../src/adapters/slack/group-directory.js';
import { createLogger } from '../../../src/log.js';

const MIN = 60_000;

interface Harness {
  directory: ReturnType<typeof createGroupDirectory>;
  calls: string[];
  members: Record<string, string[]>;
  advance(ms: number): void;
  slackDown(down: boolean): void;
  /** Lets background refreshes settle. */
  settle(): Promise<void>;
}

function harness(groups: string[] = ['S01SRE'], extra: Partial<GroupDirectoryOptions> = {}): Harness {
  let now = Date.parse('2026-03-04T10:00:00Z');
  let down = false;
  const calls: string[] = [];
  const members: Record<string, string[]> = { S01SRE: ['U0ALICE01'], S02DEV: ['U0ALICE01', 'U0BOB0001'] };
  const pending: Array<Promise<unknown>> = [];
  const directory = createGroupDirectory({
    listMembers: (group) => {
      calls.push(group);
      const answer = down ? Promise.reject(new Error('slack is down')) : Promise.resolve([...(members[group] ?? [])]);
      pending.push(answer.catch(() => undefined));
      return answer;
    },
    policyGroups: () => groups,
    clock: { now: () => now },
    logger: createLogger({ level: 'silent' }),
    ...extra,
  });
  return {
    directory,
    calls,
    members,
    advance: (ms) => {
      now += ms;
    },
    slackDown: (d) => {
      down = d;
    },
    settle: async () => {
      await Promise.all(pending.splice(0));
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('group directory', () => {
  it('reads the groups the policy names, once each', () => {
    const ids = policyGroupIds({
      roles: { sre: { users: ['U01'], groups: ['S01SRE'] }, dev: { groups: ['S02DEV', 'S01SRE'] }, pd: { pagerduty_services: ['*'] } },
    });
    expect(ids).toEqual(['S01SRE', 'S02DEV']);
  });

  it('needs Slack for a user it has never seen, then answers from the cache', async () => {
    const h = harness(['S01SRE', 'S02DEV']);
    expect(h.directory.cached('U0ALICE01')).toBeUndefined();
    expect(await h.directory.groupsOf('U0ALICE01')).toEqual(['S01SRE', 'S02DEV']);
    expect(h.directory.cached('U0BOB0001')).toEqual(['S02DEV']);
    expect(h.calls).toEqual(['S01SRE', 'S02DEV']);
  });

  it('asks Slack once for two lookups within five minutes, and again after', async () => {
    const h = harness();
    await h.directory.groupsOf('U0ALICE01');
    h.advance(4 * MIN);
    expect(h.directory.cached('U0ALICE01')).toEqual(['S01SRE']);
    expect(h.calls).toHaveLength(1);

    h.advance(2 * MIN);
    h.members.S01SRE = [];
    // Stale but usable: answered at once from what was known, refreshed behind the answer.
    expect(h.directory.cached('U0ALICE01')).toEqual(['S01SRE']);
    expect(h.calls).toHaveLength(2);
    await h.settle();
    expect(h.directory.cached('U0ALICE01')).toEqual([]);
    expect(h.calls).toHaveLength(2);
  });

  it('keeps using membership while Slack fails, up to fifteen minutes, then denies it', async () => {
    const h = harness();
    await h.directory.groupsOf('U0ALICE01');
    h.slackDown(true);
    h.advance(6 * MIN);
    expect(h.directory.cached('U0ALICE01')).toEqual(['S01SRE']);
    await h.settle();
    h.advance(8 * MIN);
    expect(h.directory.cached('U0ALICE01')).toEqual(['S01SRE']);
    await h.settle();

    h.advance(1 * MIN + 1);
    expect(h.directory.cached('U0ALICE01')).toBeUndefined();
    expect(await h.directory.groupsOf('U0ALICE01')).toEqual([]);
    // Right after a failure Slack is not asked again for every command: the answer is "no groups" at once.
    expect(h.directory.cached('U0ALICE01')).toEqual([]);
  });

  it('does not trust a user it never saw while Slack is down', async () => {
    const h = harness();
    h.slackDown(true);
    expect(await h.directory.groupsOf('U0ALICE01')).toEqual([]);
    h.slackDown(false);
    h.advance(31_000);
    expect(h.directory.cached('U0ALICE01')).toBeUndefined();
    expect(await h.directory.groupsOf('U0ALICE01')).toEqual(['S01SRE']);
  });

  it('asks once for concurrent lookups of the same group', async () => {
    const h = harness();
    const [a, b] = await Promise.all([h.directory.groupsOf('U0ALICE01'), h.directory.groupsOf('U0BOB0001')]);
    expect(a).toEqual(['S01SRE']);
    expect(b).toEqual([]);
    expect(h.calls).toEqual(['S01SRE']);
  });

  it('follows the policy: a group added by a reload is read before it counts', async () => {
    const groups = ['S01SRE'];
    const h = harness(groups);
    await h.directory.warm();
    expect(h.directory.cached('U0BOB0001')).toEqual([]);
    groups.push('S02DEV');
    expect(h.directory.cached('U0BOB0001')).toBeUndefined();
    expect(await h.directory.groupsOf('U0BOB0001')).toEqual(['S02DEV']);
  });

  it('answers at once with no groups when the policy names none', () => {
    const h = harness([]);
    expect(h.directory.cached('U0ALICE01')).toEqual([]);
    expect(h.calls).toEqual([]);
  });
});
