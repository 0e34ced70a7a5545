// A whole incident through the console stand-in for Slack, on a real SQLite file and on PostgreSQL, with a fake clock.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type Backend, type ComposedApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createConsoleSession, type ConsoleSession } from '../../src/adapters/console/console-session.js';
import { bootCatalog } from '../../src/cli/bootstrap.js';
import { createLogger } from '../../src/log.js';
import { BACKEND_KINDS, openTestBackend, type TestBackend } from '../helpers/backends.js';

const T0 = Date.parse('2026-03-04T10:00:00.000Z');
const catalog = bootCatalog({ policiesDir: path.resolve('policies'), commandsDir: path.resolve('commands') });

let dir: string;
let backend: TestBackend;
let app: ComposedApp<Backend>;
let now: number;
let out: string[];
let session: ConsoleSession;

async function type(...lines: string[]): Promise<string> {
  out = [];
  for (const line of lines) await session.handleLine(line);
  return out.join('\n');
}

async function auditHead(): Promise<number> {
  return (await app.store.audit.head()).seq;
}

describe.each(BACKEND_KINDS)('on %s', (kind) => {
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgeops-loop-'));
    now = T0;
    const clock = { now: () => now };
    backend = await openTestBackend(kind, { file: path.join(dir, 'edgeops.db'), auditKey: 'k'.repeat(64), clock, label: 'loop' });
    app = createApp({
      config: loadConfig({ EDGEOPS_DB: path.join(dir, 'edgeops.db') }, { cwd: dir }),
      logger: createLogger({ level: 'silent' }),
      auditKey: 'k'.repeat(64),
      clock,
      catalog: () => catalog,
      env: { PATH: process.env.PATH },
      exportsDir: path.join(dir, 'exports'),
      backend: backend.store,
    });
    session = createConsoleSession(app, { actor: { id: 'U0LOCAL01', groups: [] }, write: (t) => out.push(t) });
  });

  afterEach(async () => {
    app.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the local incident loop', () => {
    it('runs declare → resolve, posts in the incident channel, and exports a faithful transcript', async () => {
      const declared = await type('/incident declare Checkout errors after deploy sev=2 service=checkout');
      expect(declared).toContain('(only you) INC-1 declared (SEV2): Checkout errors after deploy. Channel #inc-1-checkout-errors-after-deploy');
      expect(declared).toContain('[#inc-1-checkout-errors-after-deploy] 📌 INC-1 declared by <@U0LOCAL01>');
      expect(session.prompt()).toBe('U0LOCAL01 #inc-1-checkout-errors-after-deploy> ');

      now += 60_000;
      expect(await type('/incident update "5xx at 12%, rolling back" status=identified')).toContain(
        '[#inc-1-checkout-errors-after-deploy] <@U0LOCAL01> status update [identified]: 5xx at 12%, rolling back',
      );
      now += 60_000;
      await type('/as U01SRE0001', '/incident ack');
      now += 120_000;
      await type('/incident note rollback finished on all pods', '/incident sev 1', '/incident role comms <@U0COMMS01>');
      now += 3_600_000 - 240_000;
      expect(await type('/incident resolve Rolled back v2.3')).toContain('INC-1 resolved after 1h 00m.');

      const incident = await app.incidents.get('INC-1');
      expect(incident).toMatchObject({ status: 'resolved', severity: 1, acknowledgedAt: T0 + 120_000, resolvedAt: T0 + 3_600_000 });
      expect(incident.roles).toEqual({ commander: 'U0LOCAL01', comms: 'U0COMMS01', scribe: null });

      const md = await app.exportFile('INC-1', 'md');
      const text = readFileSync(md, 'utf8');
      expect(text).toContain('| Time to acknowledge | 2m 00s |');
      expect(text).toContain('| Time to resolve | 1h 00m |');
      expect(text).toContain('| Declared | 2026-03-04T10:00:00.000Z by U0LOCAL01 |');
      const rows = text.split('\n').filter((l) => /^\| 2026-/.test(l));
      expect(rows).toEqual([
        '| 2026-03-04T10:00:00.000Z | 1 | U0LOCAL01 | console | declared "Checkout errors after deploy" (SEV2, service checkout) |',
        // Brackets are escaped so recorded text can never form a link; rendered, it reads [identified].
        '| 2026-03-04T10:01:00.000Z | 2 | U0LOCAL01 | console | status update \\[identified\\]: 5xx at 12%, rolling back |',
        '| 2026-03-04T10:02:00.000Z | 3 | U01SRE0001 | console | acknowledged |',
        '| 2026-03-04T10:04:00.000Z | 4 | U01SRE0001 | console | note: rollback finished on all pods |',
        '| 2026-03-04T10:04:00.000Z | 5 | U01SRE0001 | console | severity SEV2 → SEV1 |',
        '| 2026-03-04T10:04:00.000Z | 6 | U01SRE0001 | console | comms: <@U0COMMS01> |',
        '| 2026-03-04T11:00:00.000Z | 7 | U01SRE0001 | console | resolved: Rolled back v2.3 |',
      ]);
      expect(text).toContain(`last seq 7, last hash \`${(await app.store.audit.head()).hash}\``);

      // Repeated exports are byte-identical, in every format.
      for (const format of ['md', 'json', 'html'] as const) {
        const a = readFileSync(await app.exportFile('INC-1', format, path.join(dir, `a.${format}`)));
        const b = readFileSync(await app.exportFile('INC-1', format, path.join(dir, `b.${format}`)));
        expect(a.equals(b)).toBe(true);
      }

      const json = JSON.parse(readFileSync(path.join(dir, 'a.json'), 'utf8')) as {
        incident: Record<string, unknown>;
        events: Array<{ seq: number; time: string; actor: string; kind: string; hash: string }>;
        audit: { first_seq: number; last_seq: number; last_hash: string };
      };
      expect(json.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(json.events.map((e) => e.kind)).toEqual([
        'incident.declared',
        'incident.updated',
        'incident.acknowledged',
        'incident.note',
        'incident.severity_changed',
        'incident.role_assigned',
        'incident.resolved',
      ]);
      expect(json.incident).toMatchObject({ id: 'INC-1', time_to_acknowledge_ms: 120_000, time_to_resolve_ms: 3_600_000 });
      expect(json.audit).toEqual({ first_seq: 1, last_seq: 7, last_hash: json.events[6]!.hash });

      const html = readFileSync(path.join(dir, 'a.html'), 'utf8');
      expect(html).toMatch(/^<!DOCTYPE html>/);
      expect(html).not.toMatch(/<script|<link|src=/i);
      expect(await app.store.audit.verify()).toMatchObject({ ok: true, count: 7 });
    });

    it('keeps incidents apart: an export holds only its own events', async () => {
      await type('/incident declare First', '/channel general', '/incident declare Second', '/incident note only second');
      await type('/incident note only first incident=INC-1');
      const json = JSON.parse(readFileSync(await app.exportFile('INC-1', 'json'), 'utf8')) as { events: Array<{ seq: number }> };
      expect(json.events.map((e) => e.seq)).toEqual([1, 4]);
    });

    it('answers bad input with a clear message and changes nothing', async () => {
      await type('/incident declare Checkout errors');
      const before = await auditHead();
      const cases: Array<[string, RegExp]> = [
        ['/incident frobnicate', /✗ error: unknown subcommand "frobnicate"; try declare, update/],
        ['/incident declare Broken sev=7', /✗ error: severity must be 1, 2, 3 or 4 \(got "7"\)/],
        ['/incident note "unbalanced', /✗ error: unbalanced quote/],
        ['/incident note hi incident=INC-99', /✗ not found: INC-99 does not exist/],
        ['/incident note hi incident=banana', /✗ error: "banana" is not an incident id; use the form INC-7/],
        ['/incident update', /✗ error: the update text is missing/],
        ['/incident update fine status=panicking', /✗ error: status must be one of investigating, identified, monitoring/],
        ['/incident role boss <@U0X1>', /✗ error: role must be one of commander, comms, scribe/],
        ['/incident role comms alice', /✗ error: "alice" is not a Slack user/],
        ['/incident declare', /✗ error: the title \(what is broken\?\) is missing/],
        ['/incident note text with rate=5%', /✗ error: note: unknown option rate=/],
        ['/incident sev=2', /✗ error: say what to do first/],
        ['/incident sev 1 2', /✗ error: sev takes one number/],
        ['/pager on', /✗ error: unknown command \/pager/],
        ['hello?', /✗ error: type a slash command/],
      ];
      for (const [line, message] of cases) expect(await type(line), line).toMatch(message);
      await type('/channel general');
      expect(await type('/incident note floating')).toMatch(/✗ error: this is not an incident channel; add incident=INC-7/);
      expect(await auditHead()).toBe(before);
      expect(await app.store.outbox.depth()).toBe(0);
    });

    it('refuses state changes that make no sense, without recording them', async () => {
      await type('/incident declare Disk full', '/incident ack');
      expect(await type('/incident ack')).toMatch(/✗ conflict: INC-1 was already acknowledged/);
      expect(await type('/incident sev 3')).toMatch(/✗ conflict: INC-1 is already SEV3/);
      await type('/incident resolve');
      expect(await type('/incident resolve')).toMatch(/✗ conflict: INC-1 is resolved; it cannot be resolved again/);
      expect(await type('/incident update still bad')).toMatch(/✗ conflict: INC-1 is resolved/);
      expect(await type('/incident note postmortem scheduled')).toContain('Noted on INC-1.');
      expect(await auditHead()).toBe(4);
    });

    it('switches identity and channel, and validates both', async () => {
      expect(await type('/as U0DEV0001 S03DEVS,S02SUPPORT')).toBe('You are now U0DEV0001 in S03DEVS, S02SUPPORT.');
      expect(await type('/as bob')).toMatch(/✗ error: \/as takes a Slack user ID/);
      expect(await type('/as U0DEV0001 devs')).toMatch(/✗ error: devs is not a user-group ID/);
      await type('/incident declare Search slow');
      await type('/channel general');
      expect(await type('/channel INC-1')).toBe('You are in #inc-1-search-slow (INC-1: Search slow).');
      expect(await type('/incident timeline')).toMatch(
        /Timeline of INC-1 \(latest 1\):\n2026-03-04T10:00:00.000Z {2}#1 {2}<@U0DEV0001> {2}declared "Search slow"/,
      );
      expect(await type('/incident list')).toContain('INC-1  SEV3  investigating  #inc-1-search-slow  Search slow  (commander <@U0DEV0001>)');
    });

    it('hides a private incident from a console user who is not its member, as if it did not exist', async () => {
      await type('/as U0DEV0001 S03DEVS');
      expect(await type('/incident declare Payroll export leaks --private')).toContain('INC-1 declared');
      await type('/as U0SUP0001');
      expect(await type('/channel INC-1')).toBe('✗ not found: INC-1 does not exist');
      expect(await type('/channel INC-9')).toBe('✗ not found: INC-9 does not exist');
      // A channel name is any channel: the incident is not implied there, nor named in the prompt's answer.
      expect(await type('/channel inc-1-payroll-export-leaks')).toBe('You are in #inc-1-payroll-export-leaks.');
      expect(await type('/incident timeline')).toMatch(/✗ error: this is not an incident channel/);
      expect(await type('/incident list')).toBe('(only you) No open incidents.');
      // The declarer invites them; now they see it.
      await type('/as U0DEV0001 S03DEVS', '/channel INC-1');
      expect(await type('/incident invite <@U0SUP0001>')).toContain('<@U0SUP0001> is now a member of INC-1');
      await type('/as U0SUP0001');
      expect(await type('/channel INC-1')).toBe('You are in #inc-1-payroll-export-leaks (INC-1: Payroll export leaks).');
      expect(await type('/incident timeline')).toContain('invited <@U0SUP0001> as a member');
    });
  });
});
