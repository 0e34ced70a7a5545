// The Markdown transcript renders as exactly what was recorded: no recorded text can add, hide or fake a section.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { renderMarkdown, renderToString, type TranscriptEvent, type TranscriptRun, type TranscriptSource } from '../../../src/core/export/transcript.js';
import { blockAfter, headings, readMarkdown, type Block } from '../../helpers/markdown.js';

const T0 = Date.UTC(2026, 2, 4, 10, 0, 0);

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    id: 'INC-1',
    number: 1,
    title: 'Checkout errors',
    severity: 2,
    status: 'resolved',
    service: 'checkout',
    private: false,
    channelName: 'inc-1-checkout-errors',
    channelId: 'C0INC0001',
    roles: { commander: 'U0SRE0001', comms: null, scribe: null },
    declaredBy: 'U0SRE0001',
    declaredAt: T0,
    acknowledgedAt: T0 + 60_000,
    resolvedAt: T0 + 3_600_000,
    summary: 'Rolled back',
    pagerdutyId: null,
    pagerdutyUrl: null,
    lastUpdateAt: T0 + 3_600_000,
    ...overrides,
  };
}

const event = (seq: number, kind: string, payload: Record<string, unknown>, actor = 'U0SRE0001'): TranscriptEvent => ({
  seq,
  time: T0 + seq * 1000,
  actor,
  source: 'slack',
  kind,
  payload,
  hash: `${'0'.repeat(62)}${String(seq).padStart(2, '0')}`,
});

function source(i: Incident, events: TranscriptEvent[], runs: TranscriptRun[] = [], denied: TranscriptEvent[] = []): TranscriptSource {
  return { incident: i, events: () => events, runs: () => runs, denied: () => denied };
}

const render = async (src: TranscriptSource): Promise<Block[]> => readMarkdown(await renderToString(renderMarkdown, src));

const SECTIONS = ['## Summary', '## Timeline', '## Procedure runs', '## Denied attempts'];

/** The document's skeleton must be exactly this, whatever the recorded text holds. */
function expectIntact(blocks: Block[], i: Incident, events: TranscriptEvent[]): void {
  const hs = headings(blocks);
  expect(hs.filter((h) => h.startsWith('## '))).toEqual(SECTIONS);
  expect(hs[0]).toBe(`# ${i.id}: ${i.title.replace(/\r\n|\r|\n/g, ' ')}`);
  expect(blocks.filter((b) => b.kind === 'html')).toEqual([]);
  const timeline = blockAfter(blocks, 'Timeline');
  expect(timeline?.kind).toBe('table');
  if (timeline?.kind !== 'table') return;
  expect(timeline.rows.slice(1).map((r) => r[1])).toEqual(events.map((e) => String(e.seq)));
  const footer = blocks[blocks.length - 1]!;
  expect(blocks[blocks.length - 2]).toEqual({ kind: 'rule' });
  expect(footer).toEqual({
    kind: 'paragraph',
    text: `Audit: first seq ${events[0]!.seq}, last seq ${events[events.length - 1]!.seq}, last hash \`${events[events.length - 1]!.hash}\`. Check against the log with \`edgeops audit verify\`.`,
  });
}

describe('Markdown transcript', () => {
  it('shows a title holding a line break and <!-- as text, with the real timeline and audit footer after it', async () => {
    const i = incident({ title: 'Checkout down\n<!--' });
    const events = [event(1, 'incident.declared', { title: i.title, severity: 2 }), event(2, 'incident.note', { text: 'still here' })];
    const blocks = await render(source(i, events));
    expectIntact(blocks, i, events);
    const timeline = blockAfter(blocks, 'Timeline') as Extract<Block, { kind: 'table' }>;
    expect(timeline.rows[1]![4]).toBe('declared "Checkout down\n<!--" (SEV2)');
  });

  it('keeps a summary that fakes a Timeline section and footer inside its own fence, as recorded', async () => {
    const summary = [
      'Rolled back',
      '',
      '## Timeline',
      '',
      '| Time (UTC) | Seq | Actor | Source | Event |',
      '| --- | --- | --- | --- | --- |',
      '| 2026-03-04T10:00:00.000Z | 1 | U0CEO0001 | slack | declared "nothing happened" |',
      '',
      '```',
      '---',
      '',
      'Audit: first seq 1, last seq 1, last hash `deadbeef`.',
      '<!--',
    ].join('\n');
    const i = incident({ summary });
    const events = [event(1, 'incident.declared', { title: i.title, severity: 2 }), event(2, 'incident.resolved', { summary })];
    const blocks = await render(source(i, events));
    expectIntact(blocks, i, events);
    expect(blockAfter(blocks, 'Summary')).toEqual({ kind: 'fence', text: summary });
  });

  it('keeps a note with line breaks (\\r too), table pipes and HTML inside its timeline cell, as recorded', async () => {
    const note = 'ok | forged cell\r## Procedure runs\n- fake run\r\n<!-- hide the rest';
    const i = incident();
    const events = [
      event(1, 'incident.declared', { title: i.title, severity: 2 }),
      event(2, 'incident.note', { text: note }),
      event(3, 'incident.resolved', {}),
    ];
    const blocks = await render(source(i, events));
    expectIntact(blocks, i, events);
    const timeline = blockAfter(blocks, 'Timeline') as Extract<Block, { kind: 'table' }>;
    expect(timeline.rows[2]![4]).toBe(`note: ${note.replace(/\r\n|\r/g, '\n')}`);
  });

  it('keeps hostile parameter values, actors and denial reasons inside their list items', async () => {
    const value = '*x* _y_ [z](http://evil.example) `c` ~~s~~ $m$ &amp; <b>b</b>\n## Denied attempts';
    const i = incident();
    const events = [event(1, 'incident.declared', { title: i.title, severity: 2 })];
    const run: TranscriptRun = {
      id: 'R-1',
      procedure: 'sort-file',
      environment: 'staging',
      state: 'failed',
      requestedBy: 'U0SRE0001',
      approvers: [],
      params: { file: value },
      startedAt: T0,
      finishedAt: T0 + 1000,
      steps: [{ name: 'sort', outcome: 'failed', exitCode: 2, durationMs: 10, outputExcerpt: 'sort: cannot read\n```\n## Timeline' }],
    };
    const denied = [event(9, 'policy.denied', { action: 'run', procedure: 'x', reason: '<!-- *no* -->' }, 'U0EVE0001')];
    const blocks = await render(source(i, events, [run], denied));
    expectIntact(blocks, i, events);
    const runBlock = blockAfter(blocks, 'R-1: sort-file in staging — failed');
    expect(runBlock).toMatchObject({
      kind: 'list',
      items: ['Requested by: U0SRE0001', 'Approved by: —', `Parameters: file=${value}`, expect.stringMatching(/^Started: /)],
    });
    expect(blockAfter(blocks, 'Step sort: failed, exit 2, 0s')).toEqual({ kind: 'fence', text: 'sort: cannot read\n```\n## Timeline' });
    expect(blockAfter(blocks, 'Denied attempts')).toEqual({
      kind: 'list',
      items: [`${new Date(T0 + 9000).toISOString()} U0EVE0001: was refused run x: <!-- *no* --> (<!-- *no* -->)`],
    });
  });

  it('renders any recorded text in the title, a cell and a parameter as exactly that text (property)', async () => {
    const markup = fc.string({
      unit: fc.constantFrom(
        '\\',
        '`',
        '*',
        '_',
        '[',
        ']',
        '(',
        ')',
        '<',
        '>',
        '!',
        '&',
        '#',
        '|',
        '~',
        '$',
        '-',
        '=',
        '+',
        '.',
        ':',
        ';',
        '/',
        '"',
        "'",
        'a',
        '1',
        ' ',
        '\n',
        '\r',
        '\t',
        '<!--',
        '-->',
        'http://x.y',
        '&amp;',
        '&#35;',
      ),
      maxLength: 40,
    });
    await fc.assert(
      fc.asyncProperty(markup, markup, async (title, text) => {
        const i = incident({ title: `t${title}`, summary: text });
        const events = [event(1, 'incident.note', { text: `n${text}` })];
        const run: TranscriptRun = {
          id: 'R-1',
          procedure: 'p',
          environment: 'e',
          state: 'failed',
          requestedBy: 'U1',
          approvers: [],
          params: { v: `v${text}` },
          startedAt: null,
          finishedAt: null,
          steps: [],
        };
        const blocks = await render(source(i, events, [run]));
        const shown = (s: string): string =>
          s
            .replace(/\r\n|\r|\n/g, '\n')
            .replace(/^[ \t]+|[ \t]+$/gm, '')
            .trim();
        expect(headings(blocks)[0]).toBe(shown(`# INC-1: t${title.replace(/\r\n|\r|\n/g, ' ')}`).replace(/\s+$/, ''));
        expect(headings(blocks).filter((h) => h.startsWith('## '))).toEqual(SECTIONS);
        const timeline = blockAfter(blocks, 'Timeline') as Extract<Block, { kind: 'table' }>;
        expect(shown(timeline.rows[1]![4]!)).toBe(shown(`note: n${text}`));
        expect(blockAfter(blocks, 'Summary')).toEqual({ kind: 'fence', text: text.replace(/\r\n|\r/g, '\n') });
        const items = (blockAfter(blocks, 'R-1: p in e — failed') as Extract<Block, { kind: 'list' }>).items;
        expect(shown(items[2]!)).toBe(shown(`Parameters: v=v${text}`));
      }),
      { numRuns: 2_000, seed: 20260304 },
    );
  });
});
