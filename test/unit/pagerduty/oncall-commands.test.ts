// `/oncall [service]` against a stand-in pager: answers, service lookup, and what it says when PagerDuty cannot help.
import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/core/commands/command-context.js';
import { handleOncallCommand, NO_PAGER_TEXT } from '../../../src/core/commands/oncall-commands.js';
import type { OncallEntry, Pager, PagerService } from '../../../src/core/pager.js';
import { InputError, UnavailableError } from '../../../src/errors.js';

const ctx: CommandContext = { actor: { id: 'U0SRE0001', groups: [] }, source: 'slack', channelId: 'C0GENERAL' };

const EP_CHECKOUT = { id: 'PEP1', name: 'Checkout EP' };
const EP_SEARCH = { id: 'PEP2', name: 'Search EP' };
const SERVICES: PagerService[] = [
  { id: 'PSVC1', name: 'Checkout API', escalationPolicy: EP_CHECKOUT },
  { id: 'PSVC2', name: 'Checkout Worker', escalationPolicy: EP_CHECKOUT },
  { id: 'PSVC3', name: 'Search', escalationPolicy: EP_SEARCH },
  { id: 'PSVC4', name: 'Orphan', escalationPolicy: null },
];
const ONCALLS: OncallEntry[] = [
  { escalationPolicy: EP_CHECKOUT, level: 2, user: { id: 'PU2', name: 'Bob' }, schedule: null, until: null },
  { escalationPolicy: EP_CHECKOUT, level: 1, user: { id: 'PU1', name: 'Alice' }, schedule: 'Primary', until: '2026-05-01T17:00:00Z' },
  { escalationPolicy: EP_CHECKOUT, level: 1, user: { id: 'PU1', name: 'Alice' }, schedule: 'Primary', until: '2026-05-01T17:00:00Z' },
  { escalationPolicy: EP_SEARCH, level: 1, user: { id: 'PU3', name: 'Carol' }, schedule: 'Search primary', until: '2026-05-02T08:00:00Z' },
];

function fakePager(overrides: Partial<Pager> = {}): Pager & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async findServices(query) {
      asked.push(`services ${query}`);
      return SERVICES.filter((s) => s.name.toLowerCase().includes(query.toLowerCase()));
    },
    async oncalls(ids) {
      asked.push(`oncalls ${ids.join(',')}`);
      return ids.length === 0 ? ONCALLS : ONCALLS.filter((o) => ids.includes(o.escalationPolicy.id));
    },
    ...overrides,
  };
}

describe('/oncall', () => {
  it('without a token says it needs one and asks nothing', async () => {
    expect((await handleOncallCommand({ pager: null }, ctx, '')).text).toBe(NO_PAGER_TEXT);
    expect((await handleOncallCommand({ pager: null }, ctx, 'checkout')).text).toContain('PAGERDUTY_API_TOKEN');
  });

  it('for a service: finds it, asks only for its escalation policy, lists levels in order without repeats', async () => {
    const pager = fakePager();
    const reply = await handleOncallCommand({ pager }, ctx, '"Checkout API"');
    expect(reply.text).toBe(
      [
        'On call now for Checkout API (escalation policy Checkout EP):',
        '  Level 1: Alice (Primary, until 2026-05-01 17:00 UTC)',
        '  Level 2: Bob (always on call)',
      ].join('\n'),
    );
    expect(pager.asked).toEqual(['services Checkout API', 'oncalls PEP1']);
  });

  it('takes the only match, and asks back when several services match', async () => {
    expect((await handleOncallCommand({ pager: fakePager() }, ctx, 'sear')).text).toContain('On call now for Search');
    await expect(handleOncallCommand({ pager: fakePager() }, ctx, 'checkout')).rejects.toThrow(InputError);
    await expect(handleOncallCommand({ pager: fakePager() }, ctx, 'checkout')).rejects.toThrow(
      /2 PagerDuty services match "checkout": Checkout API, Checkout Worker/,
    );
    await expect(handleOncallCommand({ pager: fakePager() }, ctx, 'billing')).rejects.toThrow(/no PagerDuty service matches "billing"/);
    expect((await handleOncallCommand({ pager: fakePager() }, ctx, 'orphan')).text).toBe(
      'PagerDuty service Orphan has no escalation policy, so nobody is paged for it.',
    );
  });

  it('without a service: every escalation policy, by name, then level', async () => {
    const reply = await handleOncallCommand({ pager: fakePager() }, ctx, '');
    expect(reply.text).toBe(
      [
        'On call now, by escalation policy:',
        'Checkout EP:',
        '  Level 1: Alice (Primary, until 2026-05-01 17:00 UTC)',
        '  Level 2: Bob (always on call)',
        'Search EP:',
        '  Level 1: Carol (Search primary, until 2026-05-02 08:00 UTC)',
      ].join('\n'),
    );
  });

  it('passes one deadline signal to every call, and says clearly when PagerDuty is slow or down', async () => {
    const seen: Array<AbortSignal | undefined> = [];
    const deadline = new AbortController().signal;
    const pager = fakePager({
      async findServices(_q, signal) {
        seen.push(signal);
        return [SERVICES[2]!];
      },
      async oncalls(_ids, signal) {
        seen.push(signal);
        throw new UnavailableError('PagerDuty did not answer GET /oncalls within 2.5 s');
      },
    });
    const err = await handleOncallCommand({ pager, deadline: () => deadline }, ctx, 'search').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toBe('PagerDuty did not answer: PagerDuty did not answer GET /oncalls within 2.5 s. Try /oncall again in a moment.');
    expect(seen).toEqual([deadline, deadline]);
  });

  it('answers help, and refuses options it does not take', async () => {
    const help = await handleOncallCommand({ pager: null }, ctx, 'help');
    expect(help.text).toContain('/oncall [service] — who is on call now');
    await expect(handleOncallCommand({ pager: fakePager() }, ctx, 'level=1')).rejects.toThrow(/unknown option level=/);
  });
});
