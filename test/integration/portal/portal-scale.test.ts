// The portal at size: 10,000 incidents page by keyset on an index, and a long timeline opens on one window with "load more".
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../helpers/run-cli.js';
import { sqlitePortalQueries } from '../../../src/storage/sqlite-portal-queries.js';
import { startServe, type Served } from '../../reliability/slack-serve.js';
import { ask, signIn } from '../../helpers/portal-client.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'private');
const DEV = 'U0DEV0001';

let s: Served | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Incident rows written straight to the table (the portal only reads them); every fifth resolved, every seventh private to someone else. */
function seedIncidents(x: Served, n: number): void {
  const insert = x.app.store.db.prepare(
    `INSERT INTO incidents (id, number, title, severity, status, service, private, channel_name, declared_by, declared_at, last_update_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  x.app.store.db.transaction(() => {
    for (let i = 1; i <= n; i += 1) {
      const at = Date.UTC(2026, 0, 1) + i * 60_000;
      insert.run(
        `INC-${i}`,
        i,
        `Seeded incident ${i}`,
        (i % 4) + 1,
        i % 5 === 0 ? 'resolved' : 'investigating',
        i % 2 ? 'checkout' : 'search',
        i % 7 === 0 ? 1 : 0,
        `inc-${i}`,
        i % 7 === 0 ? 'U0OTHER01' : DEV,
        at,
        at,
      );
    }
  })();
}

describe('portal at size', () => {
  it('pages through 10,000 incidents newest first by keyset, each incident once, private ones of others never', async () => {
    s = await startServe({ catalog: CATALOG });
    seedIncidents(s, 10_000);
    const read = sqlitePortalQueries(s.app.store.db);
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await read.incidents(
        { userId: DEV, allPrivate: false },
        { status: 'open', service: 'checkout' },
        { ...(before === undefined ? {} : { before }), limit: 500 },
      );
      seen.push(...page.incidents.map((i) => i.number));
      if (page.next === null) break;
      before = page.next;
    }
    const expected = Array.from({ length: 10_000 }, (_, k) => 10_000 - k).filter((i) => i % 5 !== 0 && i % 2 === 1 && i % 7 !== 0);
    expect(seen).toEqual(expected);
    // Each filter pages on an index rather than scanning the table.
    const plan = (sql: string) =>
      (s!.app.store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    expect(plan('SELECT * FROM incidents WHERE severity = 2 AND number < 500 ORDER BY number DESC LIMIT 51')).toMatch(/USING INDEX incidents_by_severity/);
    expect(plan("SELECT * FROM incidents WHERE service = 'checkout' AND number < 500 ORDER BY number DESC LIMIT 51")).toMatch(
      /USING INDEX incidents_by_service/,
    );
    expect(plan('SELECT * FROM incidents WHERE number < 500 ORDER BY number DESC LIMIT 51')).toMatch(/USING (INTEGER PRIMARY KEY|INDEX|COVERING INDEX)/);
    const user = await signIn(s, DEV);
    const first = await user.get('/portal/incidents?status=all');
    expect(first.body).toContain('INC-10000');
    expect(first.body).not.toContain('INC-9996<');
    const firstRows = [...first.body.matchAll(/>INC-(\d+)<\/a><\/th>/g)].map((m) => Number(m[1]));
    expect(firstRows).toHaveLength(50);
    const last = firstRows[firstRows.length - 1]!;
    expect(first.body).toContain(`href="/portal/incidents?status=all&amp;before=${last}"`);
    const second = await user.get(`/portal/incidents?status=all&before=${last}`);
    const secondRows = [...second.body.matchAll(/>INC-(\d+)<\/a><\/th>/g)].map((m) => Number(m[1]));
    expect(secondRows[0]).toBe(last - 1);
    // The seeded rows have no audit history: removed before the suite's closing audit check.
    s.app.store.db.prepare('DELETE FROM incidents').run();
  });

  it('opens a long timeline on its newest window and loads more by cursor, newest or oldest first', async () => {
    s = await startServe({ catalog: CATALOG });
    expect(await ask(s, DEV, 'C0GENERAL1', '/incident', 'declare "Long one" sev=3')).toMatch(/^INC-1 declared/);
    for (let i = 1; i <= 250; i += 1) await s.app.incidents.note({ actor: { id: DEV, groups: [] }, source: 'console' }, 'INC-1', `note number ${i}`);
    const user = await signIn(s, DEV);
    const newest = (await user.get('/portal/incident?id=INC-1')).body;
    expect(newest).toContain('note number 250');
    expect(newest).not.toContain('note number 150<');
    expect((newest.match(/<li id="ev-/g) ?? []).length).toBe(100);
    const more = /href="(\/portal\/incident\?id=INC-1&amp;order=newest&amp;cursor=\d+)"/.exec(newest)![1]!.replace(/&amp;/g, '&');
    const next = (await user.get(more)).body;
    expect(next).toContain('note number 150<');
    expect(next).not.toContain('note number 151<');
    const oldest = (await user.get('/portal/incident?id=INC-1&order=oldest')).body;
    expect(oldest.indexOf('declared')).toBeLessThan(oldest.indexOf('note number 1<'));
    expect(oldest).not.toContain('note number 250');
  });
});
