// 2,000 notes into one incident channel through two real `edgeops serve` replicas are posted to Slack once each, in the order the audit log recorded them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDatabase, slashCommand } from './replica-commands.js';
import { startReplicaPair, type ReplicaPair } from './replica-processes.js';

const NOTES = 2_000;
/** Commands in flight at once, as a busy incident's responders would send them. */
const IN_FLIGHT = 16;

let pair: ReplicaPair;

beforeAll(async () => {
  // The stand-in has no per-channel limit: at Slack's one post a second, 2,000 notes would take 33 minutes.
  pair = await startReplicaPair({ label: 'replica_notes', env: { EDGEOPS_SLACK_CHANNEL_PACE_MS: '0' } });
}, 60_000);

afterAll(() => pair.stop());

/** The note numbers in `texts`, in their order. */
const numbers = (texts: readonly string[]): number[] => texts.flatMap((t) => /bulk note (\d+)\b/.exec(t)?.[1] ?? []).map(Number);

describe('2,000 notes into one channel through both replicas', () => {
  it('are each posted once, in the order they were recorded', async () => {
    const started = Date.now();
    const { api, db } = pair;
    const [a, b] = pair.replicas;
    expect(await slashCommand(api, a, '/incident', 'declare Bulk notes sev=4 service=notes')).toContain('INC-1 declared');

    let next = 0;
    const refused: string[] = [];
    const sender = async (): Promise<void> => {
      while (next < NOTES) {
        const i = next;
        next += 1;
        const answer = await slashCommand(api, i % 2 === 0 ? a : b, '/incident', `note incident=INC-1 bulk note ${i}`);
        if (!answer.includes('Noted on INC-1.')) refused.push(`${i}: ${answer}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, sender));
    expect(refused).toEqual([]);
    const ackedMs = Date.now() - started;

    const recorded = await queryDatabase<{ text: string }>(
      db.url,
      "SELECT payload::jsonb->>'text' AS text FROM audit_log WHERE kind = 'incident.note' AND incident_id = 'INC-1' ORDER BY seq",
    );
    const order = numbers(recorded.map((r) => r.text));
    expect(order).toHaveLength(NOTES);
    expect(new Set(order).size).toBe(NOTES);

    const [incident] = await queryDatabase<{ channel_id: string | null }>(db.url, "SELECT channel_id FROM incidents WHERE id = 'INC-1'");
    const channel = incident!.channel_id!;
    expect(channel).toMatch(/^C0INC/);
    await expect.poll(() => numbers(api.posted(channel)).length, { timeout: 120_000, interval: 250 }).toBeGreaterThanOrEqual(NOTES);
    expect(numbers(api.posted(channel))).toEqual(order);
    const postedMs = Date.now() - started;
    console.info(`replica-notes: ${NOTES} notes acked in ${ackedMs} ms, all posted in order ${postedMs} ms after the first command`);
  }, 300_000);
});
