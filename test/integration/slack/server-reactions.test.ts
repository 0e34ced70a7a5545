// A :pushpin: reaction in an incident channel puts the message on the timeline, once.
import { afterEach, describe, expect, it } from 'vitest';
import { USERS, startHarness, type Harness } from '../../fixtures/slack/slack-harness.js';

const GENERAL = 'C0GENERAL1';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function pinnedNotes(harness: Harness): Promise<Array<Record<string, unknown>>> {
  return (await harness.app.store.audit.recentForIncident('INC-1', 500))
    .filter((e) => e.kind === 'incident.note' && e.payload.pinned === true)
    .map((e) => ({ actor: e.actor, ...e.payload }));
}

async function incidentChannel(harness: Harness): Promise<string> {
  await harness.command(USERS.sre, GENERAL, '/incident', 'declare "Checkout 5xx" sev=2');
  await harness.server.drain();
  const channel = (await harness.app.incidents.get('INC-1')).channelId;
  expect(channel).toMatch(/^C0INC/);
  return channel!;
}

const pin = (channel: string, ts: string, user: string = USERS.dev) => ({
  type: 'reaction_added',
  user,
  reaction: 'pushpin',
  item: { type: 'message', channel, ts },
  item_user: USERS.sre,
});

describe('pushpin reactions', () => {
  it('copies the pinned message onto the timeline with its author and permalink, once', async () => {
    h = await startHarness();
    const channel = await incidentChannel(h);
    h.slack.history[channel]!.push({ ts: '1800000000.000100', text: 'Root cause: a bad config push at 09:58', user: USERS.sre });

    const res = await h.event(pin(channel, '1800000000.000100'));
    expect(res.status).toBe(200);
    await h.slack.waitFor('chat.postMessage', (a) => (a.text ?? '').includes('Root cause'));

    expect(h.slack.callsTo('conversations.history').at(-1)?.args).toMatchObject({ channel, latest: '1800000000.000100', inclusive: 'true', limit: '1' });
    expect(await pinnedNotes(h)).toEqual([
      {
        actor: USERS.dev,
        text: 'Root cause: a bad config push at 09:58',
        pinned: true,
        author: USERS.sre,
        permalink: `https://test.slack.com/archives/${channel}/p1800000000000100`,
        message_ts: '1800000000.000100',
        authorized: expect.anything(),
      },
    ]);

    // Slack's retry of the same event, and a second person pinning the same message: nothing new.
    await h.event(pin(channel, '1800000000.000100'));
    await h.event(pin(channel, '1800000000.000100', USERS.sre));
    await h.stop();
    expect(await pinnedNotes(h)).toHaveLength(1);
  });

  it('finds a pinned thread reply through conversations.replies', async () => {
    h = await startHarness();
    const channel = await incidentChannel(h);
    const parent = h.slack.history[channel]![0]!.ts;
    h.slack.history[channel]!.push({ ts: '1800000001.000200', text: 'Rollback finished on all pods', user: USERS.dev, thread_ts: parent });

    await h.event(pin(channel, '1800000001.000200', USERS.sre));
    await h.slack.waitFor('chat.postMessage', (a) => (a.text ?? '').includes('Rollback finished'));
    expect(h.slack.callsTo('conversations.replies')).toHaveLength(1);
    expect(await pinnedNotes(h)).toMatchObject([{ text: 'Rollback finished on all pods', author: USERS.dev, message_ts: '1800000001.000200' }]);
  });

  it('ignores other reactions and channels that are not incidents', async () => {
    h = await startHarness();
    const channel = await incidentChannel(h);
    const before = h.state();
    await h.event({ ...pin(channel, '1800000000.000100'), reaction: 'eyes' });
    await h.event(pin(GENERAL, '1800000000.000100'));
    await h.stop();
    expect(h.state()).toEqual(before);
    expect(h.slack.callsTo('conversations.history')).toEqual([]);
  });

  it('tells a user without a role why the pin was not recorded', async () => {
    h = await startHarness();
    const channel = await incidentChannel(h);
    h.slack.history[channel]!.push({ ts: '1800000002.000300', text: 'not mine to pin', user: USERS.sre });
    await h.event(pin(channel, '1800000002.000300', USERS.stranger));
    const told = await h.slack.waitFor('chat.postEphemeral', (a) => a.user === USERS.stranger);
    expect(told.args.text).toMatch(/^⛔ Not allowed: /);
    expect(await pinnedNotes(h)).toEqual([]);
  });
});
