// A reminder that comes due while two real `edgeops serve` replicas run their schedulers on one PostgreSQL database is posted once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDatabase, slashCommand } from './replica-commands.js';
import { startReplicaPair, type ReplicaPair } from './replica-processes.js';

/**
 * A SEV1 is reminded after a second without a status update: whenever the incident is declared, the
 * reminder is due at the next minute's tick but one at the latest. Commanders are not asked for.
 */
const REMINDERS = `version: 1
reminders:
  status_update: { sev1: 1s }
  commander: off
`;

/**
 * Both replicas fire the minute's tick within the same second; a second reminder from the replica that
 * lost the claim would reach the stand-in within this long of the first. The next tick, whose reminder
 * is due again, is more than 50 s away.
 */
const SETTLE_MS = 5_000;

let pair: ReplicaPair;

beforeAll(async () => {
  pair = await startReplicaPair({ label: 'replica_reminder', files: { 'policies/reminders.yaml': REMINDERS } });
}, 60_000);

afterAll(() => pair.stop());

describe('a reminder due while two replicas run their schedulers', () => {
  it('is posted to the incident channel once, with one audit entry', async () => {
    const { api, db } = pair;
    const [a] = pair.replicas;
    expect(await slashCommand(api, a, '/incident', 'declare Payments down sev=1 service=payments')).toContain('INC-1 declared');
    const reminders = (): string[] =>
      api.calls
        .filter((c) => c.method === 'chat.postMessage' && String(c.args.text).includes('has had no status update'))
        .map((c) => String(c.args.channel));

    await expect.poll(reminders, { timeout: 75_000, interval: 200 }).toHaveLength(1);
    // Waited on purpose: a duplicate is the absence of a second message, which no event announces.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

    const [incident] = await queryDatabase<{ channel_id: string }>(db.url, "SELECT channel_id FROM incidents WHERE id = 'INC-1'");
    expect(reminders()).toEqual([incident!.channel_id]);
    const audit = await queryDatabase<{ source: string; reason: string }>(
      db.url,
      "SELECT source, payload::jsonb->>'reason' AS reason FROM audit_log WHERE kind = 'incident.reminder' AND incident_id = 'INC-1'",
    );
    expect(audit).toEqual([{ source: 'scheduler', reason: 'status_update' }]);
  }, 100_000);
});
