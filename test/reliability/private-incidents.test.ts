// Private incidents through `edgeops serve` and signed Slack requests: non-members get the missing-incident answer, members see it.
import { collect } from '../helpers/collect.js';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../helpers/run-cli.js';
import { FORM, clickBody, commandBody, eventBody, post, signedHeaders } from '../fixtures/slack/slack-harness.js';
import { startServe, type Served } from './slack-serve.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'private');
const GENERAL = 'C0GENERAL1';
const PEOPLE = {
  /** developer; declares the private incident. */
  declarer: 'U0DEV0001',
  /** developer, not a member. */
  developer: 'U0DEV0002',
  /** support (an approver of echo-gated), not a member. */
  support: 'U0SUP0001',
  /** sre-oncall: incident.view_private through "*". */
  sre: 'U0SRE0001',
  /** no role at all. */
  stranger: 'U0NOBODY1',
  /** observer: runbook.status, but incident.view denied. */
  observer: 'U0OBS0001',
} as const;
const TITLE = 'Payroll export leaks';
const NOTE = 'salary table exposed';
const OUTPUT = 'payroll run output';

let s: Served | undefined;

afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Sends a signed slash command; its ephemeral answer, whether in the ack or later through response_url. */
async function ask(served: Served, user: string, channel: string, command: string, text: string): Promise<string> {
  const next = served.slack.responds.length + 1;
  const body = commandBody(user, channel, command, text);
  const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
  expect(res.status, `${command} ${text}`).toBe(200);
  if (res.body) return String((JSON.parse(res.body) as { text: unknown }).text);
  return String((await served.slack.waitForRespond(next)).body.text);
}

/** Clicks an approval button; the answer comes through response_url. */
async function click(served: Served, user: string, channel: string, actionId: string, runId: string): Promise<string> {
  const next = served.slack.responds.length + 1;
  const body = clickBody(user, channel, actionId, runId);
  const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
  expect(res.status).toBe(200);
  return String((await served.slack.waitForRespond(next)).body.text);
}

/** Rows on the audit log and in the outbox: what a probe of a hidden incident must leave as it was. */
const state = async (served: Served) => ({
  auditSeq: (await served.app.store.audit.head()).seq,
  outbox: (served.app.store.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n,
});

/**
 * A private INC-1 declared by the declarer with a note, a finished run R-1 and a run R-2 waiting for
 * approval; a public INC-2 with a finished run R-3.
 */
async function servedWithPrivateIncident(): Promise<{ served: Served; channel: string }> {
  const served = await startServe({ catalog: CATALOG });
  s = served;
  expect(await ask(served, PEOPLE.declarer, GENERAL, '/incident', `declare "${TITLE}" sev=2 --private`)).toMatch(/^INC-1 declared/);
  expect(await ask(served, PEOPLE.declarer, GENERAL, '/incident', `note "${NOTE}" incident=INC-1`)).toBe('Noted on INC-1.');
  expect(await ask(served, PEOPLE.declarer, GENERAL, '/runbook', `run echo-note message="${OUTPUT}" incident=INC-1`)).toMatch(/^R-1 started/);
  await served.app.runs.idle();
  expect(await ask(served, PEOPLE.declarer, GENERAL, '/runbook', 'run echo-gated message="gated" incident=INC-1')).toMatch(/^R-2 waits for approval/);
  expect(await ask(served, PEOPLE.developer, GENERAL, '/incident', 'declare "Search is slow" sev=3')).toMatch(/^INC-2 declared/);
  expect(await ask(served, PEOPLE.developer, GENERAL, '/runbook', 'run echo-note message="public output" incident=INC-2')).toMatch(/^R-3 started/);
  await served.app.runs.idle();
  await served.server.drain();
  return { served, channel: (await served.app.incidents.get('INC-1')).channelId! };
}

const MISSING_INCIDENT = (id: string) => `✗ Not found: ${id} does not exist; /incident list shows the open incidents`;
const MISSING_RUN = (id: string) => `✗ Not found: ${id} does not exist; run ids look like R-12`;

describe('a private incident, to someone who is not its member', () => {
  it('is left out of /incident list, for a no-role user and for non-members holding a role', async () => {
    const { served } = await servedWithPrivateIncident();
    const stranger = await ask(served, PEOPLE.stranger, GENERAL, '/incident', 'list');
    expect(stranger).toMatch(/^⛔ Not allowed: you may not incident\.view: U0NOBODY1 holds no role/);
    for (const user of [PEOPLE.developer, PEOPLE.support]) {
      const list = await ask(served, user, GENERAL, '/incident', 'list');
      expect(list).toMatch(/^Open incidents \(1\):\nINC-2 /);
      expect(list).not.toContain('INC-1');
      expect(list).not.toContain(TITLE);
    }
  });

  it('answers every command naming it (timeline, export, note, invite, role, sev, ack, resolve, update, run) exactly as a missing incident, recording nothing', async () => {
    const { served } = await servedWithPrivateIncident();
    const probes = [
      'timeline incident=INC-1',
      'export incident=INC-1',
      `note "probe" incident=INC-1`,
      `invite <@${PEOPLE.developer}> incident=INC-1`,
      `role comms <@${PEOPLE.developer}> incident=INC-1`,
      'sev 1 incident=INC-1',
      'ack incident=INC-1',
      'resolve incident=INC-1',
      'update "probe" status=identified incident=INC-1',
    ];
    for (const user of [PEOPLE.stranger, PEOPLE.developer, PEOPLE.support]) {
      const before = await state(served);
      for (const text of probes) {
        const hidden = await ask(served, user, GENERAL, '/incident', text);
        const missing = await ask(served, user, GENERAL, '/incident', text.replace('INC-1', 'INC-99'));
        expect(missing, `${user} ${text}`).toBe(MISSING_INCIDENT('INC-99'));
        expect(hidden, `${user} ${text}`).toBe(MISSING_INCIDENT('INC-1'));
      }
      const run = await ask(served, user, GENERAL, '/runbook', 'run echo-note message="probe" incident=INC-1');
      expect(run).toBe(MISSING_INCIDENT('INC-1'));
      expect(await ask(served, user, GENERAL, '/runbook', 'run echo-note message="probe" incident=INC-99')).toBe(MISSING_INCIDENT('INC-99'));
      // Neither a refusal nor a note: the probe left no row that a missing incident would not leave.
      expect(await state(served), user).toEqual(before);
    }
    expect((await served.app.runs.forIncident('INC-1')).map((r) => r.id)).toEqual(['R-1', 'R-2']);
  });

  it('answers /runbook status, approve, deny and cancel of its runs, and the Approve button, exactly as a missing run', async () => {
    const { served, channel } = await servedWithPrivateIncident();
    for (const user of [PEOPLE.stranger, PEOPLE.developer, PEOPLE.support]) {
      const before = await state(served);
      for (const [text, id] of [
        ['status R-1', 'R-1'],
        ['status R-2', 'R-2'],
        ['approve R-2', 'R-2'],
        ['deny R-2 probe', 'R-2'],
        ['cancel R-2', 'R-2'],
      ] as const) {
        expect(await ask(served, user, GENERAL, '/runbook', text), `${user} ${text}`).toBe(MISSING_RUN(id));
        expect(await ask(served, user, GENERAL, '/runbook', text.replace(id, 'R-99'))).toBe(MISSING_RUN('R-99'));
      }
      expect(await state(served), user).toEqual(before);
    }
    // support may approve echo-gated, but not a run it may not know of, even by a button in the channel.
    expect(await click(served, PEOPLE.support, channel, 'run_approve', 'R-2')).toBe(MISSING_RUN('R-2'));
    expect(await click(served, PEOPLE.support, channel, 'run_approve', 'R-99')).toBe(MISSING_RUN('R-99'));
    expect((await served.app.runs.get('R-2')).state).toBe('pending_approval');
    // Nothing of the hidden incident reached any of them in an answer.
    const answers = served.slack.responds.map((r) => JSON.stringify(r.body)).join('\n');
    for (const secret of [TITLE, NOTE, OUTPUT, 'gated']) expect(answers).not.toContain(secret);
  });

  it('is, inside its own Slack channel, any channel: commands, help and a :pushpin: there do not reach it', async () => {
    const { served, channel } = await servedWithPrivateIncident();
    const before = await state(served);
    for (const text of ['timeline', 'note "from inside"', 'export', 'help']) {
      expect(await ask(served, PEOPLE.developer, channel, '/incident', text)).toBe(await ask(served, PEOPLE.developer, GENERAL, '/incident', text));
    }
    expect(await ask(served, PEOPLE.developer, channel, '/incident', 'timeline')).toBe(
      '✗ this is not an incident channel; add incident=INC-7 to say which incident',
    );
    expect(await state(served)).toEqual(before);

    // A non-member's pin in the channel is not copied onto the timeline; a member's is.
    const [message] = served.slack.history[channel]!;
    for (const user of [PEOPLE.developer, PEOPLE.declarer]) {
      const body = eventBody({ type: 'reaction_added', user, reaction: 'pushpin', item: { type: 'message', channel, ts: message!.ts } });
      expect((await post(served.eventsUrl, body, { 'content-type': 'application/json', ...signedHeaders(body) })).status).toBe(200);
    }
    await served.server.drain();
    await served.slack.waitFor('chat.postMessage', (a) => a.channel === channel && (a.text ?? '').includes('pinned a message'));
    const pins = (await collect(served.app.store.audit.transcriptRows('INC-1', { kinds: ['incident.note'] }))).filter((e) => e.payload.pinned === true);
    expect(pins.map((e) => e.actor)).toEqual([PEOPLE.declarer]);
  });
});

describe('a private incident, to its members and roles allowed incident.view_private', () => {
  it('is created with a private channel and shown to its declarer, to role holders, to people invited, and to sre-oncall', async () => {
    const { served, channel } = await servedWithPrivateIncident();
    expect(served.slack.callsTo('conversations.create')[0]!.args).toMatchObject({ name: 'inc-1-payroll-export-leaks', is_private: 'true' });

    // sre-oncall is not a member, but incident.view_private lets it see the incident.
    expect(await ask(served, PEOPLE.sre, GENERAL, '/incident', 'list')).toContain(`INC-1  SEV2`);
    expect(await ask(served, PEOPLE.sre, GENERAL, '/incident', 'timeline incident=INC-1')).toContain(NOTE);

    // A role makes a member: the developer assigned comms sees it.
    expect(await ask(served, PEOPLE.declarer, GENERAL, '/incident', `role comms <@${PEOPLE.developer}> incident=INC-1`)).toContain(
      'is now comms of INC-1',
    );
    expect(await ask(served, PEOPLE.developer, GENERAL, '/incident', 'timeline incident=INC-1')).toContain(NOTE);
    expect(await ask(served, PEOPLE.developer, GENERAL, '/runbook', 'status R-1')).toContain(OUTPUT);

    // An invitation makes a member, is recorded on the timeline and invites them to the Slack channel.
    expect(await ask(served, PEOPLE.support, GENERAL, '/runbook', 'status R-1')).toBe(MISSING_RUN('R-1'));
    expect(await ask(served, PEOPLE.declarer, GENERAL, '/incident', `invite <@${PEOPLE.support}> incident=INC-1`)).toBe(
      `<@${PEOPLE.support}> is now a member of INC-1 and is being added to #inc-1-payroll-export-leaks.`,
    );
    await served.server.drain();
    await served.slack.waitFor('conversations.invite', (a) => a.channel === channel && a.users === PEOPLE.support);
    const list = await ask(served, PEOPLE.support, GENERAL, '/incident', 'list');
    expect(list).toContain(TITLE);
    const timeline = await ask(served, PEOPLE.support, GENERAL, '/incident', 'timeline incident=INC-1');
    expect(timeline).toContain(`<@${PEOPLE.declarer}>  invited <@${PEOPLE.support}> as a member`);
    expect(await ask(served, PEOPLE.support, GENERAL, '/runbook', 'status R-1')).toContain(OUTPUT);
    const invited = (await served.app.store.audit.recentForIncident('INC-1', 50)).find((e) => e.kind === 'incident.member_invited');
    expect(invited).toMatchObject({
      actor: PEOPLE.declarer,
      payload: { user: PEOPLE.support, authorized: { rules: [expect.stringContaining('incident.view')] } },
    });

    // The invited approver may now approve the run waiting in it.
    expect(await ask(served, PEOPLE.support, GENERAL, '/runbook', 'approve R-2')).toBe('Approved R-2; it is starting.');
    expect(await ask(served, PEOPLE.support, GENERAL, '/incident', `invite <@${PEOPLE.support}> incident=INC-1`)).toBe(
      `⚠ <@${PEOPLE.support}> is already a member of INC-1`,
    );
  });
});

describe('viewing as a policy action', () => {
  it('refuses timeline, export and run status without incident.view or runbook.status; a run in an incident also needs incident.view', async () => {
    const { served } = await servedWithPrivateIncident();
    const before = (await state(served)).auditSeq;
    expect(await ask(served, PEOPLE.stranger, GENERAL, '/incident', 'timeline incident=INC-2')).toMatch(
      /^⛔ Not allowed: you may not incident\.view: U0NOBODY1 holds no role/,
    );
    expect(await ask(served, PEOPLE.stranger, GENERAL, '/incident', 'export incident=INC-2')).toMatch(/^⛔ Not allowed: you may not incident\.view: /);
    expect(await ask(served, PEOPLE.stranger, GENERAL, '/runbook', 'status R-3')).toMatch(/^⛔ Not allowed: you may not runbook\.status: /);
    const refusals = (await collect(served.app.store.audit.transcriptRows('INC-2', { kinds: ['policy.denied'] }))).map((e) => e.payload.action);
    expect(refusals).toEqual(['incident.view', 'incident.view', 'runbook.status']);
    expect((await state(served)).auditSeq).toBe(before + 3);
    // Someone holding them sees the public incident and its run.
    expect(await ask(served, PEOPLE.support, GENERAL, '/incident', 'timeline incident=INC-2')).toContain('declared "Search is slow"');
    expect(await ask(served, PEOPLE.support, GENERAL, '/runbook', 'status R-3')).toContain('public output');

    // runbook.status alone shows a run outside any incident; a run in an incident also takes incident.view.
    expect(await ask(served, PEOPLE.support, GENERAL, '/runbook', 'run echo-note message="no incident"')).toMatch(/^R-4 started/);
    await served.app.runs.idle();
    expect((await served.app.runs.get('R-4')).incidentId).toBeNull();
    expect(await ask(served, PEOPLE.observer, GENERAL, '/runbook', 'status R-4')).toContain('no incident');
    expect(await ask(served, PEOPLE.observer, GENERAL, '/runbook', 'status R-3')).toMatch(/^⛔ Not allowed: you may not incident\.view: /);
  });
});
