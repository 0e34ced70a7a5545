// The reminder tick asks again, inside the reminder's own transaction, whether it is still due.
import { describe, expect, it } from 'vitest';
import { createReminderService } from '../../../src/core/incidents/reminder-service.js';
import { coreServices } from '../../support/in-memory/core-services.js';

const SRE = { actor: { id: 'U0SRE0001', groups: [] }, source: 'slack' as const };
const MIN = 60_000;

describe('the reminder tick', () => {
  it('posts no status reminder when an update lands after the reminder was found due and before it is recorded', async () => {
    const s = coreServices({ policy: { roles: {}, rules: [] } });
    const reminders = createReminderService({ audit: s.store.audit, incidents: s.incidents, clock: s.clock, policy: () => ({ roles: {}, rules: [] }) });
    const incident = await s.incidents.declare(SRE, { title: 'Checkout down', severity: 1 });
    await s.incidents.update(SRE, incident.id, { text: 'looking' });
    s.clock.advance(16 * MIN);
    // The tick's facts are read; then someone posts an update before the reminder's transaction.
    const countSince = s.store.audit.countSince.bind(s.store.audit);
    let updated = false;
    s.store.audit.countSince = async (...args) => {
      const count = await countSince(...args);
      if (!updated) {
        updated = true;
        await s.incidents.update(SRE, incident.id, { text: 'rolled back, watching' });
      }
      return count;
    };
    expect(await reminders.tick()).toEqual([]);
    expect(s.kinds()).not.toContain('incident.reminder');
  });

  it('posts a reminder that is still due, once', async () => {
    const s = coreServices({ policy: { roles: {}, rules: [] } });
    const reminders = createReminderService({ audit: s.store.audit, incidents: s.incidents, clock: s.clock, policy: () => ({ roles: {}, rules: [] }) });
    await s.incidents.declare(SRE, { title: 'Checkout down', severity: 1 });
    s.clock.advance(16 * MIN);
    expect((await reminders.tick()).map((r) => r.reason)).toEqual(['status_update']);
    expect(await reminders.tick()).toEqual([]);
    expect(s.kinds().filter((k) => k === 'incident.reminder')).toHaveLength(1);
  });
});
