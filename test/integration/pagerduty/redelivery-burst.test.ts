// 500 distinct events, each delivered 10 times, shuffled, 8 at a time, on SQLite and on PostgreSQL: 500 stored, 500 processed, each trigger run once.
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/app.js';
import { BACKEND_KINDS } from '../../helpers/backends.js';
import { startHarness, triggeredBody, type Harness } from './pd-harness.js';

let h: Harness<Backend> | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const EVENTS = 500;
const COPIES = 10;
const CONCURRENCY = 8;

/** A seeded shuffle, so a failure can be replayed. */
function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed;
  const rand = (): number => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('redelivery under load', () => {
    it('stores, processes and triggers each distinct event exactly once', async () => {
      h = await startHarness({ backend });
      const events = Array.from({ length: EVENTS }, (_, i) => {
        const pdId = `PBURST${String(i).padStart(4, '0')}`;
        return { pdId, body: triggeredBody(pdId, { id: `evt-burst-${i}` }), webhookId: `wh-burst-${i}` };
      });
      // Some copies come without X-Webhook-Id: the event id alone must still deduplicate them.
      const deliveries = shuffle(
        events.flatMap((e) =>
          Array.from({ length: COPIES }, (_, copy) => {
            const headers: Record<string, string> = copy % 3 === 0 ? {} : { 'x-webhook-id': e.webhookId };
            return { ...e, headers };
          }),
        ),
        20_260_501,
      );
      const statuses: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < deliveries.length) {
            const d = deliveries[next++]!;
            statuses.push((await h!.deliver(d.body, d.headers)).status);
          }
        }),
      );
      expect(statuses.filter((s) => s === 202)).toHaveLength(EVENTS);
      expect(statuses.filter((s) => s === 200)).toHaveLength(EVENTS * (COPIES - 1));

      await h.settle();
      expect(await h.app.store.pagerdutyEvents.countByState()).toEqual({ pending: 0, applied: 0, processed: EVENTS, ignored: 0, failed: 0 });
      expect(await h.query("SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'pagerduty.incident.triggered'")).toEqual([{ n: EVENTS }]);
      expect(await h.query('SELECT COUNT(*) AS n, COUNT(DISTINCT pagerduty_id) AS d FROM incidents')).toEqual([{ n: EVENTS, d: EVENTS }]);
      expect(await h.query("SELECT COUNT(*) AS n, COUNT(DISTINCT incident_id) AS d FROM runs WHERE source = 'pagerduty' AND state = 'succeeded'")).toEqual(
        [{ n: EVENTS, d: EVENTS }],
      );
      expect(await h.query("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM pagerduty_trigger_runs WHERE outcome = 'started'")).toEqual([
        { n: EVENTS, d: EVENTS },
      ]);
      // Each diagnostic really executed once per event, not merely recorded once.
      const ran = h.ran();
      expect(ran).toHaveLength(EVENTS);
      expect(new Set(ran)).toEqual(new Set(events.map((e) => `${e.pdId} triggered`)));
      expect((await h.app.store.audit.verify()).ok).toBe(true);
    }, 120_000);
  });
});
