// Just before a run executes — approved or never held — its requester is decided again and its scripts checked: real SQLite and PostgreSQL, real processes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/core/commands/command-context.js';
import { BACKEND_KINDS } from '../../helpers/backends.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { makeRunFixtureOn, type BackendRunFixture } from './run-fixture.js';

let f: BackendRunFixture;

/** A developer through the S0DEVS Slack group only, as the Slack listeners hand them over. */
const slackDev: CommandContext = { actor: { id: 'U0OTHER01', groups: ['S0DEVS'] }, source: 'slack', channelId: 'C0GENERAL' };

/** A group directory whose answer the test gives once the run waits for it. */
function heldDirectory(): { answer: (groups: string[]) => void; asked: string[] } {
  const asked: string[] = [];
  const waiting: Array<(groups: string[]) => void> = [];
  const answers: string[][] = [];
  f.app.useGroupDirectory((userId) => {
    asked.push(userId);
    return new Promise((resolve) => (answers.length > 0 ? resolve(answers.shift()!) : waiting.push(resolve)));
  });
  return {
    asked,
    answer: (groups) => {
      const next = waiting.shift();
      if (next) next(groups);
      else answers.push(groups);
    },
  };
}

async function rows(kind: string): Promise<Array<Record<string, unknown>>> {
  return (await f.query<{ payload: string }>('SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq', kind)).map(
    (r) => JSON.parse(r.payload) as Record<string, unknown>,
  );
}

const recorded = (): boolean => existsSync(path.join(f.commandsDir, 'out', 'args'));

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  beforeEach(async () => {
    f = await makeRunFixtureOn(backend, makeTempDir('recheck'));
  });

  afterEach(async () => {
    await f.app.runs.idle();
    await f.close();
    removeTempDirs();
  });

  describe('a run that needs no approval, just before it executes', () => {
    it('is denied when the policy in force by then no longer lets its requester run it', async () => {
      const directory = heldDirectory();
      expect(await f.say(slackDev, '/runbook', 'run echo-args msg=hello')).toMatch(/^R-1 started/);
      // While the run is between queued and running, the policy is edited and reloaded.
      const policy = path.join(f.dir, 'policies', 'test.yaml');
      writeFileSync(
        policy,
        readFileSync(policy, 'utf8').replace('procedures: [echo-args, slow, leaky, short-fuse]', 'procedures: [slow, leaky, short-fuse]'),
      );
      f.reloadCatalog();
      directory.answer(['S0DEVS']);
      await f.app.runs.idle();

      expect(directory.asked).toEqual(['U0OTHER01']);
      expect(await f.app.runs.get('R-1')).toMatchObject({
        state: 'denied',
        error: expect.stringContaining('the policy in force no longer lets U0OTHER01 run echo-args in staging'),
      });
      expect(recorded()).toBe(false);
      expect(await rows('run.started')).toHaveLength(0);
      expect(await rows('run.finished')).toEqual([
        expect.objectContaining({ state: 'denied', voided: expect.objectContaining({ check: 'policy', groups: ['S0DEVS'] }) }),
      ]);
    });

    it('is denied when the group directory says its requester has left the group that gave the role', async () => {
      const directory = heldDirectory();
      directory.answer([]);
      expect(await f.say(slackDev, '/runbook', 'run echo-args msg=hello')).toMatch(/^R-1 started/);
      await f.app.runs.idle();
      expect(await f.app.runs.get('R-1')).toMatchObject({ state: 'denied', error: expect.stringContaining('U0OTHER01 holds no role in the policy') });
      expect(recorded()).toBe(false);
    });

    it('is denied when a script it runs was replaced after the request', async () => {
      const directory = heldDirectory();
      expect(await f.say(slackDev, '/runbook', 'run echo-args msg=hello')).toMatch(/^R-1 started/);
      writeFileSync(path.join(f.commandsDir, 'scripts', 'record.sh'), '#!/bin/sh\nmkdir -p ./out && echo replaced > ./out/replaced\n');
      directory.answer(['S0DEVS']);
      await f.app.runs.idle();
      expect(await f.app.runs.get('R-1')).toMatchObject({
        state: 'denied',
        error: 'echo-args, its parameters or a program it runs changed after R-1 was requested; request it again',
      });
      expect(existsSync(path.join(f.commandsDir, 'out', 'replaced'))).toBe(false);
    });

    it('keeps the groups a console requester asked with: the Slack directory is not theirs', async () => {
      const directory = heldDirectory();
      expect(await f.say(f.ctx('U0OTHER01', ['S0DEVS']), '/runbook', 'run echo-args msg=hello')).toMatch(/^R-1 started/);
      await f.app.runs.idle();
      expect(directory.asked).toEqual([]);
      expect((await f.app.runs.get('R-1')).state).toBe('succeeded');
      expect(recorded()).toBe(true);
    });
  });

  describe('a reload while runs wait for approval', () => {
    it('voids, with the reason recorded, a waiting run whose requester the group directory cannot answer for, and still checks the others', async () => {
      const a: CommandContext = { actor: { id: 'U0OTHER01', groups: ['S0DEVS'] }, source: 'slack', channelId: 'C0GENERAL' };
      const b: CommandContext = { actor: { id: 'U0OTHER02', groups: ['S0DEVS'] }, source: 'slack', channelId: 'C0GENERAL' };
      expect(await f.say(a, '/runbook', 'run guarded target=a env=prod')).toMatch(/^R-1 waits for approval/);
      expect(await f.say(b, '/runbook', 'run guarded target=b env=prod')).toMatch(/^R-2 waits for approval/);
      f.app.useGroupDirectory((userId) =>
        userId === 'U0OTHER01' ? Promise.reject(new Error('usergroups.users.list failed: ratelimited')) : Promise.resolve(['S0DEVS']),
      );

      expect((await f.app.runs.revalidateWaiting()).map((r) => r.id)).toEqual(['R-1']);
      expect(await f.app.runs.get('R-1')).toMatchObject({
        state: 'denied',
        error: 'R-1 could not be checked against the catalog in force (usergroups.users.list failed: ratelimited); request it again',
      });
      expect((await f.app.runs.get('R-2')).state).toBe('pending_approval');
      expect(await rows('run.approval_voided')).toEqual([
        expect.objectContaining({ run: 'R-1', check: 'unchecked', error: 'usergroups.users.list failed: ratelimited' }),
      ]);
    });
  });
});
