// Readers and writers made outside the store (transcript rows, the portal's sessions) wait for another caller's open transaction instead of landing in it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type ComposedApp } from '../../../src/app.js';
import { bootCatalog } from '../../../src/cli/bootstrap.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { collect } from '../../helpers/collect.js';

const catalog = bootCatalog({ policiesDir: path.resolve('policies'), commandsDir: path.resolve('commands') });
const ONCALL = { actor: { id: 'U0ONCALL1', groups: [] }, source: 'console' as const };

let dir: string;
let app: ComposedApp;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'edgeops-guarded-'));
  app = createApp({
    config: loadConfig({ EDGEOPS_DB: path.join(dir, 'edgeops.db') }, { cwd: dir }),
    logger: createLogger({ level: 'silent' }),
    auditKey: 'k'.repeat(64),
    catalog: () => catalog,
    env: { PATH: process.env.PATH },
  });
});

afterEach(() => {
  app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a transaction that writes through `write`, then waits for `release()` and throws: everything it wrote is rolled back. */
function doomedTransaction(write: () => Promise<unknown>): { settled: Promise<unknown>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const settled = app.store
    .transaction(async () => {
      await write();
      await held;
      throw new Error('taken back');
    })
    .catch((err: unknown) => err);
  return { settled, release };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('readers and writers outside the store while another caller holds a transaction', () => {
  it("reads an incident's transcript rows after the open transaction, never what it rolled back", async () => {
    const incident = await app.incidents.declare(ONCALL, { title: 'Disk full', severity: 3 });
    const doomed = doomedTransaction(() =>
      app.store.audit.append({ actor: 'U0ONCALL1', source: 'console', kind: 'incident.note', incidentId: incident.id, payload: { text: 'taken back' } }),
    );
    await turn();
    const reading = collect(app.store.audit.transcriptRows(incident.id));
    await turn();
    doomed.release();
    expect(await doomed.settled).toMatchObject({ message: 'taken back' });
    const rows = await reading;
    expect(rows.map((r) => r.kind)).toEqual(['incident.declared']);
  });

  it('keeps a sign-in link used while another transaction was open used when that transaction rolls back', async () => {
    const { token } = await app.portal.issueLink(ONCALL.actor, 'console');
    const doomed = doomedTransaction(() => app.store.audit.append({ actor: 'system', source: 'system', kind: 'test.doomed', payload: {} }));
    await turn();
    const redeemed = app.portal.redeemLink(token);
    await turn();
    doomed.release();
    await doomed.settled;
    expect(await redeemed).toMatchObject({ userId: 'U0ONCALL1' });
    await expect(app.portal.redeemLink(token)).rejects.toThrow('this sign-in link was already used');
  });
});
