// Procedure runs through /runbook: policy, approvals, leases, timeouts, secrets — real processes, on real SQLite and on PostgreSQL.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';
import { BACKEND_KINDS } from '../../helpers/backends.js';
import { makeRunFixtureOn, PROCEDURES, type BackendRunFixture } from './run-fixture.js';

let f: BackendRunFixture;
const dev = () => f.ctx('U0DEV0001');
const sre = (n = 1) => f.ctx(`U0SRE000${n}`);

async function kinds(): Promise<string[]> {
  return (await f.query<{ kind: string }>('SELECT kind FROM audit_log ORDER BY seq')).map((r) => r.kind);
}
const count = async (kind: string): Promise<number> => (await kinds()).filter((k) => k === kind).length;

async function settle(): Promise<void> {
  await f.app.runs.idle();
}

describe.each(BACKEND_KINDS)('on %s', (backend) => {
  beforeEach(async () => {
    f = await makeRunFixtureOn(backend, makeTempDir('runs'), { env: { TEST_CANARY: 'canary-7f3a9c51e2' } });
  });

  afterEach(async () => {
    await settle();
    await f.close();
    removeTempDirs();
  });

  describe('/runbook run', () => {
    it('runs a permitted procedure, records each step before it runs, and posts the result', async () => {
      expect(await f.say(dev(), '/runbook', 'run echo-args msg="hello world"')).toBe(
        'R-1 started: echo-args in staging. Results will be posted in this channel.',
      );
      await settle();
      const run = await f.app.runs.get('R-1');
      expect(run.state).toBe('succeeded');
      expect(readFileSync(path.join(f.commandsDir, 'out', 'args'), 'utf8')).toBe('hello world\0');
      expect(await kinds()).toEqual(['run.requested', 'run.started', 'run.step_started', 'run.step_finished', 'run.finished']);
      const requested = (await f.app.store.audit.bySeq(1))!;
      expect(requested.payload).toMatchObject({ run: 'R-1', params: { msg: 'hello world' }, authorized: { policy_hash: f.app.catalog().policyHash } });
      const posted = await f.app.store.outbox.due('slack', Number.MAX_SAFE_INTEGER, 10);
      expect(posted.map((p) => p.channel)).toEqual(['C0GENERAL']);
      expect((await f.app.store.audit.verify()).ok).toBe(true);
    });

    it('passes hostile values as exactly one argv element, never through a shell', async () => {
      const values = ['; touch PWNED', '$(touch PWNED)', '`touch PWNED`', 'a\nb', 'a --help', 'it\'s "quoted"', 'x'.repeat(10_000)];
      for (const value of values) {
        const escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
        expect(await f.say(dev(), '/runbook', `run echo-args msg="${escaped}"`)).toMatch(/started/);
        await settle();
        expect(readFileSync(path.join(f.commandsDir, 'out', 'args'), 'utf8')).toBe(`${value}\0`);
      }
      expect(readdirSync(f.commandsDir)).not.toContain('PWNED');
      expect(existsSync(path.join(f.dir, 'PWNED'))).toBe(false);
    });

    it('refuses bad input before anything runs', async () => {
      const cases: Array<[string, RegExp]> = [
        ['run echo-args msg=--help', /\{\{msg\}\} is "--help", which would begin an argument with "-"/],
        ['run nope', /there is no procedure "nope"/],
        ['run echo-args', /msg.*required/],
        ['run echo-args msg=x colour=red', /unknown parameter "colour"/],
        ['run echo-args msg=x env=prod', /does not run in "prod"; it runs in staging/],
        ['run echo-args hello', /parameters are key=value pairs/],
        ['run slow seconds=0', /seconds: 0 is below the minimum 1/],
        ['run leaky token=abc', /token is a secret/],
      ];
      for (const [text, message] of cases) expect(await f.say(dev(), '/runbook', text), text).toMatch(message);
      expect(await kinds()).toEqual([]);
    });

    it('records a policy refusal with the rules and policy hash, and runs nothing', async () => {
      expect(await f.say(f.ctx('U0NOBODY1'), '/runbook', 'run echo-args msg=x')).toMatch(
        /NotAllowedError: you may not run echo-args in staging: U0NOBODY1 holds no role/,
      );
      const event = (await f.app.store.audit.bySeq(1))!;
      expect(event.kind).toBe('policy.denied');
      expect(event.payload).toMatchObject({ action: 'run', procedure: 'echo-args', effect: 'deny', policy_hash: f.app.catalog().policyHash });
      expect(await f.app.runs.forIncident('INC-1')).toEqual([]);
    });

    it('dry-run shows the decision, the resolved argv and the approval a real run needs, and runs nothing', async () => {
      const text = await f.say(dev(), '/runbook', 'run guarded target=a env=prod --dry-run');
      expect(text).toContain('Dry run of guarded in prod (target=a): nothing was run.');
      expect(text).toContain('argv ["/bin/sh","-c","mkdir -p ./out && echo ran >> ./out/guarded-$0","a"]');
      expect(text).toContain('A real run would need 1 approval from sre, within 10m (never yours).');
      await settle();
      expect(existsSync(path.join(f.commandsDir, 'out', 'guarded-a'))).toBe(false);
      expect(await kinds()).toEqual(['run.dry_run']);
    });

    it('kills the whole run at its timeout', async () => {
      await f.say(dev(), '/runbook', 'run short-fuse');
      await settle();
      expect(await f.app.runs.get('R-1')).toMatchObject({ state: 'timed_out', error: 'the run exceeded its timeout of 1s' });
    });
  });

  describe('approvals', () => {
    async function request(): Promise<void> {
      expect(await f.say(dev(), '/runbook', 'run guarded target=a env=prod')).toBe(
        'R-1 waits for approval: guarded in prod needs 1 approval from sre, within 10m. The request is posted in this channel.',
      );
    }
    const marker = () => path.join(f.commandsDir, 'out', 'guarded-a');
    const ran = () => (existsSync(marker()) ? readFileSync(marker(), 'utf8').split('\n').filter(Boolean).length : 0);

    it('holds the run, posts the request, and runs once an approver approves', async () => {
      await request();
      expect((await f.app.runs.get('R-1')).state).toBe('pending_approval');
      const posted = (await f.app.store.outbox.due('slack', Number.MAX_SAFE_INTEGER, 10)).map((i) => i.body as { kind: string; data: { runId: string } });
      expect(posted).toEqual([expect.objectContaining({ kind: 'run.approval_requested', data: { runId: 'R-1', actions: ['approve', 'deny'] } })]);
      expect(await f.say(sre(), '/runbook', 'approve R-1')).toBe('Approved R-1; it is starting.');
      await settle();
      expect((await f.app.runs.get('R-1')).state).toBe('succeeded');
      expect(ran()).toBe(1);
      expect(await kinds()).toEqual([
        'policy.approval_required',
        'run.requested',
        'run.approved',
        'run.started',
        'run.step_started',
        'run.step_finished',
        'run.finished',
      ]);
    });

    it('never lets the requester approve their own run', async () => {
      await request();
      expect(await f.say(dev(), '/runbook', 'approve R-1')).toBe('✗ NotAllowedError: you requested R-1; someone else must approve it');
      expect((await f.app.runs.get('R-1')).state).toBe('pending_approval');
      const recorded = await kinds();
      expect(recorded).toContain('policy.denied');
      expect(await f.app.store.audit.bySeq(recorded.lastIndexOf('policy.denied') + 1)).toMatchObject({
        kind: 'policy.denied',
        actor: 'U0DEV0001',
        payload: { action: 'approve', run: 'R-1', reason: 'the requester never approves their own run' },
      });
    });

    it('refuses an approver without the role, and records the refusal', async () => {
      await request();
      expect(await f.say(f.ctx('U0OTHER01', ['S0DEVS']), '/runbook', 'approve R-1')).toMatch(
        /NotAllowedError: you may not approve R-1: .*approving needs one of the roles sre/,
      );
      expect(await count('policy.denied')).toBe(1);
      expect((await f.app.runs.get('R-1')).state).toBe('pending_approval');
      expect(ran()).toBe(0);
    });

    it('refuses an expired approval and ends the run', async () => {
      await request();
      f.now.value += 10 * 60_000 + 1;
      expect(await f.say(sre(), '/runbook', 'approve R-1')).toMatch(/ConflictError: R-1 expired/);
      expect(await f.app.runs.get('R-1')).toMatchObject({ state: 'denied' });
      expect(await count('run.approval_expired')).toBe(1);
      await settle();
      expect(ran()).toBe(0);
    });

    it('voids the approval when the procedure changed after the request', async () => {
      await request();
      writeFileSync(path.join(f.commandsDir, 'guarded.yaml'), PROCEDURES.guarded!.replace('echo ran', 'echo changed'));
      f.reloadCatalog();
      expect(await f.say(sre(), '/runbook', 'approve R-1')).toMatch(/ConflictError: R-1 is void/);
      expect((await f.app.runs.get('R-1')).state).toBe('denied');
      await settle();
      expect(ran()).toBe(0);
    });

    it('voids the approval when the stored parameters were changed after it', async () => {
      await request();
      await f.query("UPDATE runs SET params = ? WHERE id = 'R-1'", JSON.stringify({ target: 'b' }));
      expect(await f.say(sre(), '/runbook', 'approve R-1')).toMatch(/ConflictError: R-1 is void/);
      await settle();
      expect(existsSync(path.join(f.commandsDir, 'out', 'guarded-b'))).toBe(false);
      expect(ran()).toBe(0);
    });

    it('runs once when two approvers race', async () => {
      await request();
      const answers = await Promise.all([f.say(sre(1), '/runbook', 'approve R-1'), f.say(sre(2), '/runbook', 'approve R-1')]);
      expect(answers.filter((a) => a === 'Approved R-1; it is starting.')).toHaveLength(1);
      expect(answers.filter((a) => /^✗ ConflictError: R-1 is (queued|running); only runs waiting for approval can be approved$/.test(a))).toHaveLength(1);
      await settle();
      expect(ran()).toBe(1);
      expect(await count('run.started')).toBe(1);
    });

    it('needs the counted number of distinct approvers', async () => {
      await f.say(dev(), '/runbook', 'run two-keys');
      expect(await f.say(sre(1), '/runbook', 'approve R-1')).toBe('Approved R-1 (1/2); it needs more approvals.');
      expect(await f.say(sre(1), '/runbook', 'approve R-1')).toBe('✗ ConflictError: you already approved R-1');
      expect((await f.app.runs.get('R-1')).state).toBe('pending_approval');
      expect(await f.say(sre(2), '/runbook', 'approve R-1')).toBe('Approved R-1; it is starting.');
      await settle();
      expect((await f.app.runs.get('R-1')).state).toBe('succeeded');
    });

    it('does not count an earlier approval whose approver a policy edit took out of the approver role, and records why', async () => {
      await f.say(dev(), '/runbook', 'run two-keys');
      expect(await f.say(sre(1), '/runbook', 'approve R-1')).toBe('Approved R-1 (1/2); it needs more approvals.');
      const policy = path.join(f.dir, 'policies', 'test.yaml');
      writeFileSync(
        policy,
        readFileSync(policy, 'utf8').replace('sre: { users: [U0SRE0001, U0SRE0002, U0SRE0003] }', 'sre: { users: [U0SRE0002, U0SRE0003] }'),
      );
      f.reloadCatalog();

      expect(await f.say(sre(2), '/runbook', 'approve R-1')).toBe('Approved R-1 (1/2); it needs more approvals.');
      await settle();
      expect((await f.app.runs.get('R-1')).state).toBe('pending_approval');
      expect(await count('run.started')).toBe(0);
      const rows = (await f.query<{ payload: string }>("SELECT payload FROM audit_log WHERE kind = 'run.approved' ORDER BY seq")).map(
        (r) => JSON.parse(r.payload) as Record<string, unknown>,
      );
      expect(rows[1]).toMatchObject({
        approvals: 1,
        needed: 2,
        complete: false,
        not_counted: [{ approver: 'U0SRE0001', reason: expect.stringContaining('U0SRE0001') }],
      });

      expect(await f.say(sre(3), '/runbook', 'approve R-1')).toBe('Approved R-1; it is starting.');
      await settle();
      expect((await f.app.runs.get('R-1')).state).toBe('succeeded');
    });

    it('counts both of two approvals given at once, and starts the run once', async () => {
      await f.say(dev(), '/runbook', 'run two-keys');
      const answers = await Promise.all([f.say(sre(1), '/runbook', 'approve R-1'), f.say(sre(2), '/runbook', 'approve R-1')]);
      expect(answers.sort()).toEqual(['Approved R-1 (1/2); it needs more approvals.', 'Approved R-1; it is starting.']);
      await settle();
      expect((await f.app.runs.get('R-1')).state).toBe('succeeded');
      expect(await count('run.started')).toBe(1);
    });

    it('ends the run on one deny', async () => {
      await request();
      expect(await f.say(sre(), '/runbook', 'deny R-1 not during the sale')).toBe('Denied R-1.');
      expect(await f.app.runs.get('R-1')).toMatchObject({ state: 'denied', error: 'denied by <@U0SRE0001>: not during the sale' });
      expect(await f.say(sre(2), '/runbook', 'approve R-1')).toMatch(/ConflictError: R-1 is denied/);
      await settle();
      expect(ran()).toBe(0);
    });
  });

  describe('concurrency and cancel', () => {
    it('refuses a second run of the same key, naming who holds it, until the first ends', async () => {
      await f.say(dev(), '/runbook', 'run slow seconds=30');
      await expect.poll(async () => (await f.app.runs.get('R-1')).pgid).not.toBeNull();
      expect(await f.say(sre(), '/runbook', 'run slow seconds=1')).toBe(
        '✗ ConflictError: slow-staging is busy: R-1 (started by <@U0DEV0001>, running) holds it; wait for it to finish or cancel it',
      );
      expect(await f.say(sre(), '/runbook', 'cancel R-1')).toBe('Cancelling R-1: its processes are being stopped.');
      await settle();
      expect((await f.app.runs.get('R-1')).state).toBe('cancelled');
      expect(await f.say(sre(), '/runbook', 'run slow seconds=1')).toMatch(/^R-2 started/);
    });

    it('refuses a run whose key a run of a private incident holds without naming that run, its requester or its state', async () => {
      expect(await f.say(dev(), '/incident', 'declare "Payroll export leaks" sev=2 --private')).toMatch(/^INC-1 declared/);
      expect(await f.say(dev(), '/runbook', 'run slow seconds=30 incident=INC-1')).toMatch(/^R-1 started/);
      await expect.poll(async () => (await f.app.runs.get('R-1')).pgid).not.toBeNull();
      const answer = await f.say(sre(2), '/runbook', 'run slow seconds=1');
      // Stopped before asserting, so a failure does not wait out the 30 seconds.
      expect(await f.say(dev(), '/runbook', 'cancel R-1')).toBe('Cancelling R-1: its processes are being stopped.');
      expect(answer).toBe('✗ ConflictError: slow-staging is busy: another run holds it; try again when it has finished');
      expect(answer).not.toMatch(/R-1|U0DEV0001|running/);
      expect(await f.query('SELECT count(*) AS n FROM runs')).toEqual([{ n: 1 }]);
    });

    it('lets only the requester or a permitted role cancel', async () => {
      await f.say(sre(), '/runbook', 'run slow seconds=30');
      await expect.poll(async () => (await f.app.runs.get('R-1')).state).toBe('running');
      expect(await f.say(dev(), '/runbook', 'cancel R-1')).toMatch(/NotAllowedError: you may not cancel R-1/);
      expect(await f.say(sre(), '/runbook', 'cancel R-1')).toMatch(/Cancelling R-1/);
    });
  });

  describe('secrets', () => {
    it('never shows a secret param in replies, messages, the database (a SQLite file and its WAL, or the rows of PostgreSQL), exports or status', async () => {
      await f.say(sre(), '/incident', 'declare Token leak drill');
      const inc = f.ctx('U0SRE0001', [], null);
      const reply = await f.say(inc, '/runbook', 'run leaky incident=INC-1');
      await settle();
      const run = await f.app.runs.get('R-1');
      expect(run.state).toBe('succeeded');
      expect((await f.app.runs.steps('R-1'))[0]!.output).toContain('token=[secret]');
      const status = await f.say(inc, '/runbook', 'status R-1');
      const exports = await Promise.all((['md', 'json', 'html'] as const).map((fmt) => f.app.exportFile('INC-1', fmt)));
      const seen = [
        reply,
        status,
        JSON.stringify(await f.app.store.outbox.due('slack', Number.MAX_SAFE_INTEGER, 100)),
        ...exports.map((file) => readFileSync(file, 'utf8')),
        await f.backend.rawText(),
      ].join('\n');
      expect(seen).toContain('[secret]');
      expect(seen).not.toContain('canary-7f3a9c51e2');
    });
  });

  describe('/runbook list and help', () => {
    it('shows each caller only what they may do', async () => {
      const devList = await f.say(dev(), '/runbook', 'list');
      expect(devList).toContain('Procedures you may run (6):');
      expect(devList).toContain(
        'guarded — Appends a line to a marker file (owner @test) — staging (not for you), prod (needs 1 approval from sre, within 10m)',
      );
      expect(await f.say(f.ctx('U0NOBODY1'), '/runbook', 'list')).toMatch(/NotAllowedError: you may not runbook.list/);
      const help = await f.say(f.ctx('U0DEV0001'), '/runbook', 'help');
      expect(help).toContain('/runbook run <name>');
      expect(help).not.toContain('/runbook approve');
      expect(await f.say(sre(), '/runbook', 'help')).toContain('/runbook approve <run-id>');
    });
  });
});
