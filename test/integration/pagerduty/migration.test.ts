// Migration 0003 on a database with data: incidents, log and outbox kept; the PagerDuty tables arrive empty and work.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createIncidentService } from '../../../src/core/incidents/incident-service.js';
import type { Outbox } from '../../../src/core/outbox/outbox.js';
import { migrationsDir } from '../../../src/paths.js';
import { readMigrations } from '../../../src/storage/migrate.js';
import { Store } from '../../../src/storage/store.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

afterEach(removeTempDirs);

const KEY = 'm'.repeat(64);
const clock = { now: () => Date.parse('2026-05-01T09:00:00Z') };

describe('0003_pagerduty', () => {
  it('applies over version 2 with data in place', async () => {
    const file = path.join(makeTempDir('pd-migrate'), 'edgeops.db');
    const all = readMigrations(migrationsDir());
    expect(all.find((m) => m.version === 3)?.name).toBe('pagerduty');

    const old = Store.create({ file, auditKey: KEY, clock, migrations: all.slice(0, 2) });
    // Outbox rows as that release wrote them: only the columns its migrations made.
    const insertOld = old.db.prepare('INSERT INTO outbox (cause_seq, target, channel, body, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    const oldOutbox: Outbox = {
      ...old.outbox,
      enqueue: async (item) => Number(insertOld.run(item.causeSeq, item.target, item.channel, JSON.stringify(item.body), 0, 0).lastInsertRowid),
    };
    const incidents = createIncidentService({ uow: old, audit: old.audit, incidents: old.incidents, outbox: oldOutbox, clock });
    await incidents.declare(
      { actor: { id: 'pagerduty:Checkout', groups: [], pagerdutyService: 'Checkout' }, source: 'pagerduty' },
      {
        title: 'Checkout down',
        pagerduty: { id: 'PMIG1', url: 'https://acme.pagerduty.com/incidents/PMIG1' },
      },
    );
    const before = { head: await old.audit.head(), outbox: await old.outbox.depth() };
    expect(() => old.db.prepare('SELECT * FROM pagerduty_events').all()).toThrow(/no such table/);
    old.close();

    const store = Store.create({ file, auditKey: KEY, clock });
    expect(store.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: all.at(-1)!.version });
    expect(await store.incidents.byPagerdutyId('PMIG1')).toMatchObject({ id: 'INC-1', title: 'Checkout down' });
    expect(await store.audit.head()).toEqual(before.head);
    expect(await store.outbox.depth()).toBe(before.outbox);
    expect((await store.audit.verify()).ok).toBe(true);
    expect(await store.pagerdutyEvents.countByState()).toEqual({ pending: 0, applied: 0, processed: 0, ignored: 0, failed: 0 });

    // The new tables take an event and its trigger record, and keep each unique.
    await store.transaction(async () => {
      const receipt = await store.audit.append({
        actor: 'pagerduty:Checkout',
        source: 'pagerduty',
        kind: 'pagerduty.incident.acknowledged',
        payload: { event_id: 'E1' },
      });
      const base = {
        eventType: 'incident.acknowledged',
        pdIncidentId: 'PMIG1',
        serviceId: 'PS',
        serviceName: 'Checkout',
        agent: null,
        occurredAt: null,
        body: '{}',
        receivedAt: receipt.time,
        state: 'pending' as const,
        outcome: null,
      };
      await store.pagerdutyEvents.insert({ ...base, receivedSeq: receipt.seq, eventId: 'E1', webhookId: 'W1' });
      expect((await store.pagerdutyEvents.findDuplicate('E2', 'W1'))?.eventId).toBe('E1');
      await store.pagerdutyEvents.insertTriggerRun({
        eventId: 'E1',
        triggerKey: 'diag#0',
        procedure: 'diag',
        runId: null,
        outcome: 'refused',
        detail: null,
        at: 0,
      });
      await expect(
        store.pagerdutyEvents.insertTriggerRun({
          eventId: 'E1',
          triggerKey: 'diag#0',
          procedure: 'diag',
          runId: null,
          outcome: 'refused',
          detail: null,
          at: 0,
        }),
      ).rejects.toThrow(/UNIQUE/);
    });
    expect((await store.pagerdutyEvents.unfinished(10)).map((e) => e.eventId)).toEqual(['E1']);
    store.close();
  });
});
