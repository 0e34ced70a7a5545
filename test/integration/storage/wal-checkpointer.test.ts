// Background checkpoints: commits only append to the log; a worker thread copies it into the database file.
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createIncidentService } from '../../../src/core/incidents/incident-service.js';
import { Store } from '../../../src/storage/store.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'k'.repeat(64);
const clock = { now: () => Date.parse('2026-05-01T09:00:00Z') };
const by = { actor: { id: 'U0ONCALL1', groups: [] }, source: 'slack' as const };
/** Each note commits about seven pages, so this many take the log well past SQLite's 1,000-page checkpoint. */
const NOTES = 400;

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  removeTempDirs();
});

async function open(): Promise<{ store: Store; file: string; notes: (n: number) => Promise<void> }> {
  const file = path.join(makeTempDir('wal-checkpointer'), 'edgeops.db');
  const store = Store.create({ file, auditKey: KEY, clock });
  stores.push(store);
  const incidents = createIncidentService({ uow: store, audit: store.audit, incidents: store.incidents, outbox: store.outbox, clock });
  await incidents.declare(by, { title: 'Checkout errors' });
  return {
    store,
    file,
    notes: async (n) => {
      for (let i = 0; i < n; i += 1) await store.deferSync(async () => await incidents.note(by, 'INC-1', `probe ${i}: p99 at 180 ms`));
    },
  };
}

const size = (file: string): number => statSync(file).size;

/** This process's open descriptors on the database file, its log or its shared memory (Linux). */
const openOn = (file: string): string[] =>
  readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(file));

describe('background checkpoints', () => {
  it('leave a burst of commits in the log instead of copying it into the database file inside a commit', async () => {
    const { store, file, notes } = await open();
    const errors: Error[] = [];
    // A worker that would not come round during the test: whatever copying happens, the commits did it.
    store.checkpointInBackground({ everyMs: 60_000, onError: (err) => errors.push(err) });
    const before = size(file);
    await notes(NOTES);
    expect(size(`${file}-wal`)).toBeGreaterThan(1000 * 4096);
    expect(size(file)).toBe(before);
    expect(errors).toEqual([]);
  });

  it('copy the log into the database file from the worker, and the notes read back whole', async () => {
    const { store, file, notes } = await open();
    const errors: Error[] = [];
    store.checkpointInBackground({ everyMs: 20, onError: (err) => errors.push(err) });
    const before = size(file);
    await notes(NOTES);
    await store.durable();
    await expect.poll(() => size(file), { timeout: 10_000, interval: 20 }).toBeGreaterThan(before);
    expect(await store.audit.recentForIncident('INC-1', 1_000)).toHaveLength(NOTES + 1);
    expect((await store.audit.verify()).ok).toBe(true);
    expect(errors).toEqual([]);
  });

  it('close the worker connection with the store: nothing in the process keeps the database open, and its log is removed', async () => {
    const { store, file, notes } = await open();
    store.checkpointInBackground({ everyMs: 20, onError: () => undefined });
    const before = size(file);
    await notes(50);
    await store.durable();
    // The worker is up and has its own connection: it has copied the notes over.
    await expect.poll(() => size(file), { timeout: 10_000, interval: 20 }).toBeGreaterThan(before);
    store.close();
    // The log syncer lets its descriptor go once a sync in flight is done: the next turn, not never.
    await expect.poll(() => openOn(file), { timeout: 2_000, interval: 10 }).toEqual([]);
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = Store.create({ file, auditKey: KEY, clock });
    stores.push(reopened);
    expect(await reopened.audit.recentForIncident('INC-1', 100)).toHaveLength(51);
  });
});
