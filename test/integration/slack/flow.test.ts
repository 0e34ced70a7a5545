// A whole incident through Slack, on SQLite and on PostgreSQL: signed commands and a button click in, Web API calls out (nock at the boundary).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/app.js';
import { USERS, startHarness, type Harness as HarnessOn } from '../../fixtures/slack/slack-harness.js';
import { BACKEND_KINDS } from '../../helpers/backends.js';

const GENERAL = 'C0GENERAL1';
const json = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;

type Harness = HarnessOn<Backend>;

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Sends, then the ephemeral answer, whether it came in the ack or later through response_url. */
async function answer(harness: Harness, send: () => Promise<{ status: number; body: string }>): Promise<string> {
  const next = harness.slack.responds.length + 1;
  const res = await send();
  expect(res.status).toBe(200);
  if (res.body) return String(json(res.body).text);
  return String((await harness.slack.waitForRespond(next)).body.text);
}

describe.each(BACKEND_KINDS)('an incident through Slack, on %s', (backend) => {
  it('declare → update → run needing approval → Approve button → run → resolve → export', async () => {
    h = await startHarness({ backend });
    const slack = h.slack;

    // Declared from #general: a channel is made, the declarer invited, the summary posted and pinned.
    const declared = await h.command(USERS.dev, GENERAL, '/incident', 'declare "Checkout 5xx after deploy" sev=2 service=checkout');
    expect(json(declared.body)).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('INC-1 declared (SEV2)') });
    await h.server.drain();
    const created = slack.callsTo('conversations.create');
    expect(created).toHaveLength(1);
    expect(created[0]!.args).toMatchObject({ name: 'inc-1-checkout-5xx-after-deploy', is_private: 'false' });
    const channel = (await h.app.incidents.get('INC-1')).channelId!;
    expect(channel).toBe('C0INC0001');
    expect(slack.callsTo('conversations.invite')[0]!.args).toMatchObject({ channel, users: USERS.dev });
    const summary = slack.callsTo('chat.postMessage').find((c) => c.args.channel === channel);
    expect(summary?.args.text).toContain('INC-1 declared by');
    const pinned = slack.callsTo('pins.add');
    expect(pinned).toHaveLength(1);
    expect(pinned[0]!.args.channel).toBe(channel);

    // In the incident channel the incident is implied.
    expect(await answer(h, () => h!.command(USERS.dev, channel, '/incident', 'update "Rolling back the deploy" status=identified'))).toContain('INC-1');
    await h.server.drain();
    expect(slack.callsTo('chat.postMessage').some((c) => (c.args.text ?? '').includes('Rolling back the deploy'))).toBe(true);

    // A developer's restart in prod waits for an SRE; the request is posted with Approve / Deny buttons.
    expect(await answer(h, () => h!.command(USERS.dev, channel, '/runbook', 'run restart-service service=checkout instance=web-01 env=prod'))).toMatch(/^R-1 waits for approval: restart-service in prod/);
    await h.server.drain();
    const request = slack.callsTo('chat.postMessage').find((c) => (c.args.text ?? '').includes('asks to run restart-service'));
    expect(request).toBeDefined();
    const buttons = (JSON.parse(request!.args.blocks!) as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>)
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? []);
    expect(buttons.map((b) => [b.action_id, b.value])).toEqual([
      ['run_approve', 'R-1'],
      ['run_deny', 'R-1'],
    ]);

    // The requester's own click is refused; nothing runs.
    const ownReply = slack.responds.length + 1;
    const own = await h.click(USERS.dev, channel, 'run_approve', 'R-1');
    expect(own.status).toBe(200);
    expect(own.body).toBe('');
    expect((await slack.waitForRespond(ownReply)).body).toMatchObject({
      response_type: 'ephemeral',
      replace_original: false,
      text: expect.stringMatching(/^⛔ Not allowed: you requested R-1/),
    });
    expect((await h.app.runs.get('R-1')).state).toBe('pending_approval');

    // An SRE through the S0SREONCALL group approves: the policy is checked with the clicker's groups.
    // Slack is slow to take the approval notice, so the run is over before its start message can go out
    // (on any store, however long the run's own writes take).
    const releasePosts = slack.hold('chat.postMessage');
    expect(await answer(h, () => h!.click(USERS.sreByGroup, channel, 'run_approve', 'R-1'))).toBe('Approved R-1; it is starting.');
    await h.app.runs.idle();
    expect(await h.app.runs.get('R-1')).toMatchObject({ state: 'succeeded', requestedBy: USERS.dev });
    expect(readFileSync(path.join(h.dir, 'commands', 'out', 'restarted'), 'utf8')).toBe('checkout web-01\n');
    releasePosts();
    await h.server.drain();
    const posted = slack.callsTo('chat.postMessage').map((c) => c.args.text ?? '');
    expect(posted.some((t) => t.includes('approved R-1'))).toBe(true);
    // The run was over before its start message went out: the result is its one message.
    expect(posted.some((t) => t.includes('R-1 restart-service (prod) started'))).toBe(false);
    const result = slack.callsTo('chat.postMessage').find((c) => (c.args.text ?? '').includes('R-1 restart-service (prod) succeeded'));
    expect(result?.args.blocks).toContain('restarting checkout web-01');

    expect(await answer(h, () => h!.command(USERS.dev, channel, '/incident', 'resolve "Rolled back; 5xx back to baseline"'))).toMatch(/^INC-1 resolved after/);

    // The transcript is uploaded to the channel, not written on the bot's disk.
    expect(await answer(h, () => h!.command(USERS.dev, channel, '/incident', 'export format=md'))).toContain('uploaded to #inc-1-checkout-5xx-after-deploy');
    await h.server.drain();
    expect(slack.callsTo('files.getUploadURLExternal')[0]?.args).toMatchObject({ filename: 'INC-1.md' });
    expect(slack.uploads).toHaveLength(1);
    expect(slack.callsTo('files.completeUploadExternal')[0]?.args).toMatchObject({ channel_id: channel });

    // Every action is on the audit log as the Slack user who did it.
    const kinds = (await h.app.store.audit.recentForIncident('INC-1', 500)).map((e) => `${e.kind}:${e.actor}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        `incident.declared:${USERS.dev}`,
        `incident.updated:${USERS.dev}`,
        `run.approved:${USERS.sreByGroup}`,
        `incident.resolved:${USERS.dev}`,
        `incident.export_requested:${USERS.dev}`,
      ]),
    );
    expect(await h.app.store.audit.verify()).toMatchObject({ ok: true });
    expect(await h.app.store.outbox.depth('slack')).toBe(0);
  });

  it('denies a run from the Deny button and tells the clicker', async () => {
    h = await startHarness({ backend });
    await h.command(USERS.dev, GENERAL, '/incident', 'declare "Payments slow" sev=3');
    await h.server.drain();
    const channel = (await h.app.incidents.get('INC-1')).channelId!;
    await h.command(USERS.dev, channel, '/runbook', 'run restart-service service=payments instance=api-2 env=prod');

    expect(await answer(h, () => h!.click(USERS.stranger, channel, 'run_deny', 'R-1'))).toMatch(/^⛔ Not allowed: you may not deny R-1/);
    expect((await h.app.runs.get('R-1')).state).toBe('pending_approval');

    expect(await answer(h, () => h!.click(USERS.sre, channel, 'run_deny', 'R-1'))).toBe('Denied R-1.');
    expect((await h.app.runs.get('R-1')).state).toBe('denied');
    expect(await answer(h, () => h!.click(USERS.sre, channel, 'run_approve', 'R-1'))).toMatch(/^⚠ R-1 is denied/);
  });
});
