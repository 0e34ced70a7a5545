// Two real `edgeops serve` replicas on one PostgreSQL database: one audit chain, each PagerDuty event once, a channel's messages in order.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../../helpers/postgres.js';
import { PACKAGE_ROOT, runCli } from '../../helpers/run-cli.js';
import { DIAG_ECHO, post as postWebhook, sign, triggeredBody } from '../pagerduty/pd-harness.js';
import { queryDatabase, slashCommand } from './replica-commands.js';
import { startReplicaPair, type RecordingSlackApi, type Replica, type ReplicaPair } from './replica-processes.js';

let pair: ReplicaPair;
let db: TestDatabase;
let dir: string;
let api: RecordingSlackApi;
let replicas: Replica[] = [];

const query = <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> => queryDatabase<R>(db.url, sql, params);
const command = (replica: Replica, text: string, channel?: string): Promise<string> => slashCommand(api, replica, '/incident', text, channel);

beforeAll(async () => {
  // Started together: the migrations run once, under their advisory lock.
  pair = await startReplicaPair({ label: 'replicas', procedures: { 'diag-echo': DIAG_ECHO } });
  ({ db, dir, api, replicas } = pair);
}, 60_000);

afterAll(() => pair.stop());

describe('two edgeops serve replicas on one PostgreSQL database', () => {
  it('migrated the database once although both started together, and both serve', async () => {
    const files = readdirSync(path.join(PACKAGE_ROOT, 'migrations', 'postgres')).filter((f) => /^\d{4}_.*\.sql$/.test(f));
    const applied = await query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(applied.map((r) => Number(r.version))).toEqual(files.map((f) => Number(f.slice(0, 4))).sort((x, y) => x - y));
    for (const r of replicas) expect((await fetch(`${r.url}/healthz`)).status).toBe(200);
  });

  it('keeps one gapless audit chain while signed Slack commands alternate between them', async () => {
    const [a, b] = replicas as [Replica, Replica];
    expect(await command(a, 'declare Checkout errors sev=2 service=checkout')).toContain('INC-1 declared');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => command(i % 2 === 0 ? a : b, `note incident=INC-1 note ${i}`)));
    expect(answers.filter((t) => !t.includes('Noted on INC-1.'))).toEqual([]);
    expect(await command(b, 'ack incident=INC-1')).toContain('INC-1');

    const seqs = (await query<{ seq: string }>('SELECT seq FROM audit_log ORDER BY seq')).map((r) => Number(r.seq));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const notes = await query<{ n: string }>("SELECT COUNT(*) AS n FROM audit_log WHERE kind = 'incident.note' AND incident_id = 'INC-1'");
    expect(Number(notes[0]!.n)).toBe(20);
    const verified = await runCli(['audit', 'verify'], { env: { EDGEOPS_DATABASE_URL: db.url, EDGEOPS_AUDIT_KEY: 'k'.repeat(64) } });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`${seqs.length}`);
  });

  it('processes a PagerDuty event delivered 10 times over both replicas once: one incident, one run', async () => {
    const body = triggeredBody('PREPL01', { id: 'evt-replicas-1' });
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postWebhook(`${replicas[i % 2]!.url}/webhooks/pagerduty`, body, { 'x-pagerduty-signature': sign(body) })),
    );
    // Stored once: one delivery is accepted, every other one answered as the duplicate it is, on either replica.
    expect(statuses.map((s) => s.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    expect(statuses.filter((s) => s.status === 200).every((s) => s.body.includes('"duplicate"'))).toBe(true);
    await expect
      .poll(async () => (await query<{ state: string }>("SELECT state FROM pagerduty_events WHERE event_id = 'evt-replicas-1'")).map((r) => r.state), {
        timeout: 20_000,
      })
      .toEqual(['processed']);
    const incidents = await query<{ id: string }>("SELECT id FROM incidents WHERE pagerduty_id = 'PREPL01'");
    expect(incidents).toHaveLength(1);
    await expect
      .poll(async () => (await query<{ state: string }>('SELECT state FROM runs WHERE incident_id = $1', [incidents[0]!.id])).map((r) => r.state), {
        timeout: 20_000,
      })
      .toEqual(['succeeded']);
    const ran = path.join(dir, 'commands', 'out', 'ran');
    const lines = existsSync(ran) ? readFileSync(ran, 'utf8').trim().split('\n') : [];
    expect(lines.filter((l) => l.startsWith('PREPL01'))).toEqual(['PREPL01 triggered']);
  });

  it("posts one channel's notes in the order they were recorded, whichever replica took each", async () => {
    const [a, b] = replicas as [Replica, Replica];
    expect(await command(a, 'declare Search slow sev=3 service=search')).toContain('declared');
    const incident = (await query<{ id: string; channel_id: string | null }>("SELECT id, channel_id FROM incidents WHERE title = 'Search slow'"))[0]!;
    for (let i = 0; i < 12; i += 1) await command(i % 2 === 0 ? b : a, `note incident=${incident.id} ordered ${i}`);
    await expect
      .poll(
        async () => {
          const channel = (await query<{ channel_id: string | null }>('SELECT channel_id FROM incidents WHERE id = $1', [incident.id]))[0]!.channel_id;
          return channel === null ? [] : api.posted(channel).filter((t) => t.includes('ordered '));
        },
        { timeout: 30_000 },
      )
      .toHaveLength(12);
    const channel = (await query<{ channel_id: string }>('SELECT channel_id FROM incidents WHERE id = $1', [incident.id]))[0]!.channel_id;
    const order = api.posted(channel).flatMap((t) => /ordered (\d+)/.exec(t)?.[1] ?? []);
    expect(order).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
  }, 60_000);
});
