// Reminders and scheduled procedures against real SQLite and a fake clock; the cron tasks that call them.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consoleText } from '../../src/adapters/console/console-text.js';
import { runScheduled, startScheduler } from '../../src/adapters/scheduler/scheduler.js';
import type { ChatMessage } from '../../src/core/outbox/outbox.js';
import { createLogger } from '../../src/log.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';
import { makeRunFixture, POLICY, type RunFixture } from './runs/run-fixture.js';

const MIN = 60_000;
let f: RunFixture;
const logger = createLogger({ level: 'silent' });
const reminderKinds = () =>
  (f.app.store.db.prepare("SELECT payload FROM audit_log WHERE kind = 'incident.reminder' ORDER BY seq").all() as Array<{ payload: string }>).map(
    (r) => (JSON.parse(r.payload) as { reason: string }).reason,
  );

beforeEach(() => {
  f = makeRunFixture(makeTempDir('scheduler'));
});
afterEach(async () => {
  await f.app.runs.idle();
  f.app.close();
  removeTempDirs();
});

describe('status-update reminders', () => {
  it('give a silent SEV1 exactly one reminder at 15 minutes, and none after an update', async () => {
    await f.say(f.ctx('U0SRE0001'), '/incident', 'declare Checkout down sev=1');
    f.now.value += 14 * MIN;
    expect(await f.app.reminders.tick()).toEqual([]);
    f.now.value += MIN;
    expect((await f.app.reminders.tick()).map((r) => r.reason)).toEqual(['status_update']);
    f.now.value += 30_000;
    expect(await f.app.reminders.tick()).toEqual([]);
    expect(reminderKinds()).toEqual(['status_update']);

    await f.say(f.ctx('U0SRE0001', [], 'inc-1-checkout-down'), '/incident', 'update "rolling back" incident=INC-1');
    f.now.value += 14 * MIN;
    expect(await f.app.reminders.tick()).toEqual([]);
    expect(reminderKinds()).toEqual(['status_update']);

    const posted = await f.app.store.outbox.due('slack', Number.MAX_SAFE_INTEGER, 10);
    expect(posted).toHaveLength(1);
    const all = f.app.store.db.prepare("SELECT body FROM outbox WHERE body LIKE '%incident.reminder%'").all() as Array<{ body: string }>;
    const body = JSON.parse(all[0]!.body) as ChatMessage;
    expect(body.kind).toBe('incident.reminder');
    // The commander is stored as a reference, rendered per surface: here as the console shows it.
    expect(body.text).toContainEqual({ kind: 'user', id: 'U0SRE0001' });
    expect(consoleText(body.text)).toBe('⏰ INC-1 (SEV1) has had no status update for 15m 00s. <@U0SRE0001>: post one with /incident update <text>.');
    expect((await f.app.store.audit.verify()).ok).toBe(true);
  });

  it('follows the intervals set in the policy file', async () => {
    writeFileSync(path.join(f.dir, 'policies', 'test.yaml'), `${POLICY}reminders:\n  status_update: { sev3: 5m }\n  commander: off\n`);
    f.reloadCatalog();
    await f.say(f.ctx('U0SRE0001'), '/incident', 'declare Slow search');
    f.now.value += 5 * MIN;
    expect((await f.app.reminders.tick()).map((r) => r.reason)).toEqual(['status_update']);
  });
});

describe('scheduled procedures', () => {
  it('run as the scheduler principal through the policy, and are audited', async () => {
    appendFileSync(path.join(f.commandsDir, 'echo-args.yaml'), 'schedule:\n  - cron: "*/5 * * * *"\n    with: { msg: nightly }\n');
    writeFileSync(
      path.join(f.dir, 'policies', 'test.yaml'),
      POLICY.replace('  dev: {', '  robots: { scheduler: true }\n  dev: {') + '  - roles: [robots]\n    allow: [run]\n    procedures: [echo-args]\n',
    );
    f.reloadCatalog();
    const procedure = f.app.catalog().procedures.get('echo-args')!;
    await runScheduled(f.app, logger, procedure, procedure.schedule[0]!);
    await f.app.runs.idle();
    const run = await f.app.runs.get('R-1');
    expect(run).toMatchObject({ state: 'succeeded', requestedBy: 'scheduler', source: 'scheduler', params: { msg: 'nightly' } });
    const requested = (await f.app.store.audit.bySeq(1))!;
    expect(requested).toMatchObject({ kind: 'run.requested', actor: 'scheduler', source: 'scheduler' });
  });

  it('are refused like anyone else when no role lets the scheduler run them', async () => {
    appendFileSync(path.join(f.commandsDir, 'echo-args.yaml'), 'schedule:\n  - cron: "0 3 * * *"\n    with: { msg: nightly }\n');
    f.reloadCatalog();
    const procedure = f.app.catalog().procedures.get('echo-args')!;
    await runScheduled(f.app, logger, procedure, procedure.schedule[0]!);
    expect(await f.app.store.audit.bySeq(1)).toMatchObject({ kind: 'policy.denied', actor: 'scheduler' });
    expect(await f.app.runs.forIncident('none')).toEqual([]);
  });

  it('are registered as named cron tasks that never overlap', async () => {
    appendFileSync(path.join(f.commandsDir, 'echo-args.yaml'), 'schedule:\n  - cron: "30 2 * * *"\n    with: { msg: nightly }\n');
    f.reloadCatalog();
    const scheduler = startScheduler({ app: f.app, logger });
    try {
      expect(scheduler.tasks().sort()).toEqual(['approval-expiry', 'procedure:echo-args#0', 'reminders']);
    } finally {
      await scheduler.stop();
    }
  });
});
