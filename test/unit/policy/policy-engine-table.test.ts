// The engine against a hand-written table of expected decisions over one fixed policy.
import { describe, expect, it } from 'vitest';
import { decide, type PolicyRequest, type Subject } from '../../../src/core/policy/policy-engine.js';
import { policyFromYaml } from './build-policy.js';

const POLICY = policyFromYaml(`
version: 1
roles:
  sre:     { users: [U0SRE0001], groups: [S0SRE] }
  dev:     { groups: [S0DEV] }
  support: { users: [U0SUP0001], groups: [S0SUP] }
  lead:    { users: [U0LEAD001] }
  pd:      { pagerduty_services: ["Checkout*", PXYZ123] }
rules:
  - roles: ["*"]                                   # r0
    allow: [incident.declare, incident.update, incident.note, runbook.list]
  - roles: [support, dev, pd]                      # r1
    allow: [run, dry-run]
    procedures: ["diag-*"]
  - roles: [dev]                                   # r2
    allow: [run, dry-run]
    procedures: [restart-service]
    environments: [staging]
  - roles: [dev]                                   # r3
    allow: [run]
    procedures: [restart-service]
    environments: [prod]
    approval: { roles: [sre], count: 1 }
  - roles: [dev]                                   # r4
    allow: [run]
    procedures: ["deploy-*"]
    environments: [prod]
    approval: { roles: [sre, lead], count: 2, expires: 30m }
  - roles: ["*"]                                   # r5
    allow: [run]
    procedures: ["deploy-*"]
    environments: [prod]
    approval: { roles: [lead], count: 1, expires: 10m }
  - roles: [sre]                                   # r6
    allow: ["*"]
  - roles: [lead]                                  # r7
    allow: ["incident.*", approve]
  - roles: ["*"]                                   # r8
    deny: [run, dry-run]
    procedures: ["drop-*"]
    environments: [prod]
  - roles: [support]                               # r9
    deny: ["*"]
    channels: [C0PUBLIC]
  - roles: [support]                               # r10
    allow: [incident.ack]
    channels: ["C0INC*"]
  - roles: [dev]                                   # r11
    allow: [cancel]
    procedures: [restart-service]
  - roles: [sre]                                   # r12
    deny: [run]
    procedures: [nuke]
  - roles: [pd]                                    # r13
    allow: [incident.ack]
  - roles: [dev]                                   # r14
    allow: [run]
    procedures: ["drop-*"]
    approval: { roles: [sre], count: 1 }
`);

type Req = Omit<PolicyRequest, 'subject'>;

/** The requests of the table's columns, in order. */
const REQUESTS: Req[] = [
  { action: 'incident.declare' }, //                                              1
  { action: 'incident.ack' }, //                                                  2
  { action: 'incident.ack', channel: 'C0INC42' }, //                              3
  { action: 'incident.resolve' }, //                                              4
  { action: 'runbook.list', channel: 'C0PUBLIC' }, //                             5
  { action: 'run', procedure: 'diag-disk', environment: 'prod' }, //              6
  { action: 'dry-run', procedure: 'diag-dns', environment: 'staging' }, //        7
  { action: 'run', procedure: 'restart-service', environment: 'staging' }, //     8
  { action: 'run', procedure: 'restart-service', environment: 'prod' }, //        9
  { action: 'dry-run', procedure: 'restart-service', environment: 'prod' }, //    10
  { action: 'cancel', procedure: 'restart-service', environment: 'prod' }, //     11
  { action: 'run', procedure: 'deploy-api', environment: 'prod' }, //             12
  { action: 'run', procedure: 'deploy-api', environment: 'staging' }, //          13
  { action: 'run', procedure: 'drop-table', environment: 'prod' }, //             14
  { action: 'run', procedure: 'drop-table', environment: 'staging' }, //          15
  { action: 'dry-run', procedure: 'drop-table', environment: 'prod' }, //         16
  { action: 'approve', procedure: 'restart-service', environment: 'prod' }, //    17
  { action: 'run', procedure: 'nuke', environment: 'staging' }, //                18
  { action: 'run', procedure: 'diag-disk', environment: 'prod', channel: 'C0PUBLIC' }, // 19
  { action: 'incident.export' }, //                                               20
  { action: 'run', procedure: 'restart', environment: 'prod' }, //                21
  { action: 'run', procedure: 'diag', environment: 'prod' }, //                   22
];

/**
 * One row per subject: the expected effect for each request above, A = allow,
 * P = approval required, D = deny. Written by hand from the rules, column by column.
 */
const TABLE: Array<{ name: string; subject: Subject; expected: string }> = [
  // sre by user ID and by group: everything except the drop-* prod guardrail and nuke.
  { name: 'sre by user', subject: { userId: 'U0SRE0001', groups: [] }, expected: 'AAAAAAAAAAAAADADADAAAA' },
  { name: 'sre by group', subject: { userId: 'U0XYZ0001', groups: ['S0SRE'] }, expected: 'AAAAAAAAAAAAADADADAAAA' },
  { name: 'dev', subject: { userId: 'U0DEV0001', groups: ['S0DEV'] }, expected: 'ADDDAAAAPDAPDDPDDDADDD' },
  { name: 'support', subject: { userId: 'U0SUP0001', groups: [] }, expected: 'ADADDAADDDDPDDDDDDDDDD' },
  { name: 'lead', subject: { userId: 'U0LEAD001', groups: [] }, expected: 'AAAAADDDDDDPDDDDADDADD' },
  { name: 'no role', subject: { userId: 'U0NOBODY1', groups: ['S0OTHER'] }, expected: 'DDDDDDDDDDDDDDDDDDDDDD' },
  {
    name: 'PagerDuty service by name glob',
    subject: { userId: 'pagerduty:Checkout API', groups: [], pagerdutyService: 'Checkout API' },
    expected: 'AAADAAADDDDPDDDDDDADDD',
  },
  {
    name: 'PagerDuty service by ID',
    subject: { userId: 'pagerduty:PXYZ123', groups: [], pagerdutyService: 'PXYZ123' },
    expected: 'AAADAAADDDDPDDDDDDADDD',
  },
  {
    name: 'PagerDuty service no role covers',
    subject: { userId: 'pagerduty:Search', groups: [], pagerdutyService: 'Search' },
    expected: 'DDDDDDDDDDDDDDDDDDDDDD',
  },
  {
    name: 'PagerDuty service differing in case',
    subject: { userId: 'pagerduty:checkout api', groups: [], pagerdutyService: 'checkout api' },
    expected: 'DDDDDDDDDDDDDDDDDDDDDD',
  },
  {
    name: 'PagerDuty service with the glob text in the middle',
    subject: { userId: 'pagerduty:My Checkout', groups: [], pagerdutyService: 'My Checkout' },
    expected: 'DDDDDDDDDDDDDDDDDDDDDD',
  },
  { name: 'dev and support', subject: { userId: 'U0DEV0002', groups: ['S0DEV', 'S0SUP'] }, expected: 'ADADDAAAPDAPDDPDDDDDDD' },
  { name: 'lead and dev', subject: { userId: 'U0LEAD001', groups: ['S0DEV'] }, expected: 'AAAAAAAAPDAPDDPDADAADD' },
  {
    name: 'near-miss IDs hold no role',
    subject: { userId: 'U0SRE00011', groups: ['S0SR', 'S0SREX'] },
    expected: 'DDDDDDDDDDDDDDDDDDDDDD',
  },
  { name: 'sre and support', subject: { userId: 'U0SRE0001', groups: ['S0SUP'] }, expected: 'AAAADAAAAAAAADADADDAAA' },
];

const EFFECT = { A: 'allow', P: 'approval_required', D: 'deny' } as const;

const cases = TABLE.flatMap((row) => {
  expect(row.expected).toHaveLength(REQUESTS.length);
  return REQUESTS.map((req, i) => ({
    label: `${row.name}: ${req.action} ${req.procedure ?? ''} ${req.environment ?? ''} ${req.channel ?? ''}`.trim(),
    request: { subject: row.subject, ...req },
    effect: EFFECT[row.expected[i] as keyof typeof EFFECT],
  }));
});

describe('policy engine decision table', () => {
  it('holds at least 200 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
  });

  it.each(cases)('$label → $effect', ({ request, effect }) => {
    expect(decide(POLICY, request).effect).toBe(effect);
  });
});

describe('approval requirements in the table', () => {
  const dev = { userId: 'U0DEV0001', groups: ['S0DEV'] };
  const rows: Array<{ label: string; request: PolicyRequest; approval: { roles: string[]; count: number; expiresMs: number } }> = [
    {
      label: 'dev restart in prod: one sre, default 15m',
      request: { subject: dev, action: 'run', procedure: 'restart-service', environment: 'prod' },
      approval: { roles: ['sre'], count: 1, expiresMs: 15 * 60_000 },
    },
    {
      label: 'dev deploy in prod: the stricter of two rules (2 approvals) wins over 1',
      request: { subject: dev, action: 'run', procedure: 'deploy-api', environment: 'prod' },
      approval: { roles: ['lead', 'sre'], count: 2, expiresMs: 30 * 60_000 },
    },
    {
      label: 'dev drop in staging: approval rule without environments',
      request: { subject: dev, action: 'run', procedure: 'drop-table', environment: 'staging' },
      approval: { roles: ['sre'], count: 1, expiresMs: 15 * 60_000 },
    },
    {
      label: 'support deploy in prod: the "*" rule, one lead in 10m',
      request: { subject: { userId: 'U0SUP0001', groups: [] }, action: 'run', procedure: 'deploy-api', environment: 'prod' },
      approval: { roles: ['lead'], count: 1, expiresMs: 10 * 60_000 },
    },
  ];
  it.each(rows)('$label', ({ request, approval }) => {
    const d = decide(POLICY, request);
    expect(d.effect).toBe('approval_required');
    expect(d.approval).toEqual(approval);
  });

  it('gives no approval requirement with a plain allow or a deny', () => {
    expect(decide(POLICY, { subject: dev, action: 'run', procedure: 'restart-service', environment: 'staging' }).approval).toBeUndefined();
    expect(decide(POLICY, { subject: dev, action: 'run', procedure: 'drop-table', environment: 'prod' }).approval).toBeUndefined();
  });
});

describe('what a decision records', () => {
  it('lists every matching rule, by file and index, with its outcome, and marks the deciding ones', () => {
    const d = decide(POLICY, { subject: { userId: 'U0DEV0001', groups: ['S0DEV'] }, action: 'run', procedure: 'drop-table', environment: 'prod' });
    expect(d.effect).toBe('deny');
    expect(d.matched.map((m) => [m.source.file, m.source.index, m.outcome, m.decisive])).toEqual([
      ['test.yaml', 8, 'deny', true],
      ['test.yaml', 14, 'approval', false],
    ]);
    expect(d.reason).toContain('denied by test.yaml rules[8]');
  });

  it('names the subject roles, sorted', () => {
    expect(decide(POLICY, { subject: { userId: 'U0LEAD001', groups: ['S0SUP', 'S0DEV'] }, action: 'incident.note' }).roles).toEqual([
      'dev',
      'lead',
      'support',
    ]);
  });

  it('says when the subject holds no role', () => {
    const d = decide(POLICY, { subject: { userId: 'U0NOBODY1', groups: [] }, action: 'incident.declare' });
    expect(d).toMatchObject({ effect: 'deny', matched: [], roles: [] });
    expect(d.reason).toMatch(/holds no role/);
  });

  it('says default deny when roles are held but nothing allows', () => {
    const d = decide(POLICY, { subject: { userId: 'U0SUP0001', groups: [] }, action: 'incident.sev' });
    expect(d.effect).toBe('deny');
    expect(d.reason).toMatch(/default deny/);
  });

  it('marks plain allows as deciding over approval rules that also match', () => {
    const d = decide(POLICY, { subject: { userId: 'U0SRE0001', groups: [] }, action: 'run', procedure: 'deploy-api', environment: 'prod' });
    expect(d.effect).toBe('allow');
    expect(d.matched.filter((m) => m.decisive).map((m) => m.source.index)).toEqual([6]);
    expect(d.matched.find((m) => m.source.index === 5)?.outcome).toBe('approval');
  });
});
