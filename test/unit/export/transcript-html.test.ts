// The HTML transcript escapes every recorded field and keeps its line breaks visible.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../../src/core/incidents/incident.js';
import { renderHtml, renderToString, type TranscriptEvent } from '../../../src/core/export/transcript.js';

const T0 = Date.UTC(2026, 2, 4, 10, 0, 0);
const HOSTILE = `<!-- <script>alert(1)</script> <img src=x onerror=alert(1)> "' &amp;`;

const incident: Incident = {
  id: 'INC-1',
  number: 1,
  title: `Down\n${HOSTILE}`,
  severity: 2,
  status: 'resolved',
  service: 'checkout',
  private: false,
  channelName: 'inc-1-down',
  channelId: 'C0INC0001',
  roles: { commander: 'U0SRE0001', comms: null, scribe: null },
  declaredBy: 'U0SRE0001',
  declaredAt: T0,
  acknowledgedAt: null,
  resolvedAt: T0 + 60_000,
  summary: `line one\nline two ${HOSTILE}`,
  pagerdutyId: null,
  pagerdutyUrl: null,
  lastUpdateAt: T0,
};

const event = (seq: number, kind: string, payload: Record<string, unknown>): TranscriptEvent => ({
  seq,
  time: T0 + seq,
  actor: 'U0SRE0001',
  source: 'slack',
  kind,
  payload,
  hash: 'a'.repeat(64),
});

describe('HTML transcript', () => {
  const rendered = renderToString(renderHtml, {
    incident,
    events: () => [event(1, 'incident.note', { text: `note\n${HOSTILE}` })],
    runs: () => [
      {
        id: 'R-1',
        procedure: 'p',
        environment: 'e',
        state: 'failed',
        requestedBy: 'U1',
        approvers: [],
        params: { v: HOSTILE },
        startedAt: null,
        finishedAt: null,
        steps: [{ name: 's', outcome: 'failed', exitCode: 1, durationMs: 1, outputExcerpt: HOSTILE }],
      },
    ],
    denied: () => [event(2, 'policy.denied', { action: 'run', procedure: 'p', reason: HOSTILE })],
  });
  let html = '';
  beforeAll(async () => {
    html = await rendered;
  });
  const escaped = HOSTILE.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

  it('holds no tag, comment or attribute from recorded text: each field appears only escaped', () => {
    expect(html).not.toContain('<!--');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    // title (twice), summary, note, parameter, output, denial and its reason
    expect(html.split(escaped).length - 1).toBe(8);
  });

  it('shows recorded line breaks and the reason of a denial', () => {
    expect(html).toContain('td,.text{white-space:pre-wrap}');
    expect(html).toContain(`<p class="text">line one\nline two ${escaped}</p>`);
    expect(html).toContain(`was refused run p: ${escaped} (${escaped})</li>`);
  });
});
