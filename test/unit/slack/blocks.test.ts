// Block Kit rendering: layouts per message kind, Slack's size limits, and mentions that must never fire.
import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { escapeMrkdwn, escapeText, LIMITS, renderMessage } from '../../../src/adapters/slack/blocks.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { summaryFields } from '../../../src/core/incidents/incident-service.js';
import type { ChatMessage } from '../../../src/core/outbox/outbox.js';
import { joinRich } from '../../../src/core/rich-text.js';
import { approvalRequestMessage, resultMessage, startMessage } from '../../../src/core/runs/run-messages.js';
import type { Run, RunStepRecord } from '../../../src/core/runs/run.js';

const T0 = Date.parse('2026-05-01T09:00:00.000Z');

const run = (over: Partial<Run> = {}): Run => ({
  id: 'R-12',
  number: 12,
  procedure: 'restart-service',
  environment: 'prod',
  incidentId: 'INC-7',
  channel: null,
  requestedBy: 'U0DEV0001',
  requestedGroups: [],
  source: 'slack',
  params: { service: 'checkout', instance: 'web-1' },
  binding: 'b',
  state: 'failed',
  approval: { roles: ['sre-oncall'], count: 1, expiresMs: 15 * 60_000 },
  approvalExpiresAt: null,
  concurrencyKey: 'checkout-prod',
  createdAt: T0,
  startedAt: T0,
  finishedAt: T0 + 65_000,
  pgid: null,
  ownerPid: null,
  error: 'step restart failed',
  ...over,
});

const step = (index: number, output: string, over: Partial<RunStepRecord> = {}): RunStepRecord => ({
  runId: 'R-12',
  index,
  name: `step-${index}`,
  kind: 'run',
  outcome: 'failed',
  exitCode: 1,
  httpStatus: null,
  startedAt: T0,
  finishedAt: T0 + 1000,
  output,
  truncatedBytes: 0,
  error: null,
  ...over,
});

/** Every mrkdwn/plain text string anywhere in the blocks. */
function texts(blocks: KnownBlock[]): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') out.push(o.text);
      Object.values(o).forEach(walk);
    }
  };
  walk(blocks);
  return out;
}

const sectionTexts = (blocks: KnownBlock[]): string[] =>
  blocks.flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : []));

/** The parts of a rendered message Slack would parse: a special mention or link here would fire. */
const everything = (r: { text: string; blocks: KnownBlock[] }): string[] => [r.text, ...texts(r.blocks)];

const SPECIAL = /<!(channel|here|everyone|subteam\^[^>]*)>/;

function assertWithinLimits(r: { text: string; blocks: KnownBlock[] }): void {
  expect(r.blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
  expect(r.text.length).toBeLessThanOrEqual(LIMITS.messageText);
  for (const b of r.blocks) {
    if (b.type === 'section') {
      if (b.text) {
        expect(b.text.text.length).toBeGreaterThan(0);
        expect(b.text.text.length).toBeLessThanOrEqual(LIMITS.sectionText);
      }
      expect((b.fields ?? []).length).toBeLessThanOrEqual(LIMITS.fields);
      for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(LIMITS.fieldText);
    }
  }
  // No entity is cut in half by trimming.
  for (const t of everything(r)) expect(t).not.toMatch(/&(?!amp;|lt;|gt;)/);
}

describe('escapeMrkdwn', () => {
  it('neutralises special mentions, channel links and links, and keeps user mentions', () => {
    const raw = 'hi <!channel> <!here> <!everyone> <!subteam^S0123|@oncall> <#C0123|general> <https://evil.example|bank> a&b <@U0DEV0001|dev> <@W0ABC>';
    const escaped = escapeMrkdwn(raw);
    expect(escaped).not.toMatch(SPECIAL);
    expect(escaped).toContain('&lt;!channel&gt;');
    expect(escaped).toContain('&lt;!subteam^S0123|@oncall&gt;');
    expect(escaped).toContain('&lt;https://evil.example|bank&gt;');
    expect(escaped).toContain('&lt;#C0123|general&gt;');
    expect(escaped).toContain('a&amp;b');
    expect(escaped).toContain('<@U0DEV0001>');
    expect(escaped).toContain('<@W0ABC>');
    // Every remaining `<` opens one of the kept user mentions.
    expect(escaped.match(/</g)).toHaveLength(2);
  });

  it('does not let a user mention smuggle a special mention inside its label', () => {
    const escaped = escapeMrkdwn('<@U0DEV0001|<!channel>>');
    expect(escaped).not.toMatch(SPECIAL);
    expect(escaped).toBe('&lt;@U0DEV0001|&lt;!channel&gt;&gt;');
  });

  it('escapeText keeps nothing, not even user mentions', () => {
    expect(escapeText('<@U0DEV0001> & <!here>')).toBe('&lt;@U0DEV0001&gt; &amp; &lt;!here&gt;');
  });
});

describe('renderMessage', () => {
  it('lays out the declared summary with its fields and keeps the declarer mention', () => {
    const incident = {
      id: 'INC-7', severity: 2, status: 'investigating', roles: { commander: 'U0DEV0001', comms: null, scribe: null }, service: 'checkout',
    } as unknown as Incident;
    const message: ChatMessage = {
      kind: 'incident.declared',
      pin: true,
      text: 'INC-7 declared by <@U0DEV0001>: Checkout <!here> is down',
      fields: summaryFields(incident),
      data: { invite: ['U0DEV0001'], private: false, channelName: 'inc-7-checkout' },
    };
    const r = renderMessage(message);
    assertWithinLimits(r);
    expect(sectionTexts(r.blocks)[0]).toContain('INC-7 declared by <@U0DEV0001>: Checkout &lt;!here&gt; is down');
    const fields = r.blocks.find((b) => b.type === 'section' && b.fields)!;
    expect(fields.type === 'section' && fields.fields!.map((f) => f.text)).toEqual([
      '*Severity*\nSEV2',
      '*Status*\ninvestigating',
      '*Commander*\n<@U0DEV0001>',
      '*Service*\ncheckout',
    ]);
    for (const t of everything(r)) expect(t).not.toMatch(SPECIAL);
    expect(r.text).toContain('<@U0DEV0001>');
  });

  it('never lets <!channel> in a note fire, in blocks or in the notification text', () => {
    const r = renderMessage({ kind: 'incident.note', text: '<@U0DEV0001> note: wake up <!channel> and <!subteam^S0SRE> <https://x.example|here>' });
    for (const t of everything(r)) {
      expect(t).not.toMatch(SPECIAL);
      expect(t).not.toMatch(/<https?:/);
    }
    expect(r.text).toContain('<@U0DEV0001>');
    expect(sectionTexts(r.blocks).join('')).toContain('wake up &lt;!channel&gt;');
  });

  it('shows actors that are not Slack users as plain names', () => {
    const r = renderMessage({ kind: 'incident.acknowledged', text: '<@pagerduty:Checkout API> acknowledged' });
    expect(r.text).toBe('pagerduty:Checkout API acknowledged');
  });

  it('splits a long note across sections instead of losing it', () => {
    const note = `<@U0DEV0001> note: ${'a&b<c> '.repeat(570)}`.slice(0, 4000);
    const r = renderMessage({ kind: 'incident.note', text: note });
    assertWithinLimits(r);
    const sections = sectionTexts(r.blocks);
    expect(sections.length).toBeGreaterThan(1);
    expect(sections.join('')).toBe(`:memo: ${escapeMrkdwn(note)}`);
  });

  it('keeps output out of mentions: run results escape everything, user mentions included', () => {
    const r = renderMessage(resultMessage(run(), [step(0, 'deploying\n<!channel> <@U0EVIL01> <!subteam^S1|x> & done\n')]));
    for (const t of everything(r)) {
      expect(t).not.toMatch(SPECIAL);
      expect(t).not.toContain('<@U0EVIL01>');
    }
    expect(sectionTexts(r.blocks).join('\n')).toContain('&lt;!channel&gt; &lt;@U0EVIL01&gt;');
  });

  it('puts each step output tail in a code block that the output cannot close early', () => {
    const r = renderMessage(resultMessage(run(), [step(0, 'before\n```\n*bold* after\n'), step(1, 'second', { outcome: 'succeeded', exitCode: 0 })]));
    const [header, first, second] = sectionTexts(r.blocks);
    expect(header).toContain('R-12 restart-service (prod) failed in 1m 05s');
    expect(first).toMatch(/^• step-0: failed \(exit 1, 1s\)\n```\n/);
    expect(first!.match(/```/g)).toHaveLength(2);
    expect(second).toMatch(/^• step-1: succeeded \(exit 0, 1s\)\n```\nsecond\n```$/);
    expect(r.blocks.at(-1)).toMatchObject({ type: 'context' });
    expect(texts([r.blocks.at(-1)!])[0]).toContain('/runbook status R-12');
  });

  it('stays within every Slack limit for huge output on many steps, trimming tails from the front', () => {
    const huge = `${'<&>'.repeat(300_000)}\nLAST LINE <!channel>\n`;
    const steps = Array.from({ length: 60 }, (_, i) => step(i, huge));
    const message = resultMessage(run(), steps);
    // Even the core message, not only our blocks, would blow the limits without trimming.
    message.text = joinRich([message.text, huge]);
    const r = renderMessage(message);
    assertWithinLimits(r);
    const sections = sectionTexts(r.blocks);
    const withOutput = sections.filter((s) => s.includes('```'));
    expect(withOutput.length).toBeGreaterThan(10);
    for (const s of withOutput) {
      expect(s).toContain('…(earlier output trimmed)');
      expect(s).toContain('LAST LINE &lt;!channel&gt;');
    }
    expect(sections.join('\n')).toMatch(/more steps/);
    for (const t of everything(r)) expect(t).not.toMatch(SPECIAL);
  });

  it('stays within the limits for many fields and an enormous text', () => {
    const fields: Array<[string, string]> = Array.from({ length: 25 }, (_, i) => [`f${i}`, 'v<!here>'.repeat(400)]);
    const r = renderMessage({ kind: 'something.else', text: '<!everyone>'.repeat(10_000), fields });
    assertWithinLimits(r);
    const fieldSections = r.blocks.filter((b) => b.type === 'section' && b.fields);
    expect(fieldSections).toHaveLength(3);
    for (const t of everything(r)) expect(t).not.toMatch(SPECIAL);
  });

  it('gives approval requests Approve and Deny buttons carrying the run id', () => {
    const r = renderMessage(approvalRequestMessage(run({ state: 'pending_approval' })));
    const actions = r.blocks.find((b) => b.type === 'actions');
    expect(actions).toBeDefined();
    expect(actions).toMatchObject({
      type: 'actions',
      elements: [
        { type: 'button', action_id: 'run_approve', value: 'R-12', style: 'primary', text: { text: 'Approve' } },
        { type: 'button', action_id: 'run_deny', value: 'R-12', style: 'danger', text: { text: 'Deny' }, confirm: { style: 'danger' } },
      ],
    });
    expect(sectionTexts(r.blocks)[0]).toContain('<@U0DEV0001> asks to run restart-service in prod');
    assertWithinLimits(r);
  });

  it('renders an approval request without a run id as plain text, with no buttons to click', () => {
    const r = renderMessage({ kind: 'run.approval_requested', text: 'needs approval' });
    expect(r.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('renders other kinds as a simple section', () => {
    const r = renderMessage(startMessage(run({ state: 'running' })));
    expect(r.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', verbatim: true, text: '▶ R-12 restart-service (prod) started for <@U0DEV0001> — service=checkout instance=web-1' } },
    ]);
    expect(r.text).toBe('▶ R-12 restart-service (prod) started for <@U0DEV0001> — service=checkout instance=web-1');
  });
});

describe('run results with a full-output link', () => {
  it('link the signed output page, with its query escaped for mrkdwn', () => {
    const url = 'https://edgeops.example.com/runs/output?run=R-7&expires=1&sig=a-b_c';
    const r = renderMessage(resultMessage(run(), [step(0, 'ok\n')], url));
    const json = JSON.stringify(r.blocks);
    expect(json).toContain('<https://edgeops.example.com/runs/output?run=R-7&amp;expires=1&amp;sig=a-b_c|full output>');
  });

  it('fall back to /runbook status without one', () => {
    const r = renderMessage(resultMessage(run(), [step(0, 'ok\n')]));
    expect(JSON.stringify(r.blocks)).toContain('full output and steps: /runbook status');
  });
});
