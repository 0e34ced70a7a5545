// The daily audit anchor in Slack mode: the chain head reaches EDGEOPS_AUDIT_ANCHOR_CHANNEL once per UTC day, through the outbox, on the log.
import { afterEach, describe, expect, it } from 'vitest';
import { startScheduler, type Scheduler } from '../../src/adapters/scheduler/scheduler.js';
import { FORM, commandBody, post, signedHeaders } from '../fixtures/slack/slack-harness.js';
import { PACKAGE_ROOT, runCli } from '../helpers/run-cli.js';
import { AUDIT_KEY, startServe, type Served } from './slack-serve.js';

const ANCHOR_CHANNEL = 'C0ANCHOR01';
const SRE = 'U01SRE0001';
const DAY1_LATE = Date.parse('2026-03-04T23:50:00.000Z');
const DAY2_EARLY = Date.parse('2026-03-05T00:00:30.000Z');

let s: Served | undefined;
let scheduler: Scheduler | undefined;

afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  await s?.close();
  s = undefined;
});

const anchorPosts = (served: Served) => served.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === ANCHOR_CHANNEL);
/** What each `audit.anchored` row records: the head it anchored and where it was posted. */
const anchorRows = (served: Served) =>
  (served.app.store.db.prepare("SELECT payload FROM audit_log WHERE kind = 'audit.anchored' ORDER BY seq").pluck().all() as string[]).map(
    (payload) => JSON.parse(payload) as { seq: number; hash: string; channel: string },
  );

describe('the daily audit anchor', () => {
  it('posts the head to the anchor channel once per UTC day, records each posting, and the posted anchor verifies the log', async () => {
    const now = { value: DAY1_LATE };
    s = await startServe({ catalog: PACKAGE_ROOT, clock: { now: () => now.value }, config: { EDGEOPS_AUDIT_ANCHOR_CHANNEL: ANCHOR_CHANNEL } });
    const served = s;
    const body = commandBody(SRE, 'C0GENERAL1', '/incident', 'declare "Anchor check" sev=3');
    expect((await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) })).status).toBe(200);
    await served.server.drain();

    scheduler = startScheduler({ app: served.app, logger: served.app.logger });
    expect(scheduler.tasks()).toContain('audit-anchor');

    // Day 1: the first tick posts the head as it stands.
    const day1Head = await served.app.store.audit.head();
    expect(day1Head.seq).toBeGreaterThan(0);
    await scheduler.run('audit-anchor');
    await served.server.drain();
    expect(anchorPosts(served)).toHaveLength(1);
    const day1Ref = `${day1Head.seq}:${day1Head.hash}`;
    expect(anchorPosts(served)[0]!.args.text).toContain(`edgeops audit anchor for 2026-03-04: ${day1Ref}`);
    expect(anchorRows(served)).toEqual([{ seq: day1Head.seq, hash: day1Head.hash, channel: ANCHOR_CHANNEL }]);

    // Later the same day: nothing more, however often the task runs.
    now.value += 5 * 60_000;
    await scheduler.run('audit-anchor');
    await scheduler.run('audit-anchor');
    await served.server.drain();
    expect(anchorPosts(served)).toHaveLength(1);

    // Past midnight UTC: the next tick posts the new head (which now ends with day 1's anchor row).
    now.value = DAY2_EARLY;
    const day2Head = await served.app.store.audit.head();
    await scheduler.run('audit-anchor');
    await served.server.drain();
    expect(anchorPosts(served)).toHaveLength(2);
    const day2Ref = `${day2Head.seq}:${day2Head.hash}`;
    expect(anchorPosts(served)[1]!.args.text).toContain(`edgeops audit anchor for 2026-03-05: ${day2Ref}`);
    now.value += 23 * 3_600_000;
    await scheduler.run('audit-anchor');
    await served.server.drain();
    expect(anchorPosts(served)).toHaveLength(2);
    expect(anchorRows(served).map((r) => `${r.seq}:${r.hash}`)).toEqual([day1Ref, day2Ref]);

    // The posted anchor is what `audit verify --expect-head` checks a copy of the log against.
    await served.stop();
    const verified = await runCli(['audit', 'verify', '--db', served.dbPath, '--expect-head', day2Ref], { env: { EDGEOPS_AUDIT_KEY: AUDIT_KEY } });
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toContain(`anchored head ${day2Ref} is in the log`);
    expect(verified.code).toBe(0);
  });
});
