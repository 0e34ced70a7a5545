// Which chat messages jump a channel's backlog, and which carry a key a later message can find them by.
import { describe, expect, it } from 'vitest';
import { messageKeyOf, PRIORITY, priorityOf } from '../../../src/core/outbox/delivery-order.js';

describe('delivery classes', () => {
  it.each([
    ['incident.declared', PRIORITY.opening],
    ['run.started', PRIORITY.urgent],
    ['run.finished', PRIORITY.urgent],
    ['run.approval_requested', PRIORITY.urgent],
    ['run.denied', PRIORITY.urgent],
    ['incident.updated', PRIORITY.urgent],
    ['incident.resolved', PRIORITY.urgent],
    ['incident.severity_changed', PRIORITY.urgent],
    ['incident.note', PRIORITY.routine],
    ['incident.reminder', PRIORITY.routine],
    ['incident.role_assigned', PRIORITY.routine],
    ['incident.export', PRIORITY.routine],
  ])('puts a Slack %s message in class %i', (kind, priority) => {
    expect(priorityOf('slack', { kind, text: 'x' })).toBe(priority);
  });

  it('keeps PagerDuty writes in one class, so they land in the order they happened', () => {
    expect(priorityOf('pagerduty', { kind: 'incident.resolved' })).toBe(PRIORITY.routine);
    expect(priorityOf('pagerduty', { kind: 'run.finished' })).toBe(PRIORITY.routine);
  });

  it('keys only a run start message, by its run', () => {
    expect(messageKeyOf('slack', { kind: 'run.started', text: 'x', data: { runId: 'R-7' } })).toBe('run.started:R-7');
    expect(messageKeyOf('slack', { kind: 'run.finished', text: 'x', data: { runId: 'R-7' } })).toBeNull();
    expect(messageKeyOf('slack', { kind: 'run.started', text: 'x' })).toBeNull();
    expect(messageKeyOf('pagerduty', { kind: 'run.started', data: { runId: 'R-7' } })).toBeNull();
  });
});
