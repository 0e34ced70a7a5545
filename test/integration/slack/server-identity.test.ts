// Who the caller is: Slack's user ID, with user groups read from Slack, cached five minutes, failing closed.
import { afterEach, describe, expect, it } from 'vitest';
import { USERS, startHarness, type Harness } from '../../fixtures/slack/slack-harness.js';

const MIN = 60_000;
const GENERAL = 'C0GENERAL1';
const json = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('user groups behind the policy', () => {
  it('asks Slack once for two commands within five minutes, and again after', async () => {
    let now = Date.parse('2026-03-04T10:00:00Z');
    h = await startHarness({ clock: { now: () => now } });
    const lists = (group: string): number => h!.slack.callsTo('usergroups.users.list').filter((c) => c.args.usergroup === group).length;
    expect(lists('S0DEVS')).toBe(1);

    // U0GRP0001 holds a role only through S0DEVS: being allowed at all proves the group was read.
    const first = json((await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "First" sev=3')).body);
    expect(first.text).toContain('INC-1 declared');
    now += 4 * MIN;
    const second = json((await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "Second" sev=3')).body);
    expect(second.text).toContain('INC-2 declared');
    expect(lists('S0DEVS')).toBe(1);

    now += 2 * MIN;
    const third = json((await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "Third" sev=3')).body);
    expect(third.text).toContain('INC-3 declared');
    await h.slack.waitForCount('usergroups.users.list', 4);
    expect(lists('S0DEVS')).toBe(2);
  });

  it('keeps trusting membership through Slack errors for fifteen minutes, then refuses a group-only role', async () => {
    let now = Date.parse('2026-03-04T10:00:00Z');
    h = await startHarness({ clock: { now: () => now } });
    h.slack.groupsDown = true;

    now += 6 * MIN;
    const stale = await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "Still trusted" sev=3');
    expect(json(stale.body).text).toContain('INC-1 declared');
    // Stale: answered from what was known, while a refresh is tried (and fails) behind the answer.
    await h.slack.waitForCount('usergroups.users.list', 4);

    now += 8 * MIN;
    const later = await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "Trusted at 14 minutes" sev=3');
    expect(json(later.body).text).toContain('INC-2 declared');

    now += 2 * MIN;
    const before = (await h.app.incidents.listOpen()).length;
    const refused = await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "After fifteen minutes" sev=3');
    expect(refused.status).toBe(200);
    // Past fifteen minutes the membership is not trusted: Slack is asked first, so the ack is empty and the
    // answer follows through response_url. Unless the refresh tried at minute 14 failed only after the clock
    // moved on: then Slack failed just now, is not asked again, and the refusal comes in the ack itself.
    const reply = refused.body === '' ? (await h.slack.waitForRespond(1)).body : json(refused.body);
    expect(reply).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/^⛔ Not allowed: /) });
    expect(await h.app.incidents.listOpen()).toHaveLength(before);
    const denial = await h.app.store.audit.bySeq((await h.app.store.audit.head()).seq);
    expect(denial).toMatchObject({ kind: 'policy.denied', actor: USERS.groupOnly, payload: expect.objectContaining({ groups: [] }) });

    // A role given by user ID does not depend on Slack answering.
    const byUser = await h.command(USERS.sre, GENERAL, '/incident', 'declare "By user ID" sev=3');
    expect(json(byUser.body).text).toContain('declared');
  });

  it('acknowledges at once when the groups are unknown and answers through response_url', async () => {
    let now = Date.parse('2026-03-04T10:00:00Z');
    h = await startHarness({ clock: { now: () => now } });
    now += 20 * MIN;
    const res = await h.command(USERS.groupOnly, GENERAL, '/incident', 'declare "Late answer" sev=3');
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.ms).toBeLessThan(1_000);
    const reply = await h.slack.waitForRespond(1);
    expect(reply.path).toMatch(/^\/respond\/commands\//);
    expect(reply.body).toEqual({ response_type: 'ephemeral', replace_original: false, text: expect.stringContaining('INC-1 declared') });
  });
});
