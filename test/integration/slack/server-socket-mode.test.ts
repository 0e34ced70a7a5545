// Socket Mode (SLACK_APP_TOKEN): the same listeners over a WebSocket, while the HTTP server keeps /healthz.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeSocketMode } from '../../fixtures/slack/fake-socket-mode.js';
import { FORM, TEAM, USERS, commandBody, startHarness, type Harness } from '../../fixtures/slack/slack-harness.js';

let h: Harness | undefined;
let ws: FakeSocketMode | undefined;

afterEach(async () => {
  await h?.close();
  await ws?.close();
  h = undefined;
  ws = undefined;
});

describe('Socket Mode', () => {
  it('answers slash commands over the socket and serves /healthz but not /slack/events over HTTP', async () => {
    ws = new FakeSocketMode();
    const url = await ws.listen();
    h = await startHarness({ socket: { appToken: 'xapp-1-test', url } });
    await ws.whenConnected();
    expect(h.server.mode).toBe('socket');
    expect(h.slack.callsTo('apps.connections.open')).toHaveLength(1);

    const payload = Object.fromEntries(new URLSearchParams(commandBody(USERS.sre, 'C0GENERAL1', '/incident', 'declare "Over the socket" sev=2')));
    const ack = await ws.send('slash_commands', payload, 'env-1');
    expect(ack).toEqual({ response_type: 'ephemeral', text: expect.stringContaining('INC-1 declared (SEV2): Over the socket') });
    expect((await h.app.incidents.get('INC-1')).declaredBy).toBe(USERS.sre);

    const health = await fetch(`${h.server.url}/healthz`);
    expect(health.status).toBe(200);
    const events = await fetch(`${h.server.url}/slack/events`, { method: 'POST', headers: { 'content-type': FORM }, body: 'x=1' });
    expect(events.status).toBe(404);
  });

  it('refuses another workspace when SLACK_TEAM_ID is set', async () => {
    ws = new FakeSocketMode();
    const url = await ws.listen();
    h = await startHarness({ socket: { appToken: 'xapp-1-test', url }, teamId: TEAM });
    await ws.whenConnected();
    const before = h.state();
    const payload = Object.fromEntries(new URLSearchParams(commandBody(USERS.sre, 'C0GENERAL1', '/incident', 'declare "Foreign" sev=2', 'T0OTHER99')));
    const ack = await ws.send('slash_commands', payload, 'env-2');
    expect(ack).toEqual({});
    expect(h.state()).toEqual(before);
  });
});
