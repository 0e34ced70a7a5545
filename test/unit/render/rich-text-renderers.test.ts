// Rich text on every surface: a user reference renders as that surface names people, and no name or word turns into markup.
import { describe, expect, it } from 'vitest';
import { consoleText } from '../../../src/adapters/console/console-text.js';
import { renderPost } from '../../../src/adapters/console/console-delivery.js';
import { renderMessage } from '../../../src/adapters/slack/blocks.js';
import { slackMrkdwn, slackSource } from '../../../src/adapters/slack/slack-mrkdwn.js';
import { htmlText } from '../../../src/core/export/html-text.js';
import { markdownText } from '../../../src/core/export/markdown-text.js';
import { renderHtml, renderMarkdown, renderToString, type TranscriptEvent } from '../../../src/core/export/transcript.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { incidentRef, isChatText, joinRich, rich, runRef, userRef, type RichText } from '../../../src/core/rich-text.js';
import { describeEvent } from '../../../src/core/timeline/describe-event.js';
import { readMarkdown } from '../../helpers/markdown.js';

/** A name no surface may turn into markup: angle brackets, an entity, emphasis, a table pipe, a special mention. */
const HOSTILE_NAME = 'pagerduty:A <b>&amp; *bold* | _it_ <!channel>';
const mentionLine: RichText = rich`${userRef('U0DEV0001')} approved ${runRef('R-7')} for ${incidentRef('INC-3')}`;
const hostileLine: RichText = rich`by ${userRef(HOSTILE_NAME)}: a <b>&amp; *b* | x`;

describe('rich text', () => {
  it('keeps references as data and merges adjacent words into one segment', () => {
    expect(mentionLine).toEqual([
      { kind: 'user', id: 'U0DEV0001' },
      { kind: 'text', text: ' approved ' },
      { kind: 'run', id: 'R-7' },
      { kind: 'text', text: ' for ' },
      { kind: 'incident', id: 'INC-3' },
    ]);
    expect(rich`a${'b'}${3}${[{ kind: 'text', text: 'c' }]}`).toEqual([{ kind: 'text', text: 'ab3c' }]);
    expect(joinRich(['x', rich`${userRef('U0A1')}`, 'y'], '\n')).toEqual([
      { kind: 'text', text: 'x\n' },
      { kind: 'user', id: 'U0A1' },
      { kind: 'text', text: '\ny' },
    ]);
  });

  it('accepts a stored string or well-formed segments as message text, and nothing else', () => {
    expect([
      isChatText('hi'),
      isChatText(mentionLine),
      isChatText([]),
      isChatText(42),
      isChatText([{ kind: 'user' }]),
      isChatText([{ kind: 'x', id: 'a' }]),
    ]).toEqual([true, true, true, false, false, false]);
  });
});

describe('a user mention on each surface', () => {
  it('Slack mrkdwn: a Slack user is a mention; runs and incidents are words', () => {
    expect(slackMrkdwn(mentionLine)).toBe('<@U0DEV0001> approved R-7 for INC-3');
  });

  it('Slack reply text: a Slack user is a mention', () => {
    expect(slackSource(mentionLine)).toBe('<@U0DEV0001> approved R-7 for INC-3');
  });

  it('console: a user shows as <@U…>, as a Slack user would type it', () => {
    expect(consoleText(mentionLine)).toBe('<@U0DEV0001> approved R-7 for INC-3');
  });

  it('Markdown export: a user shows as <@U…> text', () => {
    expect(markdownText(mentionLine)).toBe('<@U0DEV0001> approved R-7 for INC-3');
    expect(readMarkdown(`| ${markdownText(mentionLine)} |\n| --- |\n| x |\n`)).toEqual([
      { kind: 'table', rows: [['<@U0DEV0001> approved R-7 for INC-3'], ['x']] },
    ]);
  });

  it('HTML export: a user shows as escaped <@U…> text', () => {
    expect(htmlText(mentionLine)).toBe('&lt;@U0DEV0001&gt; approved R-7 for INC-3');
  });
});

describe('names and words with markup characters', () => {
  it('Slack mrkdwn: a name that is not a Slack user is inert words: escaped, no mention, emphasis broken up', () => {
    const out = slackMrkdwn(hostileLine);
    expect(out).toBe('by pagerduty:A &lt;b&gt;&amp;amp; *\u200bbold*\u200b | _\u200bit_\u200b &lt;!channel&gt;: a &lt;b&gt;&amp;amp; *b* | x');
    expect(out).not.toMatch(/<[!#@]|<http/);
  });

  it('Slack reply text: a name cannot close its <@…> and start a special mention', () => {
    const out = slackSource(rich`by ${userRef('x> <!channel')}`);
    expect(out).toBe('by <@x&gt; &lt;!channel>');
    expect(out).not.toContain('<!channel>');
  });

  it('Markdown export: the name and the words read back as exactly themselves, no HTML, emphasis or extra cell', () => {
    const line = markdownText(hostileLine);
    expect(readMarkdown(`| ${line} |\n| --- |\n| x |\n`)).toEqual([{ kind: 'table', rows: [[`by <@${HOSTILE_NAME}>: a <b>&amp; *b* | x`], ['x']] }]);
  });

  it('HTML export: every character that could open markup is an entity', () => {
    expect(htmlText(hostileLine)).toBe('by &lt;@pagerduty:A &lt;b&gt;&amp;amp; *bold* | _it_ &lt;!channel&gt;&gt;: a &lt;b&gt;&amp;amp; *b* | x');
  });

  it('console: words and names show as written', () => {
    expect(consoleText(hostileLine)).toBe(`by <@${HOSTILE_NAME}>: a <b>&amp; *b* | x`);
  });
});

describe('rows queued before rich text (a plain string with <@U…> in it)', () => {
  const legacy = '<@U0DEV0001> note: p99 > 2s & <@pagerduty:Checkout API> <!here>';

  it('show on Slack, the console and in replies exactly as they did', () => {
    expect(slackMrkdwn(legacy)).toBe('<@U0DEV0001> note: p99 &gt; 2s &amp; pagerduty:Checkout API &lt;!here&gt;');
    expect(consoleText(legacy)).toBe(legacy);
    expect(slackSource(legacy)).toBe(legacy);
    const stored = { kind: 'incident.note', text: legacy, fields: [['Commander', '<@U0DEV0001>']] as Array<[string, string]> };
    expect(renderMessage(stored).text).toBe('<@U0DEV0001> note: p99 &gt; 2s &amp; pagerduty:Checkout API &lt;!here&gt;');
    expect(renderPost({ channel: 'inc-1', message: stored })).toBe(`[#inc-1] ${legacy}\n    Commander: <@U0DEV0001>`);
  });

  it('and a new message with the same words renders to the same bytes on Slack and the console', () => {
    const fresh = {
      kind: 'incident.note',
      text: rich`${userRef('U0DEV0001')} note: p99 > 2s & ${userRef('pagerduty:Checkout API')} <!here>`,
      fields: [['Commander', [userRef('U0DEV0001')]]] as Array<[string, RichText]>,
    };
    const old = { kind: 'incident.note', text: legacy, fields: [['Commander', '<@U0DEV0001>']] as Array<[string, string]> };
    expect(renderMessage(fresh)).toEqual(renderMessage(old));
    expect(renderPost({ channel: 'inc-1', message: fresh })).toBe(renderPost({ channel: 'inc-1', message: old }));
  });
});

describe('timeline events naming people, in the exports', () => {
  const T0 = Date.UTC(2026, 2, 4, 10, 0, 0);
  const incident: Incident = {
    id: 'INC-1',
    number: 1,
    title: 'Down',
    severity: 2,
    status: 'investigating',
    service: null,
    private: false,
    channelName: 'inc-1-down',
    channelId: null,
    roles: { commander: 'U0SRE0001', comms: null, scribe: null },
    declaredBy: 'U0SRE0001',
    declaredAt: T0,
    acknowledgedAt: null,
    resolvedAt: null,
    summary: null,
    pagerdutyId: null,
    pagerdutyUrl: null,
    lastUpdateAt: T0,
  };
  const events: TranscriptEvent[] = [
    {
      seq: 1,
      time: T0,
      actor: 'U0SRE0001',
      source: 'slack',
      kind: 'incident.role_assigned',
      payload: { role: 'comms', user: 'U0COMMS01', previous: HOSTILE_NAME },
      hash: 'a'.repeat(64),
    },
  ];
  const source = { incident, events: () => events, runs: () => [], denied: () => [] };

  it('describe the event with the people as references', () => {
    expect(describeEvent(events[0]!)).toEqual(rich`comms: ${userRef('U0COMMS01')} (was ${userRef(HOSTILE_NAME)})`);
  });

  it('Markdown: the mention reads as text in its own cell', async () => {
    const table = readMarkdown(await renderToString(renderMarkdown, source)).find((b) => b.kind === 'table' && b.rows[0]![0] === 'Time (UTC)');
    expect(table).toMatchObject({ kind: 'table' });
    expect((table as { rows: string[][] }).rows[1]).toEqual([
      '2026-03-04T10:00:00.000Z',
      '1',
      'U0SRE0001',
      'slack',
      `comms: <@U0COMMS01> (was <@${HOSTILE_NAME}>)`,
    ]);
  });

  it('HTML: the mention is escaped text', async () => {
    expect(await renderToString(renderHtml, source)).toContain(
      '<td>comms: &lt;@U0COMMS01&gt; (was &lt;@pagerduty:A &lt;b&gt;&amp;amp; *bold* | _it_ &lt;!channel&gt;&gt;)</td>',
    );
  });
});
