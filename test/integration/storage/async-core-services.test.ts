// Core services on the async ports over real SQLite and PostgreSQL: concurrent operations that await between writes never interleave, and a throw after an await takes back every row.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/app.js';
import type { AuditLog } from '../../../src/core/audit/audit-log.js';
import { createIncidentService } from '../../../src/core/incidents/incident-service.js';
import { createPolicyAccess } from '../../../src/core/policy-access.js';
import type { By } from '../../../src/core/ports.js';
import { NotAllowedError } from '../../../src/errors.js';
import { BACKEND_KINDS, openTestBackend, type BackendKind, type TestBackend } from '../../helpers/backends.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'k'.repeat(64);
const clock = { now: () => Date.parse('2026-05-01T09:00:00Z') };
const IC: By = { actor: { id: 'U0IC00001', groups: [] }, source: 'slack' };
const OUTSIDER = { id: 'U0OUT0001', groups: [] };

const backends: TestBackend[] = [];
afterEach(async () => {
  for (const backend of backends.splice(0)) await backend.close();
  removeTempDirs();
});

/** A fresh store of `kind`, closed after the test. */
async function openStore(kind: BackendKind): Promise<{ store: Backend; backend: TestBackend }> {
  const backend = await openTestBackend(kind, { file: path.join(makeTempDir('async-core'), 'edgeops.db'), auditKey: KEY, clock, label: 'async_core' });
  backends.push(backend);
  return { store: backend.store, backend };
}

/** Lets everything else that is ready run: other operations' continuations, timers, I/O. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The store's audit log, yielding to everything else before each append: every write of a service follows an await. */
function yieldingAudit(audit: AuditLog): AuditLog {
  const yielding = Object.create(audit) as AuditLog;
  yielding.append = async (input) => {
    await turn();
    return audit.append(input);
  };
  return yielding;
}

async function services(kind: BackendKind) {
  const { store, backend } = await openStore(kind);
  const audit = yieldingAudit(store.audit);
  const incidents = createIncidentService({ uow: store, audit, incidents: store.incidents, outbox: store.outbox, clock });
  // Nobody may do anything: each request is a refusal recorded on the log by the access service.
  const access = createPolicyAccess({ uow: store, audit, policy: () => ({ policy: { roles: {}, rules: [] }, policyHash: 'h1' }) });
  return { store, backend, incidents, access };
}

const rows = (backend: TestBackend) =>
  backend.query<{
    seq: number;
    kind: string;
    prev_hash: string;
    hash: string;
  }>('SELECT seq, kind, prev_hash, hash FROM audit_log ORDER BY seq');

describe.each(BACKEND_KINDS)('core services on the async storage ports, on %s', (kind) => {
  it('keeps the audit chain gapless and each note with its projection and message under 50 concurrent operations from two services', async () => {
    const { store, backend, incidents, access } = await services(kind);
    await incidents.declare(IC, { title: 'Checkout is slow' });
    const operations = Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0
        ? incidents.note(IC, 'INC-1', `note ${i}`).then(() => 'noted')
        : access.require(OUTSIDER, 'slack', { action: 'incident.note', channel: 'C0OPS', incidentId: 'INC-1' }).then(
            () => 'allowed',
            (err: unknown) => (err instanceof NotAllowedError ? 'refused' : 'failed'),
          ),
    );
    const outcomes = await Promise.all(operations);

    expect(outcomes.filter((o) => o === 'noted')).toHaveLength(25);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(25);
    const log = await rows(backend);
    expect(log.map((r) => r.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    for (let i = 1; i < log.length; i += 1) expect(log[i]!.prev_hash).toBe(log[i - 1]!.hash);
    expect(log.filter((r) => r.kind === 'incident.note')).toHaveLength(25);
    expect(log.filter((r) => r.kind === 'policy.denied')).toHaveLength(25);
    // Each note's message names its own row: the row, the projection and the message committed together.
    const noteMessages = (
      await backend.query<{ seq: number; kind: string; body: string }>(
        'SELECT o.cause_seq AS seq, a.kind AS kind, o.body AS body FROM outbox o JOIN audit_log a ON a.seq = o.cause_seq',
      )
    ).filter((m) => (JSON.parse(m.body) as { kind?: unknown }).kind === 'incident.note');
    expect(noteMessages).toHaveLength(25);
    expect(noteMessages.every((m) => m.kind === 'incident.note')).toBe(true);
    expect(await store.audit.verify()).toMatchObject({ ok: true, count: 51 });
  });

  it('takes back every row of an operation that throws after an await: no audit row, no projection change, no message', async () => {
    const { store, backend } = await openStore(kind);
    let failNext = false;
    const incidents = createIncidentService({
      uow: store,
      audit: yieldingAudit(store.audit),
      incidents: store.incidents,
      outbox: store.outbox,
      clock: { now: () => clock.now() + (failNext ? 60_000 : 0) },
      // Told inside the transaction, after the row, the projection and the message were written.
      onRecorded: async () => {
        await turn();
        if (failNext) throw new Error('the mirror to PagerDuty could not be queued');
      },
    });
    await incidents.declare(IC, { title: 'Checkout is slow' });
    const before = await store.incidents.get('INC-1');
    const outboxBefore = await store.outbox.depth();
    failNext = true;

    await expect(incidents.note(IC, 'INC-1', 'lands with the rest or not at all')).rejects.toThrow('the mirror to PagerDuty could not be queued');

    expect((await rows(backend)).map((r) => r.kind)).toEqual(['incident.declared']);
    expect(await store.incidents.get('INC-1')).toEqual(before);
    expect(await store.outbox.depth()).toBe(outboxBefore);
    // The next operation goes through as usual.
    failNext = false;
    await incidents.note(IC, 'INC-1', 'after the failure');
    expect((await rows(backend)).map((r) => r.kind)).toEqual(['incident.declared', 'incident.note']);
  });
});
