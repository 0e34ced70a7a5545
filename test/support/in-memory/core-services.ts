// The core services (incidents, runs, PagerDuty inbox and processor) wired over the in-memory ports, with a fake step runner: no SQLite, no app.
import { createIncidentService } from '../../../src/core/incidents/incident-service.js';
import { createPagerdutyInbox } from '../../../src/core/pagerduty/pagerduty-inbox.js';
import { createPagerdutyProcessor } from '../../../src/core/pagerduty/pagerduty-processor.js';
import type { Policy } from '../../../src/core/policy/policy.js';
import type { Procedure } from '../../../src/core/procedures/procedure-schema.js';
import type { ProcessStepRequest, ProcessStepResult } from '../../../src/core/procedures/step-runner.js';
import { createRunService, type CatalogView } from '../../../src/core/runs/run-service.js';
import { memoryStore } from './memory-store.js';

export const AUDIT_KEY = 'a'.repeat(64);

/** A clock the test moves by hand. */
export function manualClock(start = Date.parse('2026-05-01T09:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** A step runner that runs nothing: it records each request and answers with `result`. */
export function fakeSteps(result: (request: ProcessStepRequest) => Partial<ProcessStepResult> = () => ({})) {
  const calls: ProcessStepRequest[] = [];
  const process = async (request: ProcessStepRequest): Promise<ProcessStepResult> => {
    calls.push(request);
    return {
      outcome: 'succeeded',
      exitCode: 0,
      signal: null,
      output: 'ok\n',
      chunks: [],
      truncatedBytes: 0,
      durationMs: 1,
      pid: 4242,
      ...result(request),
    };
  };
  return { calls, process };
}

export function coreServices(options: {
  policy: Policy;
  procedures?: Procedure[];
  steps?: ReturnType<typeof fakeSteps>;
  /** Told of every process group the services kill (none by default). */
  killGroup?: (pgid: number) => void;
}) {
  const clock = manualClock();
  const store = memoryStore({ auditKey: AUDIT_KEY, clock });
  const steps = options.steps ?? fakeSteps();
  const catalog: CatalogView = {
    policy: options.policy,
    policyHash: 'policy-hash-1',
    procedures: new Map((options.procedures ?? []).map((p) => [p.name, p])),
  };
  const errors: unknown[] = [];
  const incidents = createIncidentService({ uow: store.uow, audit: store.audit, incidents: store.incidents, outbox: store.outbox, clock });
  const runs = createRunService({
    uow: store.uow,
    audit: store.audit,
    runs: store.runs,
    outbox: store.outbox,
    clock,
    catalog: () => catalog,
    findIncident: async (id) => await store.incidents.get(id),
    secretEnv: {},
    programs: { digest: () => null },
    steps: {
      process: steps.process,
      http: async () => {
        throw new Error('no HTTP steps in these tests');
      },
    },
    pid: 1,
    isAlive: () => true,
    killGroup: options.killGroup ?? (() => undefined),
    onError: (err) => errors.push(err),
  });
  const findByPagerdutyId = async (id: string) => await store.incidents.byPagerdutyId(id);
  const inbox = createPagerdutyInbox({ uow: store.uow, audit: store.audit, events: store.pagerdutyEvents, findByPagerdutyId });
  const processor = createPagerdutyProcessor({
    uow: store.uow,
    audit: store.audit,
    events: store.pagerdutyEvents,
    incidents,
    findByPagerdutyId,
    runs,
    catalog: () => catalog,
    clock,
    onError: (err) => errors.push(err),
  });
  return { store, clock, steps, incidents, runs, inbox, processor, errors, kinds: () => store.auditRows().map((r) => r.kind) };
}
