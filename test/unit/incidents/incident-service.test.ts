// The incident service over in-memory ports: declare, note, resolve, each one audit row, projection and message landing together.
import { describe, expect, it } from 'vitest';
import { ConflictError, InputError } from '../../../src/errors.js';
import { coreServices } from '../../support/in-memory/core-services.js';

const IC = { actor: { id: 'U0IC00001', groups: [] }, source: 'slack' as const };
const POLICY = { roles: {}, rules: [] };

describe('the incident service over in-memory ports', () => {
  it('keeps the timeline of declare, note and resolve in order, with the projection and the channel messages beside it', async () => {
    const s = coreServices({ policy: POLICY });
    const declared = await s.incidents.declare(IC, { title: 'Checkout is slow', severity: 2, service: 'checkout' });
    expect(declared).toMatchObject({ id: 'INC-1', severity: 2, status: 'investigating', roles: { commander: IC.actor.id } });
    s.clock.advance(60_000);
    await s.incidents.note(IC, 'INC-1', 'p99 back under 300ms after the rollback');
    s.clock.advance(60_000);
    const resolved = await s.incidents.resolve(IC, 'INC-1', 'rolled back release 412');

    expect(resolved).toMatchObject({ status: 'resolved', summary: 'rolled back release 412', resolvedAt: declared.declaredAt + 120_000 });
    expect((await s.incidents.timeline('INC-1', 10)).map((e) => [e.kind, e.payload.text ?? e.payload.summary ?? e.payload.title])).toEqual([
      ['incident.declared', 'Checkout is slow'],
      ['incident.note', 'p99 back under 300ms after the rollback'],
      ['incident.resolved', 'rolled back release 412'],
    ]);
    expect(await s.store.incidents.get('INC-1')).toMatchObject({ status: 'resolved', lastUpdateAt: declared.declaredAt + 120_000 });
    expect(await s.incidents.listOpen()).toEqual([]);
    const messages = s.store.outboxItems();
    expect(messages.map((m) => [m.channel, (m.body as { kind: string }).kind])).toEqual([
      ['incident:INC-1', 'incident.declared'],
      ['incident:INC-1', 'incident.note'],
      ['incident:INC-1', 'incident.resolved'],
    ]);
    // Each message names the audit row that caused it, and the rows form a chain that verifies.
    expect(messages.map((m) => m.causeSeq)).toEqual([1, 2, 3]);
    expect(await s.store.audit.verify()).toMatchObject({ ok: true, count: 3 });
  });

  it('refuses a note on an unknown incident and an empty note, recording nothing', async () => {
    const s = coreServices({ policy: POLICY });
    await s.incidents.declare(IC, { title: 'Checkout is slow' });
    await expect(s.incidents.note(IC, 'INC-9', 'hello')).rejects.toThrow('INC-9 does not exist');
    await expect(s.incidents.note(IC, 'INC-1', '   ')).rejects.toThrow(InputError);
    expect(s.kinds()).toEqual(['incident.declared']);
    expect(s.store.outboxItems()).toHaveLength(1);
  });

  it('refuses to resolve a resolved incident again and leaves its timeline as it was', async () => {
    const s = coreServices({ policy: POLICY });
    await s.incidents.declare(IC, { title: 'Checkout is slow' });
    await s.incidents.resolve(IC, 'INC-1');
    await expect(s.incidents.resolve(IC, 'INC-1', 'again')).rejects.toThrow(ConflictError);
    expect(s.kinds()).toEqual(['incident.declared', 'incident.resolved']);
    expect((await s.store.incidents.get('INC-1'))!.summary).toBeNull();
  });

  it('takes back the whole change when a listener throws inside its transaction: no row, no projection change, no message', async () => {
    const s = coreServices({ policy: POLICY });
    await s.incidents.declare(IC, { title: 'Checkout is slow' });
    const before = await s.store.incidents.get('INC-1');
    await expect(
      s.store.uow.transaction(async () => {
        await s.incidents.note(IC, 'INC-1', 'lands with the rest or not at all');
        throw new Error('the rest failed');
      }),
    ).rejects.toThrow('the rest failed');
    expect(s.kinds()).toEqual(['incident.declared']);
    expect(await s.store.incidents.get('INC-1')).toEqual(before);
    expect(s.store.outboxItems()).toHaveLength(1);
  });

  it("makes verify name a row changed behind the log's back", async () => {
    const s = coreServices({ policy: POLICY });
    await s.incidents.declare(IC, { title: 'Checkout is slow' });
    await s.incidents.note(IC, 'INC-1', 'first note');
    s.store.tamper(2, (row) => (row.payloadText = row.payloadText.replace('first', 'forged')));
    expect(await s.store.audit.verify()).toMatchObject({ ok: false, seq: 2, reason: 'hash does not match the row (altered, or another key)' });
  });
});
