// A PagerDuty-opened incident names its triggering event, through real `edgeops serve` on SQLite and on PostgreSQL: timeline, receipts, export.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, readRows, type BackendKind } from '../../helpers/backends.js';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { runCli, spawnCli } from '../../helpers/run-cli.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { eventBody, harnessEnv, incidentData, post, sign, triggeredBody, writeCatalog } from './pd-harness.js';

let database: TestDatabase | undefined;

afterEach(async () => {
  removeTempDirs();
  await database?.drop();
  database = undefined;
});

const PD_INCIDENT = 'PNAMED1';

interface Receipt {
  received_seq: number;
  event_id: string;
  event_type: string;
  state: string;
  incident_id: string | null;
}

/** The bot's environment for `dir`: its SQLite file, or (on PostgreSQL) a fresh database of its own. */
async function botEnv(backend: BackendKind, dir: string): Promise<Record<string, string>> {
  const env = harnessEnv(dir);
  if (backend === 'sqlite') return env;
  database = await testDatabase('pd_named');
  return { ...env, EDGEOPS_DATABASE_URL: database.url };
}

/** Rows of `sql` read beside the running bot, from whichever store it was started on. */
function readOnly<T>(env: Record<string, string | undefined>, sql: string): Promise<T[]> {
  const url = env.EDGEOPS_DATABASE_URL;
  const file = env.EDGEOPS_DB;
  if (url === undefined && file === undefined) throw new Error('the bot has neither EDGEOPS_DATABASE_URL nor EDGEOPS_DB');
  return readRows<T>(url === undefined ? { file: file! } : { url }, sql);
}

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  describe('an incident PagerDuty opened', () => {
    it('names the triggering event and its agent on its first timeline entry, links every receipt of its events, and says so in the export', async () => {
      const dir = makeTempDir('pd-trigger-named');
      writeCatalog(dir, {});
      const env = await botEnv(backend, dir);
      const child = spawnCli(['serve'], { env });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr!.resume();
      const closed = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
      try {
        await expect.poll(() => /http\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { timeout: 15_000 }).toBeTruthy();
        const hook = `${/http\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!}/webhooks/pagerduty`;
        const deliver = (body: string) => post(hook, body, { 'x-pagerduty-signature': sign(body) });

        const bodies = [
          triggeredBody(PD_INCIDENT, { id: 'evt-trigger-1', agent: 'Ada Oncall', agentId: 'PADA001' }),
          // A type edgeops does not act on: ignored, but still about this incident.
          eventBody('incident.conference_bridge.updated', { id: PD_INCIDENT, type: 'incident' }, { id: 'evt-bridge-1', agent: 'Bob Responder' }),
          eventBody('incident.acknowledged', incidentData(PD_INCIDENT), { id: 'evt-ack-1', agent: 'Bob Responder', agentId: 'PBOB001' }),
          eventBody('incident.resolved', incidentData(PD_INCIDENT, { status: 'resolved' }), { id: 'evt-resolve-1', agent: 'Bob Responder' }),
        ];
        for (const body of bodies) expect((await deliver(body)).status).toBe(202);
        // Processing runs in the background; the stored receipts say when it is done.
        await expect
          .poll(
            async () => (await readOnly<{ n: number }>(env, "SELECT COUNT(*) AS n FROM pagerduty_events WHERE state NOT IN ('pending', 'applied')"))[0]!.n,
            {
              timeout: 15_000,
            },
          )
          .toBe(bodies.length);

        const receipts = await readOnly<Receipt>(
          env,
          'SELECT received_seq, event_id, event_type, state, incident_id FROM pagerduty_events ORDER BY received_seq',
        );
        expect(receipts.map(({ event_id, state, incident_id }) => ({ event_id, state, incident_id }))).toEqual([
          { event_id: 'evt-trigger-1', state: 'processed', incident_id: 'INC-1' },
          { event_id: 'evt-bridge-1', state: 'ignored', incident_id: 'INC-1' },
          { event_id: 'evt-ack-1', state: 'processed', incident_id: 'INC-1' },
          { event_id: 'evt-resolve-1', state: 'processed', incident_id: 'INC-1' },
        ]);

        const [first] = await readOnly<{ kind: string; actor: string; payload: string }>(
          env,
          "SELECT kind, actor, payload FROM audit_log WHERE incident_id = 'INC-1' ORDER BY seq LIMIT 1",
        );
        expect(first).toMatchObject({ kind: 'incident.declared', actor: 'pagerduty:Checkout API' });
        expect(JSON.parse(first!.payload)).toMatchObject({
          pagerduty_id: PD_INCIDENT,
          pagerduty_event: 'evt-trigger-1',
          pagerduty_received_seq: receipts[0]!.received_seq,
          on_behalf_of: 'Ada Oncall',
          pagerduty_agent: 'PADA001',
          pagerduty_occurred_at: '2026-05-01T09:00:00.000Z',
        });
      } finally {
        child.stdin!.end();
        child.kill('SIGTERM');
      }
      expect(await closed).toBe(0);

      const file = path.join(dir, 'INC-1.md');
      const exported = await runCli(['export', 'INC-1', '--format', 'md', '--out', file], { env });
      expect(exported.code).toBe(0);
      const timelineRows = readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => /^\| \d{4}-/.test(line));
      expect(timelineRows[0]).toContain(
        'declared "Errors on Checkout API" (SEV2, service Checkout API, PagerDuty PNAMED1); triggered in PagerDuty by Ada Oncall at 2026-05-01T09:00:00.000Z (event evt-trigger-1)',
      );
      expect(timelineRows.filter((line) => line.includes('triggered in PagerDuty'))).toHaveLength(1);
      expect((await runCli(['audit', 'verify'], { env })).code).toBe(0);
    });

    it('does not claim a PagerDuty trigger for an incident declared by a person', async () => {
      const dir = makeTempDir('pd-trigger-none');
      writeCatalog(dir, {});
      const env = await botEnv(backend, dir);
      const declared = await runCli(['console', '--as', 'U0SRE0001'], { env, input: '/incident declare "Disk full on db-3" sev=2\n' });
      expect(declared.code).toBe(0);
      const file = path.join(dir, 'INC-1.md');
      expect((await runCli(['export', 'INC-1', '--format', 'md', '--out', file], { env })).code).toBe(0);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('declared "Disk full on db-3" (SEV2)');
      expect(text).not.toContain('triggered in PagerDuty');
    });
  });
});
