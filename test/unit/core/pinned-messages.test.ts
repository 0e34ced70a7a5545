// A pinned message is recognised from the incident's notes alone, whatever keeps the audit log.
import { describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../../src/core/export/transcript.js';
import { createPinnedMessages } from '../../../src/core/incidents/pinned-messages.js';

/** An audit log port made by hand: the notes of INC-1 only, and the kinds it was asked for. */
function notesOf(rows: Array<Partial<TranscriptEvent> & { payload: Record<string, unknown> }>) {
  const asked: Array<string[] | undefined> = [];
  return {
    asked,
    audit: {
      async *transcriptRows(incidentId: string, options?: { kinds?: string[] }): AsyncGenerator<TranscriptEvent> {
        asked.push(options?.kinds);
        yield* (incidentId === 'INC-1' ? rows : []).map((r) => r as TranscriptEvent);
      },
    },
  };
}

describe('pinned messages', () => {
  it('knows a message pinned onto the incident, and only that incident, from its notes', async () => {
    const log = notesOf([{ payload: { text: 'typed note' } }, { payload: { pinned: true, message_ts: '1700000000.000100' } }]);
    const pins = createPinnedMessages(log);
    expect(await pins.isPinned('INC-1', '1700000000.000100')).toBe(true);
    expect(await pins.isPinned('INC-2', '1700000000.000100')).toBe(false);
    expect(log.asked).toEqual([['incident.note'], ['incident.note']]);
  });

  it('does not count a typed note that merely names the same message time', async () => {
    const pins = createPinnedMessages(notesOf([{ payload: { pinned: false, message_ts: '1700000000.000100' } }]));
    expect(await pins.isPinned('INC-1', '1700000000.000100')).toBe(false);
  });
});
