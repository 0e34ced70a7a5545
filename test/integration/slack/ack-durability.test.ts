// A slash command is answered only once what it wrote is on disk, and its channel message goes out after that too.
import { afterEach, describe, expect, it } from 'vitest';
import type { FileSyncer } from '../../../src/storage/wal-sync.js';
import { USERS, startHarness, type Harness } from '../../fixtures/slack/slack-harness.js';

const GENERAL = 'C0GENERAL1';
const json = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Holds the store's disk sync until `release`; `asked` counts who waited for it. */
function holdDiskSync(harness: Harness, outcome: () => Promise<void>): { release: () => void; asked: () => number } {
  const store = harness.app.store;
  const real = store.durable.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let asked = 0;
  store.durable = () => {
    asked += 1;
    return gate.then(outcome).then(real);
  };
  return { release, asked: () => asked };
}

/**
 * The log's syncer, held by the test once `hold()` is called: each sync covers the audit rows committed
 * before it started (`seq` read then), and they count as on disk only once the test finishes it.
 */
function heldLogSyncer(headSeq: () => number) {
  const pending: Array<{ seq: number; finish: () => void }> = [];
  let holding = false;
  let onDisk = 0;
  const syncer: FileSyncer = {
    sync: () => {
      const seq = headSeq();
      if (!holding) {
        onDisk = Math.max(onDisk, seq);
        return Promise.resolve();
      }
      return new Promise<void>((resolve) =>
        pending.push({
          seq,
          finish: () => {
            onDisk = Math.max(onDisk, seq);
            resolve();
          },
        }),
      );
    },
    syncNow: () => {
      onDisk = headSeq();
    },
    close: () => undefined,
  };
  return { syncer, pending, hold: () => (holding = true), onDisk: () => onDisk };
}

async function declared(harness: Harness): Promise<void> {
  const res = await harness.command(USERS.sre, GENERAL, '/incident', 'declare "Checkout is down" sev=2');
  expect(json(res.body)).toMatchObject({ text: expect.stringContaining('INC-1 declared') });
  await harness.server.drain();
}

describe('the answer to a slash command and the disk', () => {
  it('answers a note once it is on disk, not before, and posts it to the channel only after that', async () => {
    h = await startHarness();
    await declared(h);
    const posts = (): number => h!.slack.callsTo('chat.postMessage').length;
    const postedBefore = posts();
    const seq = h.state().auditSeq;
    const sync = holdDiskSync(h, async () => undefined);

    let answered = false;
    const reply = h.command(USERS.sre, GENERAL, '/incident', 'note incident=INC-1 "rollback started"').then((res) => {
      answered = true;
      return res;
    });
    // The note is committed and its answer is waiting for the disk.
    while (sync.asked() === 0) await turn();
    expect(h.state().auditSeq).toBe(seq + 1);
    for (let i = 0; i < 10; i += 1) await turn();
    expect(answered).toBe(false);
    expect(posts()).toBe(postedBefore);

    sync.release();
    const res = await reply;
    expect(res.status).toBe(200);
    expect(json(res.body)).toEqual({ response_type: 'ephemeral', text: 'Noted on INC-1.' });
    await h.server.drain();
    expect(h.slack.callsTo('chat.postMessage').slice(postedBefore).map((c) => c.args.text)).toEqual([expect.stringContaining('rollback started')]);
  });

  it('never answers a note before a log sync that began after its audit row was committed has finished', async () => {
    let harness: Harness | undefined;
    // Read at the moment the sync starts, from the connection itself: what is committed by then.
    const log = heldLogSyncer(
      () => (harness!.app.store.db.prepare('SELECT seq FROM audit_head WHERE id = 1').get() as { seq: number } | undefined)?.seq ?? 0,
    );
    h = harness = await startHarness({ logSyncer: () => log.syncer });
    await declared(h);
    log.hold();
    const answers: Array<{ text: string; onDisk: number }> = [];
    const send = (text: string) =>
      h!.command(USERS.sre, GENERAL, '/incident', `note incident=INC-1 "${text}"`).then((res) => {
        answers.push({ text, onDisk: log.onDisk() });
        return res;
      });
    const seqOf = (text: string): number =>
      (h!.app.store.db.prepare("SELECT seq FROM audit_log WHERE kind = 'incident.note' AND json_extract(payload, '$.text') = ?").get(text) as { seq: number }).seq;

    const first = send('first');
    while (log.pending.length < 1) await turn();
    // Committed while the first sync runs: that sync began before them and cannot cover them.
    const later = [send('second'), send('third')];
    while (h.state().auditSeq < seqOf('first') + 2) await turn();
    for (let i = 0; i < 10; i += 1) await turn();
    expect(answers).toEqual([]);

    log.pending[0]!.finish();
    expect(json((await first).body).text).toBe('Noted on INC-1.');
    for (let i = 0; i < 10; i += 1) await turn();
    expect(answers.map((a) => a.text)).toEqual(['first']);

    // The later syncs, oldest first, one at a time.
    for (let next = 1; answers.length < 3; next += 1) {
      while (log.pending.length <= next) await turn();
      log.pending[next]!.finish();
      for (let i = 0; i < 10; i += 1) await turn();
    }
    const responses = await Promise.all(later);
    expect(responses.map((r) => json(r.body).text)).toEqual(['Noted on INC-1.', 'Noted on INC-1.']);
    for (const a of answers) expect(seqOf(a.text)).toBeLessThanOrEqual(a.onDisk);
  });

  it('says it could not confirm the note was saved when the disk sync fails', async () => {
    h = await startHarness();
    await declared(h);
    const sync = holdDiskSync(h, async () => {
      throw new Error('EIO: i/o error, fdatasync');
    });
    sync.release();
    const res = await h.command(USERS.sre, GENERAL, '/incident', 'note incident=INC-1 "rollback started"');
    expect(res.status).toBe(200);
    expect(json(res.body)).toEqual({
      response_type: 'ephemeral',
      text: '⏳ edgeops could not confirm this was saved to disk; try again in a minute',
    });
  });

  it('leaves the sync to the answer only for commands that write nothing but rows, never for /runbook', async () => {
    h = await startHarness();
    await declared(h);
    const store = h.app.store;
    const deferred: string[] = [];
    const real = store.deferSync.bind(store);
    store.deferSync = <T>(work: () => Promise<T>): Promise<T> => {
      deferred.push('deferred');
      return real(work);
    };
    await h.command(USERS.sre, GENERAL, '/runbook', 'list');
    expect(deferred).toEqual([]);
    await h.command(USERS.sre, GENERAL, '/incident', 'note incident=INC-1 "rollback started"');
    expect(deferred).toEqual(['deferred']);
  });
});
