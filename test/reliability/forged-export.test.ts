// A postmortem cannot be forged from chat: served in Slack mode, hostile titles, notes, parameters and summaries render in the Markdown export exactly as recorded, with the real timeline and audit footer intact.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../helpers/run-cli.js';
import { blockAfter, headings, readMarkdown, type Block } from '../helpers/markdown.js';
import { FORM, commandBody, post, signedHeaders } from '../fixtures/slack/slack-harness.js';
import { startServe, type Served } from './slack-serve.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'leading-dash');
const OPERATOR = 'U0OPER001';
const GENERAL = 'C0GENERAL1';

let s: Served | undefined;

afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Slack sends what the user typed with `&`, `<` and `>` as entities. */
const slackEscaped = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A signed slash command as Slack sends it for what the user typed, acknowledged with a 200. */
async function command(served: Served, channel: string, name: string, typed: string): Promise<void> {
  const text = slackEscaped(typed);
  const body = commandBody(OPERATOR, channel, name, text);
  const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
  expect(res.status, `${name} ${text}`).toBe(200);
  expect(res.body, `${name} ${text}`).not.toMatch(/✗|⛔|⚠/);
  await served.server.drain();
  await served.app.runs.idle();
}

const TITLE = 'Checkout down\n<!--';
const NOTE = 'all good | forged cell\r## Procedure runs\r\n- R-9 nothing ran\n<!-- hide the rest';
const FILE = '*x* _y_ [z](http://evil.example) ~~s~~ <b>b</b> &amp;';
const SUMMARY = [
  'Rolled back',
  '',
  '## Timeline',
  '',
  '| Time (UTC) | Seq | Actor | Source | Event |',
  '| --- | --- | --- | --- | --- |',
  '| 2026-03-04T10:00:00.000Z | 1 | U0CEO0001 | slack | declared nothing happened |',
  '',
  '```',
  '---',
  '',
  'Audit: first seq 1, last seq 1, last hash `deadbeef`.',
  '<!--',
].join('\n');

describe('the Markdown export of an incident full of hostile chat text', () => {
  it('renders the title, note, parameter and summary as text, and keeps every real timeline row and the audit footer', async () => {
    s = await startServe({ catalog: CATALOG });
    await command(s, GENERAL, '/incident', `declare "${TITLE}" sev=2 service=checkout`);
    const incident = await s.app.incidents.get('INC-1');
    expect(incident.title).toBe(TITLE);
    const channel = incident.channelId!;
    await command(s, channel, '/incident', `note "${NOTE}"`);
    await command(s, channel, '/runbook', `run sort-file file="${FILE}"`);
    expect(await s.app.runs.get('R-1')).toMatchObject({ state: 'failed', params: { file: FILE } });
    await command(s, channel, '/incident', `resolve "${SUMMARY}"`);
    expect((await s.app.incidents.get('INC-1')).summary).toBe(SUMMARY);

    const exported = readFileSync(await s.app.exportFile('INC-1', 'md'), 'utf8');
    const blocks = readMarkdown(exported);

    // Exactly the sections edgeops writes, in order; no raw HTML block anywhere.
    expect(headings(blocks)).toEqual([
      '# INC-1: Checkout down <!--',
      '## Summary',
      '## Timeline',
      '## Procedure runs',
      '### R-1: sort-file in staging — failed',
      '#### Step sort: failed, exit 2, 0s',
      '## Denied attempts',
    ]);
    expect(blocks.filter((b) => b.kind === 'html')).toEqual([]);

    // The summary is shown whole, in its own fence.
    expect(blockAfter(blocks, 'Summary')).toEqual({ kind: 'fence', text: SUMMARY });

    // Every row of the incident's audit log is a timeline row, in order; the note stays in its cell.
    const rows = s.app.store.db.prepare("SELECT seq, hash FROM audit_log WHERE incident_id = 'INC-1' ORDER BY seq").all() as Array<{
      seq: number;
      hash: string;
    }>;
    const timeline = blockAfter(blocks, 'Timeline') as Extract<Block, { kind: 'table' }>;
    expect(timeline.kind).toBe('table');
    expect(timeline.rows.slice(1).map((r) => Number(r[1]))).toEqual(rows.map((r) => r.seq));
    const cells = timeline.rows.slice(1).map((r) => r[4]);
    expect(cells[0]).toBe(`declared "${TITLE}" (SEV2, service checkout)`);
    expect(cells).toContain(`note: ${NOTE.replace(/\r\n|\r/g, '\n')}`);
    expect(cells).toContain(`resolved: ${SUMMARY}`);

    // The run's parameter is shown as typed.
    expect(blockAfter(blocks, 'R-1: sort-file in staging — failed')).toMatchObject({
      kind: 'list',
      items: expect.arrayContaining([`Parameters: file=${FILE}`]),
    });

    // The footer is the real one: the incident's first and last seq and the last hash.
    const last = rows[rows.length - 1]!;
    expect(blocks.slice(-2)).toEqual([
      { kind: 'rule' },
      {
        kind: 'paragraph',
        text: `Audit: first seq ${rows[0]!.seq}, last seq ${last.seq}, last hash \`${last.hash}\`. Check against the log with \`edgeops audit verify\`.`,
      },
    ]);

    // And a repeat is byte-identical.
    expect(readFileSync(await s.app.exportFile('INC-1', 'md'), 'utf8')).toBe(exported);
  });
});
