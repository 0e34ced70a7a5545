// The incident channel key: what the core writes, every deliverer reads back as the same incident.
import { describe, expect, it } from 'vitest';
import { incidentChannelKey, incidentOfChannelKey } from '../../../src/core/outbox/channel-key.js';

describe('incident channel key', () => {
  it('reads back the incident it was made for', () => {
    for (const id of ['INC-1', 'INC-10', 'INC-2']) expect(incidentOfChannelKey(incidentChannelKey(id))).toBe(id);
    expect(incidentChannelKey('INC-7')).toBe('incident:INC-7');
  });

  it('names no incident for a Slack channel ID, a direct message or an empty incident part', () => {
    expect(incidentOfChannelKey('C0GENERAL1')).toBeNull();
    expect(incidentOfChannelKey('D0DIRECT1')).toBeNull();
    expect(incidentOfChannelKey('incident:')).toBeNull();
    expect(incidentOfChannelKey('xincident:INC-1')).toBeNull();
  });
});
